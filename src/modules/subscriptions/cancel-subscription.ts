import type { Clock } from '../../core/clock.js';
import { notFound } from '../../core/errors.js';
import { fail, ok, type Result } from '../../core/result.js';
import type { Db } from '../../db/database.js';
import type { TenantScope } from '../auth/principal.js';
import { lockLiveSubscription, type SubscriptionRow } from './repository.js';
import { transition } from './transition.js';

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

/**
 * Cancels at the end of the current period (the default; the tenant keeps what it paid for) or at
 * once, without a refund of the unused part: an admin credits or refunds by hand where warranted.
 * An open invoice stays owed.
 */
export const cancelSubscription = async (
  trx: Db,
  clock: Clock,
  scope: TenantScope,
  atPeriodEnd: boolean,
  actor: string,
  reason: string | undefined,
): Promise<Result<SubscriptionRow>> => {
  const sub = await lockLiveSubscription(trx, scope);
  if (sub === undefined) return fail(notFound('live subscription'));
  const now = clock.now();
  const event = { kind: atPeriodEnd ? 'cancel_scheduled' : 'canceled', actor, reason: reason ?? null };
  if (atPeriodEnd) {
    if (sub.cancel_at_period_end) return ok(sub);
    return ok(await transition(trx, scope, sub, { cancel_at_period_end: true }, event, now));
  }
  return ok(await transition(trx, scope, sub, endedFields('canceled', now), event, now));
};
