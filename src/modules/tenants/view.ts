import { toRfc3339 } from '../../core/clock.js';
import type { TenantRow } from './repository.js';
import type { TenantView } from './schemas.js';

export const toTenantView = (row: TenantRow): TenantView => ({
  tenant_id: row.id,
  name: row.name,
  currency: row.currency,
  time_zone: row.time_zone,
  tax_rate: Number(row.tax_rate),
  payment_terms_days: row.payment_terms_days,
  admin_user_id: row.admin_user_id,
  status: row.status,
  created_at: toRfc3339(row.created_at),
  updated_at: toRfc3339(row.updated_at),
  test_clock_id: row.test_clock_id,
  billing_profile: {
    legal_name: row.billing_legal_name,
    address: row.billing_address,
    tax_id: row.billing_tax_id,
    email: row.billing_email,
  },
  locale: row.locale,
});
