import type { SubscriptionStatus } from '../../db/schema.js';
import type { EventType } from '../events/event-types.js';
import type { NewEvent } from '../events/record-event.js';
import type { SubscriptionRow } from './repository.js';
import { toSubscriptionView } from './view.js';

/** History kinds clients are told of by name; the rest (usage invoiced, a retry) only through a status change. */
const kindTypes: Partial<Record<string, EventType>> = {
  subscribed: 'subscription.created',
  trial_ended: 'subscription.trial_ended',
  renewed: 'subscription.renewed',
  upgraded: 'subscription.plan_changed',
  downgraded: 'subscription.plan_changed',
  plan_changed: 'subscription.plan_changed',
  change_scheduled: 'subscription.plan_change_scheduled',
  change_unscheduled: 'subscription.plan_change_scheduled',
  suspended: 'subscription.suspended',
  canceled: 'subscription.canceled',
  expired: 'subscription.expired',
  resumed: 'subscription.resumed',
  cancel_scheduled: 'subscription.cancel_scheduled',
  updated: 'subscription.updated',
};

/**
 * The events of one history entry of `sub` (as the change leaves it): the kind's own, then what the
 * status says besides (a renewal whose payment failed is also `past_due`; a paid invoice that
 * brings a past-due or suspended subscription back is `payment_recovered`).
 */
export const subscriptionEvents = (
  sub: SubscriptionRow,
  change: { kind: string; fromStatus: SubscriptionStatus | null; at: Date },
): NewEvent[] => {
  const { kind, fromStatus, at } = change;
  const types: EventType[] = [];
  const named = kindTypes[kind];
  if (named !== undefined) types.push(named);
  if (sub.status === 'past_due' && fromStatus !== 'past_due') types.push('subscription.past_due');
  if (sub.status === 'active' && (fromStatus === 'past_due' || fromStatus === 'suspended')) {
    types.push('subscription.payment_recovered');
  }
  const data = toSubscriptionView(sub);
  return types.map((type) => ({ type, at, data }));
};
