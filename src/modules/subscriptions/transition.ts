import type { DbTransaction } from '../../db/database.js';
import type { SubscriptionStatus } from '../../db/schema.js';
import type { TenantScope } from '../../core/principal.js';
import { nextRunAt } from './lifecycle.js';
import { subscriptionEvents } from './subscription-events.js';
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

/** A subscription locked in the caller's transaction (as read or last written), and where its writes go. */
export interface LockedSubscription {
  trx: DbTransaction;
  scope: TenantScope;
  sub: SubscriptionRow;
  /** Default: straight to the database. */
  writes?: SubscriptionWrites | undefined;
}

export interface Transition extends LockedSubscription {
  patch: SubscriptionPatch;
  event: TransitionEvent;
  at: Date;
}

/**
 * Writes a change to a locked subscription with the billing run's next due time recomputed,
 * appends it to the subscription's history, and records the billing events it means.
 */
export const transition = async ({
  trx,
  scope,
  sub,
  patch,
  event,
  at,
  writes = directWrites,
}: Transition): Promise<SubscriptionRow> => {
  // The row as the update leaves it.
  const merged = { ...sub, ...patch } as SubscriptionRow;
  const fromStatus = event.fromStatus === undefined ? sub.status : event.fromStatus;
  const updated = await writes.updateSubscription({
    trx,
    scope,
    sub,
    patch: { ...patch, next_run_at: nextRunAt(merged), updated_at: at },
    event: {
      subscription_id: sub.id,
      kind: event.kind,
      from_status: fromStatus,
      to_status: merged.status,
      plan_id: merged.plan_id,
      billing_cycle: merged.billing_cycle,
      record_id: event.recordId ?? null,
      actor: event.actor,
      reason: event.reason ?? null,
      occurred_at: at,
    },
  });
  await writes.recordEvents(trx, scope, subscriptionEvents(updated, { kind: event.kind, fromStatus, at }));
  return updated;
};
