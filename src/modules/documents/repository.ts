import { endOfDay, parseCalendarDate, startOfDay } from '../../core/calendar.js';
import type { TenantScope } from '../../core/principal.js';
import type { Db } from '../../db/database.js';
import type { PaymentMethod } from '../../db/schema.js';
import type { PaygDeductionRow, UsageSummaryRow } from './content.js';

/** The subscription period a record bills, with the subscription's payment method. */
export const subscriptionPeriodOf = (db: Db, scope: TenantScope, recordId: string) =>
  db
    .selectFrom('subscription_periods as p')
    .innerJoin('subscriptions as s', (join) =>
      join.onRef('s.tenant_id', '=', 'p.tenant_id').onRef('s.id', '=', 'p.subscription_id'),
    )
    .select(['p.period_start', 'p.period_end', 's.payment_method'])
    .where('p.tenant_id', '=', scope.tenantId)
    .where('p.record_id', '=', recordId)
    .executeTakeFirst() as Promise<{ period_start: Date; period_end: Date; payment_method: PaymentMethod } | undefined>;

/** The metered periods a usage record invoices, one row per resource. */
export const usageOf = async (db: Db, scope: TenantScope, recordId: string): Promise<UsageSummaryRow[]> => {
  const rows = await db
    .selectFrom('metered_billings')
    .select([
      'resource_type',
      'period_start',
      'period_end',
      'total_usage',
      'included_units',
      'overage_units',
      'overage_amount',
    ])
    .where('tenant_id', '=', scope.tenantId)
    .where('record_id', '=', recordId)
    .orderBy('resource_type')
    .orderBy('period_start')
    .execute();
  return rows.map((row) => ({
    resourceType: row.resource_type,
    periodStart: row.period_start,
    periodEnd: row.period_end,
    totalUsage: row.total_usage,
    includedUnits: row.included_units,
    overageUnits: row.overage_units,
    overageAmount: row.overage_amount,
  }));
};

/** The settled day a pay-as-you-go record bills, as a span in the tenant's time zone, and its lines. */
export const paygDayOf = async (
  db: Db,
  scope: TenantScope,
  recordId: string,
  timeZone: string,
): Promise<{ period: { start: Date; end: Date }; lines: PaygDeductionRow[] } | undefined> => {
  const settlement = await db
    .selectFrom('payg_settlements')
    .select('settled_day')
    .where('tenant_id', '=', scope.tenantId)
    .where('record_id', '=', recordId)
    .executeTakeFirst();
  const day = settlement === undefined ? null : parseCalendarDate(settlement.settled_day);
  if (settlement === undefined || day === null) return undefined;
  const lines = await db
    .selectFrom('payg_settlement_lines')
    .selectAll()
    .where('tenant_id', '=', scope.tenantId)
    .where('settled_day', '=', settlement.settled_day)
    .orderBy('app_id')
    .orderBy('billing_key')
    .execute();
  return {
    period: { start: startOfDay(day, timeZone), end: endOfDay(day, timeZone) },
    lines: lines.map((line) => ({
      settledDay: line.settled_day,
      appId: line.app_id,
      billingKey: line.billing_key,
      consumption: line.consumption,
      amount: line.billing_result,
      coupon: line.coupon_amount,
      storedCard: line.stored_card_amount,
      cash: line.cash_amount,
      marketplace: line.cloud_marketplace_amount,
      owed: line.owe_amount,
    })),
  };
};
