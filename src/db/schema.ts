import type { ColumnType, Generated } from 'kysely';

/** Timestamps are written as Date and always read back as Date on both drivers. */
type Timestamp = ColumnType<Date, Date, Date>;

export interface TenantsTable {
  id: string;
  name: string;
  currency: string;
  time_zone: string;
  /** numeric(7,6): decimal text, never a float. */
  tax_rate: string;
  admin_user_id: string;
  status: 'active' | 'suspended' | 'closed';
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface AppsTable {
  tenant_id: string;
  id: string;
  name: string;
  status: 'active' | 'disabled';
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface PlansTable {
  id: string;
  name: string;
  description: Generated<string>;
  status: 'active' | 'archived';
  current_version: number;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface PlanVersionsTable {
  plan_id: string;
  version: number;
  currency: string;
  monthly_price: bigint | null;
  yearly_price: bigint | null;
  trial_days: number;
  grace_period_days: number;
  downgrade_policy: 'at_period_end' | 'immediate';
  created_at: Timestamp;
}

export interface PlanVersionResourcesTable {
  plan_id: string;
  version: number;
  resource_type: string;
  included_units: bigint;
  overage_unit_price: string;
}

export interface ApiKeysTable {
  tenant_id: string;
  id: string;
  name: string;
  app_id: string | null;
  key_prefix: string;
  secret_hash: string;
  created_by: string;
  created_at: Timestamp;
  revoked_at: Timestamp | null;
  revoked_by: string | null;
}

export interface Database {
  tenants: TenantsTable;
  apps: AppsTable;
  plans: PlansTable;
  plan_versions: PlanVersionsTable;
  plan_version_resources: PlanVersionResourcesTable;
  api_keys: ApiKeysTable;
}
