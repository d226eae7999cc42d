import { AppError, notFound } from '../../core/errors.js';
import { fail, ok, type Result } from '../../core/result.js';
import type { TenantTransaction } from '../tenant-context.js';
import { lockUpToDateSubscription } from './advance-subscription.js';
import type { SubscriptionRow } from './repository.js';
import { transition } from './transition.js';

/** Takes back a cancellation at period end, any time before the period ends. */
export const resumeSubscription = async ({
  trx,
  clock,
  scope,
  actor,
}: TenantTransaction & { actor: string }): Promise<Result<SubscriptionRow>> => {
  const sub = await lockUpToDateSubscription(trx, scope, clock.now());
  if (sub === undefined) return fail(notFound('live subscription'));
  if (!sub.cancel_at_period_end) {
    return fail(new AppError('conflict', 'the subscription is not set to cancel at period end: nothing to resume'));
  }
  return ok(
    await transition({
      trx,
      scope,
      sub,
      patch: { cancel_at_period_end: false },
      event: { kind: 'resumed', actor },
      at: clock.now(),
    }),
  );
};
