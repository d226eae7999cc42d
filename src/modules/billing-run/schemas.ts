import { Type } from 'typebox';

export const BillingRunBody = Type.Object(
  {
    as_of: Type.Optional(
      Type.String({ format: 'date-time', description: 'RFC 3339; default now. Never in the future' }),
    ),
  },
  { additionalProperties: false },
);

export const BillingRunSchema = Type.Object({
  as_of: Type.String(),
  subscriptions: Type.Integer({ description: 'Subscriptions this run advanced' }),
  steps: Type.Object({
    usage_close: Type.Integer({ description: 'Metered periods closed and their overage invoiced' }),
    trial_end: Type.Integer(),
    period_end: Type.Integer(),
    payment_retry: Type.Integer(),
    grace_expiry: Type.Integer(),
  }),
  reminders: Type.Object(
    {
      trial_will_end: Type.Integer({ description: 'subscription.trial_will_end events this run wrote' }),
      overdue: Type.Integer({ description: 'billing_record.overdue events this run wrote' }),
    },
    { description: 'Reminders this run wrote (another runner or a request may have written others)' },
  ),
  failures: Type.Array(Type.Object({ tenant_id: Type.String(), subscription_id: Type.String(), error: Type.String() })),
});
