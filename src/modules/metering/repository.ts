import { sql, type Insertable, type Selectable } from 'kysely';
import { jsonRows } from '../../db/json-rows.js';
import type { Db } from '../../db/database.js';
import type { MeteredBillingsTable } from '../../db/schema.js';
import type { TenantScope } from '../../core/principal.js';

export type NewMeteredBilling = Omit<Insertable<MeteredBillingsTable>, 'tenant_id'>;
export type MeteredBillingRow = Selectable<MeteredBillingsTable>;

/**
 * The pending metered periods of these subscriptions, oldest period first, then by resource type
 * (and rows of other subscriptions with the same ids under another of these tenants: callers match pairs).
 */
export const findPendingMetering = async (
  db: Db,
  subs: readonly { tenant_id: string; id: string }[],
): Promise<MeteredBillingRow[]> =>
  subs.length === 0
    ? []
    : db
        .selectFrom('metered_billings')
        .selectAll()
        .where('tenant_id', 'in', [...new Set(subs.map((sub) => sub.tenant_id))])
        .where(
          'subscription_id',
          'in',
          subs.map((sub) => sub.id),
        )
        .where('status', '=', 'pending')
        .orderBy('tenant_id')
        .orderBy('subscription_id')
        .orderBy('period_start')
        .orderBy('resource_type')
        .execute();

/** What a closed period billed for one resource type. */
export interface InvoicedMetering {
  periodStart: Date;
  resourceType: string;
  totalUsage: bigint;
  overageUnits: bigint;
  /** Exact decimal text. */
  overageAmount: string;
  recordId: string | null;
  at: Date;
}

export const insertMeteredBillings = async (
  db: Db,
  rows: readonly (NewMeteredBilling & { tenant_id: string })[],
): Promise<void> => {
  if (rows.length > 0) await db.insertInto('metered_billings').values(rows).execute();
};

/** Closed periods' rows, one per resource, with what was billed: one statement for all of them. */
export const markInvoiced = async (
  db: Db,
  items: readonly { scope: TenantScope; invoiced: InvoicedMetering }[],
): Promise<void> => {
  if (items.length === 0) return;
  const rows = items.map(({ scope, invoiced }) => ({
    tenant_id: scope.tenantId,
    resource_type: invoiced.resourceType,
    period_start: invoiced.periodStart,
    total_usage: invoiced.totalUsage,
    overage_units: invoiced.overageUnits,
    overage_amount: invoiced.overageAmount,
    record_id: invoiced.recordId,
    updated_at: invoiced.at,
  }));
  await sql`
    update metered_billings m
       set total_usage = v.total_usage, overage_units = v.overage_units, overage_amount = v.overage_amount,
           status = 'invoiced', record_id = v.record_id, updated_at = v.updated_at
      from jsonb_to_recordset(${jsonRows(rows)}::jsonb)
           as v (tenant_id text, resource_type text, period_start timestamptz, total_usage bigint,
                 overage_units bigint, overage_amount numeric, record_id text, updated_at timestamptz)
     where m.tenant_id = v.tenant_id and m.resource_type = v.resource_type and m.period_start = v.period_start`.execute(
    db,
  );
};
