import { toRfc3339 } from '../../core/clock.js';
import { toMajorNumber } from '../../core/money.js';
import type { SubscriptionRow } from './repository.js';
import type { SubscriptionView } from './schemas.js';

const instant = (value: Date | null): string | null => (value === null ? null : toRfc3339(value));

export const toSubscriptionView = (sub: SubscriptionRow): SubscriptionView => ({
  id: sub.id,
  admin_user_id: sub.admin_user_id,
  amount: toMajorNumber(sub.amount, sub.currency),
  auto_renew: sub.auto_renew,
  billing_cycle: sub.billing_cycle,
  cancel_at_period_end: sub.cancel_at_period_end,
  currency: sub.currency,
  current_period_end: toRfc3339(sub.current_period_end),
  current_period_start: toRfc3339(sub.current_period_start),
  grace_period_days: sub.grace_period_days,
  plan_id: sub.plan_id,
  status: sub.status,
  tenant_id: sub.tenant_id,
  trial_end_date: instant(sub.trial_end_date),
  plan_version: sub.plan_version,
  payment_method: sub.payment_method,
  scheduled_change:
    sub.scheduled_plan_id === null || sub.scheduled_plan_version === null || sub.scheduled_billing_cycle === null
      ? null
      : {
          plan_id: sub.scheduled_plan_id,
          plan_version: sub.scheduled_plan_version,
          billing_cycle: sub.scheduled_billing_cycle,
          effective_at: toRfc3339(sub.current_period_end),
        },
  open_record_id: sub.open_record_id,
  past_due_since: instant(sub.past_due_since),
  grace_ends_at: instant(sub.grace_ends_at),
  next_payment_attempt_at: instant(sub.next_payment_attempt_at),
  ended_at: instant(sub.ended_at),
  created_at: toRfc3339(sub.created_at),
  updated_at: toRfc3339(sub.updated_at),
});
