/** Every event type, `<object>.<what happened>`; docs/events.md says what causes each and what its data is. */
export const eventTypes = [
  'billing_record.finalized',
  'billing_record.paid',
  'billing_record.payment_failed',
  'billing_record.refunded',
  'billing_record.overdue',
  'subscription.created',
  'subscription.trial_will_end',
  'subscription.trial_ended',
  'subscription.renewed',
  'subscription.plan_changed',
  'subscription.plan_change_scheduled',
  'subscription.past_due',
  'subscription.suspended',
  'subscription.canceled',
  'subscription.resumed',
  'subscription.expired',
  'subscription.cancel_scheduled',
  'subscription.updated',
  'subscription.payment_recovered',
  'credit_transaction.created',
  'usage_alert.triggered',
  'payg.day_settled',
  'compliance_export.completed',
  'tenant.updated',
  'webhook_endpoint.disabled',
] as const;

export type EventType = (typeof eventTypes)[number];

/** The objects events are about: `subscription.*` asks for all of one. */
export const eventObjects = [...new Set(eventTypes.map((type) => type.slice(0, type.indexOf('.'))))];
