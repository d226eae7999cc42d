import { addCalendarDays } from '../../core/billing-calendar.js';
import type { SubscriptionRow } from './repository.js';

/** Days after a payment first failed on which it is tried again, while the grace period lasts. */
export const dunningRetryDays = [1, 3, 5] as const;

export type DueStepKind = 'usage_close' | 'trial_end' | 'payment_retry' | 'grace_expiry' | 'period_end';

export interface DueStep {
  kind: DueStepKind;
  at: Date;
}

type LifecycleFields = Pick<
  SubscriptionRow,
  'status' | 'current_period_end' | 'next_payment_attempt_at' | 'grace_ends_at' | 'metering_closes_at'
>;

/**
 * Everything the billing run will have to do for a subscription, earliest first. At the same
 * instant a metered period closes first, a last payment retry comes before the grace period
 * expires, and both before the period ends.
 */
export const pendingSteps = (sub: LifecycleFields): DueStep[] => {
  // A period's overage is invoiced once its late events are in, whatever became of the subscription.
  const steps: DueStep[] = sub.metering_closes_at === null ? [] : [{ kind: 'usage_close', at: sub.metering_closes_at }];
  switch (sub.status) {
    case 'trialing':
      steps.push({ kind: 'trial_end', at: sub.current_period_end });
      break;
    case 'active':
    case 'suspended':
      steps.push({ kind: 'period_end', at: sub.current_period_end });
      break;
    case 'past_due':
      if (sub.next_payment_attempt_at !== null) steps.push({ kind: 'payment_retry', at: sub.next_payment_attempt_at });
      if (sub.grace_ends_at !== null) steps.push({ kind: 'grace_expiry', at: sub.grace_ends_at });
      steps.push({ kind: 'period_end', at: sub.current_period_end });
      break;
    case 'canceled':
    case 'expired':
      break;
  }
  // Stable: equal instants keep the order above.
  return steps.sort((a, b) => a.at.getTime() - b.at.getTime());
};

/** The step due first at `asOf`, if any. */
export const dueStep = (sub: LifecycleFields, asOf: Date): DueStep | undefined => {
  const [first] = pendingSteps(sub);
  return first !== undefined && first.at <= asOf ? first : undefined;
};

/** When the billing run next has work for this subscription; null once it has ended. */
export const nextRunAt = (sub: LifecycleFields): Date | null => pendingSteps(sub)[0]?.at ?? null;

/**
 * Dunning after the first failed attempt at `since`: the grace period ends `graceDays` later, but
 * never after the current period (an unpaid period is not renewed), and retries fall before it.
 */
export const graceEnd = (since: Date, graceDays: number, periodEnd: Date, timeZone: string): Date => {
  const end = addCalendarDays(since, graceDays, timeZone);
  return end < periodEnd ? end : periodEnd;
};

/** The time of retry number `attempt` (1 = the first retry), or null when none is left before the grace end. */
export const retryAt = (since: Date, attempt: number, graceEndsAt: Date, timeZone: string): Date | null => {
  const days = dunningRetryDays[attempt - 1];
  if (days === undefined) return null;
  const at = addCalendarDays(since, days, timeZone);
  return at < graceEndsAt ? at : null;
};

type DunningFields = Pick<
  SubscriptionRow,
  'status' | 'grace_period_days' | 'current_period_end' | 'past_due_since' | 'grace_ends_at' | 'payment_attempts'
>;

/** A subscription's attempt to collect an invoice at `at` (in the tenant's time zone), and whether it was paid. */
export interface CollectionOutcome {
  sub: DunningFields;
  paid: boolean;
  recordId: string;
  at: Date;
  timeZone: string;
}

/** What a payment's outcome does to a subscription: paid clears dunning; unpaid starts it or schedules the next retry. */
export const afterCollection = ({ sub, paid, recordId, at, timeZone }: CollectionOutcome): Partial<SubscriptionRow> => {
  if (paid) {
    return {
      status: 'active',
      open_record_id: null,
      past_due_since: null,
      grace_ends_at: null,
      next_payment_attempt_at: null,
      payment_attempts: 0,
    };
  }
  if (sub.status === 'past_due' && sub.past_due_since !== null && sub.grace_ends_at !== null) {
    const attempts = sub.payment_attempts + 1;
    return {
      payment_attempts: attempts,
      next_payment_attempt_at: retryAt(sub.past_due_since, attempts, sub.grace_ends_at, timeZone),
    };
  }
  const graceEndsAt = graceEnd(at, sub.grace_period_days, sub.current_period_end, timeZone);
  return {
    status: 'past_due',
    open_record_id: recordId,
    past_due_since: at,
    grace_ends_at: graceEndsAt,
    payment_attempts: 1,
    next_payment_attempt_at: retryAt(at, 1, graceEndsAt, timeZone),
  };
};

/** What ending a subscription clears: it has no period to renew and no payment to chase. */
export const endedFields = (status: 'canceled' | 'expired', at: Date) => ({
  status,
  ended_at: at,
  cancel_at_period_end: false,
  scheduled_plan_id: null,
  scheduled_plan_version: null,
  scheduled_billing_cycle: null,
  next_payment_attempt_at: null,
  grace_ends_at: null,
  past_due_since: null,
});
