import type { BillingCycle } from '../../core/billing-calendar.js';
import type { Clock } from '../../core/clock.js';
import { AppError, notFound } from '../../core/errors.js';
import { priceLine } from '../../core/invoice-math.js';
import { toMajorText } from '../../core/money.js';
import { prorate, remainingSeconds } from '../../core/proration.js';
import { fail, ok, type Result } from '../../core/result.js';
import type { TenantRequest } from '../tenant-context.js';
import { findTenant } from '../tenants/repository.js';
import { collectLockedRecord } from './collect-payment.js';
import { issueSingleChargeInvoice, type SubscriptionContext } from './issue-invoice.js';
import { lockUpToDateSubscription } from './advance-subscription.js';
import { afterCollection } from './lifecycle.js';
import { termsForSale, type PlanTerms } from './plan-terms.js';
import type { SubscriptionPatch, SubscriptionRow } from './repository.js';
import { directWrites, type SubscriptionWrites } from './subscription-writes.js';
import { transition } from './transition.js';

export interface ChangePlanInput {
  plan_id: string;
  /** Default: the subscription's cycle. */
  billing_cycle?: BillingCycle | undefined;
}

const switchTo = (terms: PlanTerms) => ({
  plan_id: terms.plan.id,
  plan_version: terms.version.version,
  billing_cycle: terms.cycle,
  amount: terms.amount,
  grace_period_days: terms.version.grace_period_days,
  scheduled_plan_id: null,
  scheduled_plan_version: null,
  scheduled_billing_cycle: null,
});

const scheduleTo = (terms: PlanTerms) => ({
  scheduled_plan_id: terms.plan.id,
  scheduled_plan_version: terms.version.version,
  scheduled_billing_cycle: terms.cycle,
});

/**
 * Moves a trialing or active subscription to another plan (the plan's current version) or cycle.
 * - In a trial: at once, nothing charged.
 * - A cycle change (monthly ↔ yearly): at the end of the current period, when the next one is billed.
 * - An upgrade (a higher price per cycle): at once; the price difference for the rest of the
 *   period, to the second, is invoiced on a proration record and collected.
 * - A downgrade: as the new plan's downgrade policy says — at period end, or at once with the
 *   difference for the rest of the period (and its tax) credited to the credit balance.
 * - The same price: at once. Asking for the current terms drops a scheduled change.
 */
export const changePlan = async ({
  trx,
  clock,
  scope,
  input,
  actor,
  writes = directWrites,
}: TenantRequest<ChangePlanInput> & {
  /** Where the change's invoice, payment and credit go; straight to the database when absent (a preview watches them). */
  writes?: SubscriptionWrites | undefined;
}): Promise<Result<SubscriptionRow>> => {
  const tenant = await findTenant(trx, scope);
  if (tenant === undefined) return fail(notFound('tenant'));
  const sub = await lockUpToDateSubscription(trx, scope, clock.now());
  if (sub === undefined) return fail(notFound('live subscription'));
  if (sub.status !== 'trialing' && sub.status !== 'active') {
    return fail(
      new AppError('conflict', `the subscription is ${sub.status}: pay its open invoice before changing its plan`),
    );
  }
  const sold = await termsForSale(trx, tenant, input.plan_id, input.billing_cycle ?? sub.billing_cycle);
  if (!sold.ok) return sold;
  const terms = sold.value;
  const now = clock.now();
  // A change that charges nothing, written as it is.
  const apply = (patch: SubscriptionPatch, kind: string) =>
    transition({ trx, scope, sub, patch, event: { kind, actor }, at: now, writes });
  const unchanged =
    terms.plan.id === sub.plan_id && terms.version.version === sub.plan_version && terms.cycle === sub.billing_cycle;
  if (unchanged) {
    if (sub.scheduled_plan_id === null) {
      return fail(new AppError('conflict', `the subscription is already on ${sub.plan_id}, ${sub.billing_cycle}`));
    }
    return ok(await apply(switchTo(terms), 'change_unscheduled'));
  }
  if (sub.status === 'trialing') {
    return ok(await apply(switchTo(terms), 'plan_changed'));
  }
  if (terms.cycle !== sub.billing_cycle) {
    return ok(await apply(scheduleTo(terms), 'change_scheduled'));
  }
  const ctx = { trx, scope, tenant, actor, writes };
  if (terms.amount > sub.amount) return ok(await upgrade(ctx, clock, sub, terms));
  if (terms.amount < sub.amount) {
    if (terms.version.downgrade_policy === 'at_period_end') {
      return ok(await apply(scheduleTo(terms), 'change_scheduled'));
    }
    return downgradeNow(ctx, clock, sub, terms);
  }
  return ok(await apply(switchTo(terms), 'plan_changed'));
};

const prorationWindow = (sub: SubscriptionRow, at: Date) => ({
  periodStart: sub.current_period_start,
  periodEnd: sub.current_period_end,
  at,
});

const describeChange = (sub: SubscriptionRow, terms: PlanTerms, at: Date): string => {
  const { left, of } = remainingSeconds(prorationWindow(sub, at));
  return `${sub.plan_id} to ${terms.plan.id}, prorated for ${left} of ${of} seconds`;
};

const upgrade = async (
  ctx: SubscriptionContext,
  clock: Clock,
  sub: SubscriptionRow,
  terms: PlanTerms,
): Promise<SubscriptionRow> => {
  const { trx, scope, tenant, actor } = ctx;
  const now = clock.now();
  const charge = prorate(terms.amount - sub.amount, prorationWindow(sub, now));
  if (charge === 0n) {
    return transition({
      trx,
      scope,
      sub,
      patch: switchTo(terms),
      event: { kind: 'upgraded', actor },
      at: now,
      writes: ctx.writes,
    });
  }
  const description = `Upgrade from ${describeChange(sub, terms, now)}`;
  const record = await issueSingleChargeInvoice(ctx, clock, {
    type: 'proration',
    description,
    lineDescription: description,
    amount: charge,
  });
  const switched = { ...sub, ...switchTo(terms) };
  const recordId = record.id;
  const collected = await collectLockedRecord({ ctx, clock, sub: switched, record });
  return transition({
    trx,
    scope,
    sub,
    patch: {
      ...switchTo(terms),
      ...afterCollection({ sub: switched, paid: collected.paid, recordId, at: now, timeZone: tenant.time_zone }),
    },
    event: { kind: 'upgraded', actor, recordId, reason: collected.paid ? null : collected.reason },
    at: now,
    writes: ctx.writes,
  });
};

const downgradeNow = async (
  ctx: SubscriptionContext,
  clock: Clock,
  sub: SubscriptionRow,
  terms: PlanTerms,
): Promise<Result<SubscriptionRow>> => {
  const { trx, scope, tenant, actor, writes = directWrites } = ctx;
  const now = clock.now();
  const net = prorate(sub.amount - terms.amount, prorationWindow(sub, now));
  // What the tenant paid for the unused difference: the net amount and its tax, priced as an invoice line.
  const { amount, taxAmount } = priceLine(
    { quantity: 1n, unitPrice: toMajorText(net, tenant.currency), taxRate: tenant.tax_rate },
    tenant.currency,
  );
  if (amount + taxAmount > 0n) {
    const credited = await writes.postCredit(trx, clock, scope, {
      type: 'credit',
      amount: amount + taxAmount,
      source: 'proration',
      sourceId: sub.id,
      remark: `Plan downgrade prorated credit: ${describeChange(sub, terms, now)}`,
      currency: tenant.currency,
    });
    if (!credited.ok) return credited;
  }
  return ok(
    await transition({
      trx,
      scope,
      sub,
      patch: switchTo(terms),
      event: { kind: 'downgraded', actor },
      at: now,
      writes,
    }),
  );
};
