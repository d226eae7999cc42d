import { Temporal } from 'temporal-polyfill';
import { calendarDateIn } from '../../core/billing-calendar.js';
import { startOfDay } from '../../core/calendar.js';
import { clockAt } from '../../core/clock.js';
import { priceLine } from '../../core/invoice-math.js';
import { chargeModelOf, priceUsage, type StoredCharge, type UsageCharge } from '../../core/charge-models.js';
import { directPlanLookup } from '../plans/plan-lookup.js';
import { lateEventWindowMs } from '../usage/usage-event.js';
import type { SubscriptionContext } from './issue-invoice.js';
import { writeRecord, type RecordLineInput } from '../billing-records/create-record.js';
import { collectLockedRecord } from './collect-payment.js';
import { afterCollection } from './lifecycle.js';
import type { SubscriptionPatch, SubscriptionRow } from './repository.js';
import { directWrites } from './subscription-writes.js';
import { directMeteringReads } from '../metering/metering-reads.js';

export interface MeteredPeriod {
  start: Date;
  end: Date;
}

/**
 * The whole days of usage a period bills, in the tenant's time zone: from the day it starts on
 * up to the day it ends on, which belongs to the next period — or, when none follows (the
 * subscription ended), to this one, so the last part-day is billed too.
 */
const daysOf = (period: MeteredPeriod, timeZone: string, final: boolean) => {
  const endDay = Temporal.PlainDate.from(calendarDateIn(period.end, timeZone));
  const endsAtMidnight = startOfDay(endDay, timeZone).getTime() === period.end.getTime();
  return {
    from: calendarDateIn(period.start, timeZone),
    until: (final && !endsAtMidnight ? endDay.add({ days: 1 }) : endDay).toString(),
  };
};

const lastDayBefore = (date: string): string => Temporal.PlainDate.from(date).subtract({ days: 1 }).toString();

const earliest = (a: Date | null, b: Date | null): Date | null => (a === null ? b : b === null ? a : a < b ? a : b);

/**
 * A paid period ended: its metered resources (as the plan version it ends on prices them) wait,
 * pending, for late events until the window after the period has passed. Returns the
 * subscription's next metering close.
 */
export const openMetering = async (
  { trx, scope, tenant, plans = directPlanLookup, writes = directWrites }: SubscriptionContext,
  sub: SubscriptionRow,
  period: MeteredPeriod & { final: boolean },
  at: Date,
): Promise<Date | null> => {
  const days = daysOf(period, tenant.time_zone, period.final);
  const resources = await plans.resources(trx, sub.plan_id, sub.plan_version);
  if (resources.length === 0) return sub.metering_closes_at;
  const closesAt = new Date(period.end.getTime() + lateEventWindowMs);
  await writes.insertMetered(
    trx,
    scope,
    resources.map((resource) => ({
      subscription_id: sub.id,
      resource_type: resource.resource_type,
      period_start: period.start,
      period_end: period.end,
      usage_from: days.from,
      usage_until: days.until,
      total_usage: 0n,
      // The charge model as the version has it: the period bills by this snapshot.
      charge_model: resource.charge_model,
      included_units: resource.included_units,
      overage_units: 0n,
      overage_unit_price: resource.overage_unit_price,
      tiers: resource.tiers === null ? null : JSON.stringify(resource.tiers),
      package_size: resource.package_size,
      package_price: resource.package_price,
      overage_amount: '0',
      status: 'pending' as const,
      closes_at: closesAt,
      record_id: null,
      created_at: at,
      updated_at: at,
    })),
  );
  return earliest(sub.metering_closes_at, closesAt);
};

/**
 * A period's usage priced by each resource's charge model, and the invoice lines of what it owes:
 * a resource with billable units gets one line per tier used (free ones too, so the bill reads
 * whole; a flat fee on its own line). What an invoice of usage is made of, wherever it is made.
 */
export const priceMeteredUsage = <Row extends StoredCharge & { resource_type: string }>(
  rows: readonly Row[],
  totals: ReadonlyMap<string, bigint>,
  taxRate: string,
): { metered: { row: Row; totalUsage: bigint; charge: UsageCharge }[]; lines: RecordLineInput[] } => {
  const metered = rows.map((row) => {
    const totalUsage = totals.get(row.resource_type) ?? 0n;
    return { row, totalUsage, charge: priceUsage(chargeModelOf(row), totalUsage) };
  });
  const lines = metered
    .filter(({ charge }) => charge.billableUnits > 0n)
    .flatMap(({ row, charge }) =>
      charge.lines.map((line) => ({
        description: `${row.resource_type}: ${line.description}`,
        resourceType: row.resource_type,
        quantity: line.quantity,
        unitPrice: line.unitPrice,
        taxRate,
      })),
    );
  return { metered, lines };
};

/**
 * Opens metering of the paid period that ends at `end` (now, or its natural end). Returns the
 * subscription's next metering close as a patch for the caller's transition to write (one update
 * of the subscription instead of two). `final`: no period follows it.
 */
export const meterEndedPeriod = async (
  ctx: SubscriptionContext,
  sub: SubscriptionRow,
  end: Date,
  final: boolean,
): Promise<Partial<Pick<SubscriptionRow, 'metering_closes_at'>>> => {
  if (sub.status === 'trialing' || end <= sub.current_period_start) return {};
  const closesAt = await openMetering(ctx, sub, { start: sub.current_period_start, end, final }, end);
  if (closesAt?.getTime() === sub.metering_closes_at?.getTime()) return {};
  return { metering_closes_at: closesAt };
};

/**
 * Closes every metered period whose late-event window is over at `at`: usage is totalled from
 * the daily rollups (late events included) and priced by each resource's charge model; what is
 * owed goes on one `usage` record per period, a line per resource type and tier used, and the record is collected like any invoice. An unpaid one makes an
 * active subscription past due.
 */
export const closeDueMetering = async (
  ctx: SubscriptionContext,
  sub: SubscriptionRow,
  at: Date,
): Promise<{ patch: SubscriptionPatch; recordId: string | null }> => {
  const { trx, scope, tenant, actor, writes = directWrites, metering = directMeteringReads } = ctx;
  const pending = await metering.pending(trx, scope, sub.id);
  const due = pending.filter((row) => row.closes_at <= at);
  let patch: SubscriptionPatch = {
    metering_closes_at: pending
      .filter((row) => row.closes_at > at)
      .reduce<Date | null>((next, row) => earliest(next, row.closes_at), null),
  };
  const clock = clockAt(at);
  let lastRecordId: string | null = null;
  const byPeriod = new Map<number, typeof due>();
  for (const row of due)
    byPeriod.set(row.period_start.getTime(), [...(byPeriod.get(row.period_start.getTime()) ?? []), row]);
  for (const rows of byPeriod.values()) {
    const [first] = rows;
    if (first === undefined) continue;
    const totals = await metering.usage(trx, scope, first.usage_from, first.usage_until);
    const { metered, lines } = priceMeteredUsage(rows, totals, tenant.tax_rate);
    // Usage worth less than half a minor unit on every line rounds to nothing: no invoice (and no number) for it.
    const owed = lines.some((line) => priceLine(line, tenant.currency).amount > 0n);
    let recordId: string | null = null;
    if (owed) {
      const written = await writeRecord({
        trx,
        clock,
        scope,
        draft: {
          appId: null,
          type: 'usage',
          description: `Usage overage ${first.usage_from} to ${lastDayBefore(first.usage_until)}`,
          currency: tenant.currency,
          lines,
          finalize: true,
          tenant,
        },
        actor,
        writes,
      });
      if (!written.ok) throw written.error;
      recordId = written.value.recordId;
      lastRecordId = recordId;
      const { record } = written.value;
      const collected = await collectLockedRecord({ ctx, clock, sub, record });
      if (!collected.paid && sub.status === 'active') {
        patch = { ...patch, ...afterCollection({ sub, paid: false, recordId, at, timeZone: tenant.time_zone }) };
      }
    }
    await writes.markInvoiced(
      trx,
      scope,
      metered.map(({ row, totalUsage, charge }) => ({
        periodStart: row.period_start,
        resourceType: row.resource_type,
        totalUsage,
        overageUnits: charge.billableUnits,
        overageAmount: charge.amount,
        recordId: charge.billableUnits > 0n ? recordId : null,
        at,
      })),
    );
  }
  return { patch, recordId: lastRecordId };
};
