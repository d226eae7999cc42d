import type { Db } from '../../db/database.js';
import type { SubscriptionStatus } from '../../db/schema.js';
import type { TenantScope } from '../../core/principal.js';
import { nextRunAt } from './lifecycle.js';
import type { SubscriptionPatch, SubscriptionRow } from './repository.js';
import { directWrites, type SubscriptionWrites } from './subscription-writes.js';

export interface TransitionEvent {
  kind: string;
  actor: string;
  reason?: string | null;
  recordId?: string | null;
  /** The status before, when it is not the row's (null: the subscription is new). */
  fromStatus?: SubscriptionStatus | null;
}

/**
 * Writes a change to a locked subscription with the billing run's next due time recomputed, and
 * appends it to the subscription's history.
 */
export const transition = async (
  trx: Db,
  scope: TenantScope,
  sub: SubscriptionRow,
  patch: SubscriptionPatch,
  event: TransitionEvent,
  at: Date,
  writes: SubscriptionWrites = directWrites,
): Promise<SubscriptionRow> => {
  // The row as the update leaves it: `sub` is the locked row as read or last written.
  const merged = { ...sub, ...patch } as SubscriptionRow;
  return writes.updateSubscription(
    trx,
    scope,
    sub,
    { ...patch, next_run_at: nextRunAt(merged), updated_at: at },
    {
      subscription_id: sub.id,
      kind: event.kind,
      from_status: event.fromStatus === undefined ? sub.status : event.fromStatus,
      to_status: merged.status,
      plan_id: merged.plan_id,
      billing_cycle: merged.billing_cycle,
      record_id: event.recordId ?? null,
      actor: event.actor,
      reason: event.reason ?? null,
      occurred_at: at,
    },
  );
};
