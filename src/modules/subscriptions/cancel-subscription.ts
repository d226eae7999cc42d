import { notFound } from '../../core/errors.js';
import { fail, ok, type Result } from '../../core/result.js';
import type { TenantTransaction } from '../tenant-context.js';
import { lockUpToDateSubscription } from './advance-subscription.js';
import type { SubscriptionRow } from './repository.js';
import { findTenant } from '../tenants/repository.js';
import { endedFields } from './lifecycle.js';
import { meterEndedPeriod } from './meter-periods.js';
import { transition } from './transition.js';

export interface Cancellation extends TenantTransaction {
  atPeriodEnd: boolean;
  actor: string;
  reason?: string | undefined;
}

/**
 * Cancels at the end of the current period (the default; the tenant keeps what it paid for) or at
 * once, without a refund of the unused part: an admin credits or refunds by hand where warranted.
 * An open invoice stays owed.
 */
export const cancelSubscription = async ({
  trx,
  clock,
  scope,
  atPeriodEnd,
  actor,
  reason,
}: Cancellation): Promise<Result<SubscriptionRow>> => {
  const sub = await lockUpToDateSubscription(trx, scope, clock.now());
  if (sub === undefined) return fail(notFound('live subscription'));
  const now = clock.now();
  const event = { kind: atPeriodEnd ? 'cancel_scheduled' : 'canceled', actor, reason: reason ?? null };
  if (atPeriodEnd) {
    if (sub.cancel_at_period_end) return ok(sub);
    return ok(await transition({ trx, scope, sub, patch: { cancel_at_period_end: true }, event, at: now }));
  }
  const tenant = await findTenant(trx, scope);
  if (tenant === undefined) return fail(notFound('tenant'));
  // The part of the period used so far is metered like a whole period.
  const metering = await meterEndedPeriod({ trx, scope, tenant, actor }, sub, now, true);
  return ok(
    await transition({ trx, scope, sub, patch: { ...metering, ...endedFields('canceled', now) }, event, at: now }),
  );
};
