import { addCalendarDays, periodBoundary, type BillingCycle } from '../../core/billing-calendar.js';
import { AppError, invalidParameter, notFound } from '../../core/errors.js';
import { newId } from '../../core/ids.js';
import { fail, ok, type Result } from '../../core/result.js';
import type { PaymentMethod } from '../../db/schema.js';
import type { TenantRequest } from '../tenant-context.js';
import { findTenantForUpdate } from '../tenants/repository.js';
import { lockUpToDateSubscription } from './advance-subscription.js';
import { nextRunAt } from './lifecycle.js';
import { termsForSale } from './plan-terms.js';
import { recordEvents } from '../events/record-event.js';
import { subscriptionEvents } from './subscription-events.js';
import { appendSubscriptionEvent, hadTrial, insertSubscription, type SubscriptionRow } from './repository.js';
import { sendTrialReminderBatch, trialWillEndAt } from './send-trial-reminders.js';
import { startPaidPeriod } from './start-period.js';

export interface SubscribeInput {
  plan_id: string;
  billing_cycle: BillingCycle;
  /** Start with the plan's trial; default: when the plan has one and the tenant never had a trial. */
  trial?: boolean | undefined;
  auto_renew?: boolean | undefined;
  payment_method?: PaymentMethod | undefined;
}

/**
 * Subscribes a tenant with no live subscription: into the plan's trial (nothing charged until it
 * ends), or straight into a first paid period that is invoiced and collected at once.
 */
export const subscribe = async ({
  trx,
  clock,
  scope,
  input,
  actor,
}: TenantRequest<SubscribeInput>): Promise<Result<SubscriptionRow>> => {
  // The tenant row lock queues concurrent subscribes of one tenant, so the live check below holds.
  const tenant = await findTenantForUpdate(trx, scope);
  if (tenant === undefined) return fail(notFound('tenant'));
  if (tenant.status !== 'active') {
    return fail(new AppError('unprocessable', `tenant ${tenant.id} is ${tenant.status} and cannot subscribe`));
  }
  const live = await lockUpToDateSubscription(trx, scope, clock.now());
  if (live !== undefined) {
    return fail(
      new AppError(
        'conflict',
        `the tenant already has a ${live.status} subscription ${live.id}; change its plan instead`,
      ),
    );
  }
  const sold = await termsForSale(trx, tenant, input.plan_id, input.billing_cycle);
  if (!sold.ok) return sold;
  const terms = sold.value;
  const trialDays = terms.version.trial_days;
  const trialUsed = await hadTrial(trx, scope);
  if (input.trial === true && (trialDays === 0 || trialUsed)) {
    return fail(
      invalidParameter(
        'body',
        'trial',
        trialDays === 0 ? `plan ${terms.plan.id} has no trial` : 'the tenant has already had its trial',
      ),
    );
  }
  const withTrial = input.trial ?? (trialDays > 0 && !trialUsed);

  const now = clock.now();
  const trialEnd = withTrial ? addCalendarDays(now, trialDays, tenant.time_zone) : null;
  const base = {
    id: newId('subscription'),
    plan_id: terms.plan.id,
    plan_version: terms.version.version,
    admin_user_id: tenant.admin_user_id,
    status: 'trialing',
    billing_cycle: terms.cycle,
    amount: terms.amount,
    currency: tenant.currency,
    billing_anchor: trialEnd ?? now,
    period_index: -1,
    current_period_start: now,
    current_period_end: trialEnd ?? now,
    trial_end_date: trialEnd,
    trial_will_end_at: trialEnd === null ? null : trialWillEndAt(now, trialEnd, tenant.time_zone),
    grace_period_days: terms.version.grace_period_days,
    auto_renew: input.auto_renew ?? true,
    cancel_at_period_end: false,
    payment_method: input.payment_method ?? 'manual',
    scheduled_plan_id: null,
    scheduled_plan_version: null,
    scheduled_billing_cycle: null,
    open_record_id: null,
    past_due_since: null,
    grace_ends_at: null,
    next_payment_attempt_at: null,
    ended_at: null,
    metering_closes_at: null,
    created_at: now,
    updated_at: now,
  } as const;

  if (trialEnd !== null) {
    const sub = await insertSubscription(trx, scope, { ...base, next_run_at: nextRunAt(base) });
    await appendSubscriptionEvent(trx, scope, {
      subscription_id: sub.id,
      kind: 'subscribed',
      from_status: null,
      to_status: sub.status,
      plan_id: sub.plan_id,
      billing_cycle: sub.billing_cycle,
      actor,
      occurred_at: now,
    });
    await recordEvents(trx, scope, subscriptionEvents(sub, { kind: 'subscribed', fromStatus: null, at: now }));
    // A trial of three days or less is told at once that it will end, in this transaction.
    await sendTrialReminderBatch(trx, { asOf: now, limit: 1, tenantIds: [scope.tenantId] });
    return ok(sub);
  }
  // Written in its first period, then invoiced and collected through the path renewals take.
  const firstPeriodEnd = periodBoundary(now, terms.cycle, 1, tenant.time_zone);
  const sub = await insertSubscription(trx, scope, {
    ...base,
    status: 'active',
    period_index: 0,
    current_period_end: firstPeriodEnd,
    next_run_at: firstPeriodEnd,
  });
  const ctx = { trx, scope, tenant, actor };
  const event = { kind: 'subscribed', fromStatus: null };
  return ok(await startPaidPeriod({ ctx, sub, period: { terms, anchor: now, index: 0 }, event, at: now }));
};
