import { calendarDateIn, periodBoundary } from '../../core/billing-calendar.js';
import { clockAt } from '../../core/clock.js';
import { collectLockedRecord } from './collect-payment.js';
import { issueSingleChargeInvoice, type SubscriptionContext } from './issue-invoice.js';
import { afterCollection } from './lifecycle.js';
import { cycleLabel, type PlanTerms } from './plan-terms.js';
import type { SubscriptionPatch, SubscriptionRow } from './repository.js';
import { directWrites } from './subscription-writes.js';
import { transition, type TransitionEvent } from './transition.js';

export interface PaidPeriod {
  terms: PlanTerms;
  anchor: Date;
  /** Which period after the anchor: 0 is the one starting at the anchor. */
  index: number;
}

export interface PeriodStart {
  ctx: SubscriptionContext;
  sub: SubscriptionRow;
  period: PaidPeriod;
  event: Omit<TransitionEvent, 'actor'>;
  at: Date;
  /** Fields the caller changed on the way here, written with the same update. */
  carried?: Partial<Pick<SubscriptionRow, 'metering_closes_at'>>;
}

/**
 * Starts a paid period at `at`: the subscription moves to it (with any scheduled change applied
 * by the caller through `period.terms`), the period is invoiced once — the period table's key
 * refuses a second invoice — and collected. Everything is dated `at`.
 */
export const startPaidPeriod = async ({
  ctx,
  sub,
  period,
  event,
  at,
  carried = {},
}: PeriodStart): Promise<SubscriptionRow> => {
  const { trx, scope, tenant, actor, writes = directWrites } = ctx;
  const { terms, anchor, index } = period;
  const zone = tenant.time_zone;
  const start = periodBoundary(anchor, terms.cycle, index, zone);
  const end = periodBoundary(anchor, terms.cycle, index + 1, zone);
  const clock = clockAt(at);
  const description = `${terms.plan.name} ${cycleLabel(terms.cycle)} Subscription`;
  const record = await issueSingleChargeInvoice(ctx, clock, {
    type: 'subscription',
    description,
    lineDescription: `${description}, ${calendarDateIn(start, zone)} to ${calendarDateIn(end, zone)}`,
    amount: terms.amount,
  });
  const recordId = record.id;
  await writes.insertPeriod(trx, scope, {
    subscription_id: sub.id,
    period_start: start,
    period_end: end,
    plan_id: terms.plan.id,
    plan_version: terms.version.version,
    billing_cycle: terms.cycle,
    amount: terms.amount,
    record_id: recordId,
    created_at: at,
  });
  const periodPatch = {
    ...carried,
    status: 'active',
    plan_id: terms.plan.id,
    plan_version: terms.version.version,
    billing_cycle: terms.cycle,
    amount: terms.amount,
    grace_period_days: terms.version.grace_period_days,
    billing_anchor: anchor,
    period_index: index,
    current_period_start: start,
    current_period_end: end,
    scheduled_plan_id: null,
    scheduled_plan_version: null,
    scheduled_billing_cycle: null,
  } satisfies SubscriptionPatch;
  const inPeriod = { ...sub, ...periodPatch };
  const collected = await collectLockedRecord({ ctx, clock, sub: inPeriod, record });
  const dunning = afterCollection({ sub: inPeriod, paid: collected.paid, recordId, at, timeZone: zone });
  return transition({
    trx,
    scope,
    sub,
    patch: { ...periodPatch, ...dunning },
    event: { ...event, actor, recordId, reason: collected.paid ? (event.reason ?? null) : collected.reason },
    at,
    writes,
  });
};
