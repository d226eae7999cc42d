import type { Selectable } from 'kysely';
import { Temporal } from 'temporal-polyfill';
import { calendarDateIn } from '../../core/billing-calendar.js';
import type { Clock } from '../../core/clock.js';
import { notFound } from '../../core/errors.js';
import { chargeModelOf, priceUsage, type ChargeModelName, type StoredCharge } from '../../core/charge-models.js';
import { pageOffset, type PageRequest } from '../../core/pagination.js';
import { fail, ok, type Result } from '../../core/result.js';
import type { Db } from '../../db/database.js';
import type { SubscriptionsTable } from '../../db/schema.js';
import type { TenantScope } from '../../core/principal.js';
import { findPlanVersionResources } from '../plans/repository.js';
import { findTenant } from '../tenants/repository.js';
import { usageOverDays } from '../usage/repository.js';

export interface MeteredBilling {
  resourceType: string;
  periodStart: Date;
  periodEnd: Date;
  totalUsage: bigint;
  includedUnits: bigint;
  /** Billable units: above the free ones, or for volume pricing all of them once past them. */
  overageUnits: bigint;
  chargeModel: ChargeModelName;
  /** per_unit only. */
  overageUnitPrice: string | null;
  overageAmount: string;
  status: 'pending' | 'invoiced' | 'paid';
  recordId: string | null;
}

/** What the listing reads of the tenant's current subscription (or latest, when none is live). */
export type CurrentSubscriptionLookup = (
  db: Db,
  scope: TenantScope,
) => Promise<
  | Pick<
      Selectable<SubscriptionsTable>,
      'status' | 'plan_id' | 'plan_version' | 'current_period_start' | 'current_period_end'
    >
  | undefined
>;

export interface MeteringListing {
  db: Db;
  clock: Clock;
  scope: TenantScope;
  page: PageRequest;
  /** Subscriptions' lookup, given by the caller: subscriptions import metering, not the other way round. */
  findCurrentSubscription: CurrentSubscriptionLookup;
}

/** What the usage so far costs, as the listing shows it. */
const chargeSoFar = (
  stored: StoredCharge,
  totalUsage: bigint,
): Pick<MeteredBilling, 'overageUnits' | 'overageAmount'> => {
  const charge = priceUsage(chargeModelOf(stored), totalUsage);
  return { overageUnits: charge.billableUnits, overageAmount: charge.amount };
};

/** The current paid period, metered up to now: what it would bill if it ended today. */
const currentPeriod = async (
  { db, clock, scope, findCurrentSubscription }: MeteringListing,
  timeZone: string,
): Promise<MeteredBilling[]> => {
  const sub = await findCurrentSubscription(db, scope);
  if (sub === undefined || !['active', 'past_due', 'suspended'].includes(sub.status)) return [];
  const resources = await findPlanVersionResources(db, sub.plan_id, sub.plan_version);
  if (resources.length === 0) return [];
  // Through today: the day after it is the exclusive end.
  const tomorrow = Temporal.PlainDate.from(calendarDateIn(clock.now(), timeZone)).add({ days: 1 });
  const totals = await usageOverDays({
    db,
    scope,
    from: calendarDateIn(sub.current_period_start, timeZone),
    until: tomorrow.toString(),
  });
  return resources.map((resource) => {
    const totalUsage = totals.get(resource.resource_type) ?? 0n;
    return {
      resourceType: resource.resource_type,
      periodStart: sub.current_period_start,
      periodEnd: sub.current_period_end,
      totalUsage,
      includedUnits: resource.included_units,
      chargeModel: resource.charge_model,
      overageUnitPrice: resource.overage_unit_price,
      ...chargeSoFar(resource, totalUsage),
      status: 'pending',
      recordId: null,
    };
  });
};

/**
 * The tenant's metered billing per resource type and period, newest period first: the current
 * period as metered so far, then every ended period (pending in its late-event window, then
 * invoiced, then paid once its record is — or at once when there was nothing to bill).
 */
export const listMeteredBillings = async (
  listing: MeteringListing,
): Promise<Result<{ rows: MeteredBilling[]; total: number }>> => {
  const { db, scope, page } = listing;
  const tenant = await findTenant(db, scope);
  if (tenant === undefined) return fail(notFound('tenant'));
  const stored = await db
    .selectFrom('metered_billings as m')
    .leftJoin('billing_records as r', (join) =>
      join.onRef('r.tenant_id', '=', 'm.tenant_id').onRef('r.id', '=', 'm.record_id'),
    )
    .selectAll('m')
    .select('r.status as record_status')
    .where('m.tenant_id', '=', scope.tenantId)
    .orderBy('m.period_start', 'desc')
    .orderBy('m.resource_type')
    .execute();
  // A period still in its late-event window shows its usage so far, like the current one.
  const usageSoFar = new Map<string, Map<string, bigint>>();
  for (const row of stored.filter((stored) => stored.status === 'pending')) {
    const key = `${row.usage_from}/${row.usage_until}`;
    if (!usageSoFar.has(key)) {
      usageSoFar.set(key, await usageOverDays({ db, scope, from: row.usage_from, until: row.usage_until }));
    }
  }
  const rows: MeteredBilling[] = [
    ...(await currentPeriod(listing, tenant.time_zone)),
    ...stored.map((row) => {
      const pendingTotals = usageSoFar.get(`${row.usage_from}/${row.usage_until}`);
      const totalUsage = row.status === 'pending' ? (pendingTotals?.get(row.resource_type) ?? 0n) : row.total_usage;
      return {
        resourceType: row.resource_type,
        periodStart: row.period_start,
        periodEnd: row.period_end,
        totalUsage,
        includedUnits: row.included_units,
        chargeModel: row.charge_model,
        overageUnitPrice: row.overage_unit_price,
        ...(row.status === 'pending'
          ? chargeSoFar(row, totalUsage)
          : { overageUnits: row.overage_units, overageAmount: row.overage_amount }),
        status:
          row.status === 'pending'
            ? ('pending' as const)
            : row.record_id === null || row.record_status === 'paid'
              ? ('paid' as const)
              : ('invoiced' as const),
        recordId: row.record_id,
      };
    }),
  ];
  const offset = pageOffset(page);
  return ok({ rows: rows.slice(offset, offset + page.page_size), total: rows.length });
};
