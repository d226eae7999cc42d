import { Type, type Static } from 'typebox';
import { billingCycles } from '../../core/billing-calendar.js';
import { planIdPattern } from '../plans/schemas.js';
import { tenantIdPattern } from '../tenants/schemas.js';
import { paymentMethods } from './payment-providers.js';

export const TenantSubscriptionParams = Type.Object({
  tenant_id: Type.String({ pattern: tenantIdPattern, description: 'Tenant ID' }),
});

const billingCycle = Type.Enum([...billingCycles], { description: 'Billing cycle', examples: ['monthly'] });
const paymentMethod = Type.Enum(paymentMethods, {
  description:
    'How what the credit balance does not cover is paid: manual (an admin marks the invoice paid), ' +
    'sandbox_success or sandbox_decline (deterministic test outcomes)',
});

export const SubscribeBody = Type.Object(
  {
    plan_id: Type.String({ pattern: planIdPattern, examples: ['pro'] }),
    billing_cycle: billingCycle,
    trial: Type.Optional(
      Type.Boolean({
        description: "Start with the plan's trial; default: when the plan has one and the tenant never had one",
      }),
    ),
    auto_renew: Type.Optional(Type.Boolean({ default: true })),
    payment_method: Type.Optional(paymentMethod),
  },
  { additionalProperties: false },
);

export const ChangePlanBody = Type.Object(
  {
    plan_id: Type.String({ pattern: planIdPattern, examples: ['enterprise'] }),
    billing_cycle: Type.Optional(billingCycle),
  },
  { additionalProperties: false },
);

export const CancelBody = Type.Object(
  {
    at_period_end: Type.Optional(
      Type.Boolean({ default: true, description: 'false: end now, without refund of the unused part' }),
    ),
    reason: Type.Optional(Type.String({ minLength: 1, maxLength: 500 })),
  },
  { additionalProperties: false },
);

export const EmptyBody = Type.Object({}, { additionalProperties: false });

export const UpdateSubscriptionBody = Type.Object(
  {
    auto_renew: Type.Optional(Type.Boolean({ description: 'false: the subscription expires at period end' })),
    payment_method: Type.Optional(paymentMethod),
  },
  { additionalProperties: false, minProperties: 1 },
);

const instant = (example: string) => Type.Union([Type.String(), Type.Null()], { examples: [example] });

export const SubscriptionSchema = Type.Object(
  {
    id: Type.String({ examples: ['sub_xyz789'] }),
    admin_user_id: Type.String({ examples: ['usr_abc123'] }),
    amount: Type.Number({ examples: [499], description: 'Price per billing cycle, net of tax' }),
    auto_renew: Type.Boolean({ examples: [true] }),
    billing_cycle: Type.String({ examples: ['monthly'] }),
    cancel_at_period_end: Type.Boolean({ examples: [false] }),
    currency: Type.String({ examples: ['CNY'] }),
    current_period_end: Type.String({ examples: ['2026-02-01T00:00:00Z'] }),
    current_period_start: Type.String({ examples: ['2026-01-01T00:00:00Z'] }),
    grace_period_days: Type.Integer({ examples: [7] }),
    plan_id: Type.String({ examples: ['pro'] }),
    status: Type.String({
      examples: ['active'],
      description: 'trialing, active, past_due, suspended, canceled or expired',
    }),
    tenant_id: Type.String({ examples: ['tnt_xyz789'] }),
    trial_end_date: instant('2026-01-15T00:00:00Z'),
    plan_version: Type.Integer({ examples: [1], description: 'The plan version the subscription is billed at' }),
    payment_method: Type.String({ examples: ['manual'] }),
    scheduled_change: Type.Union(
      [
        Type.Object({
          plan_id: Type.String(),
          plan_version: Type.Integer(),
          billing_cycle: Type.String(),
          effective_at: Type.String(),
        }),
        Type.Null(),
      ],
      { description: 'A downgrade or cycle change waiting for the period end' },
    ),
    open_record_id: Type.Union([Type.String(), Type.Null()], { description: 'The unpaid invoice, when past due' }),
    past_due_since: instant('2026-02-01T00:00:00Z'),
    grace_ends_at: instant('2026-02-08T00:00:00Z'),
    next_payment_attempt_at: instant('2026-02-02T00:00:00Z'),
    ended_at: instant('2026-03-01T00:00:00Z'),
    created_at: Type.String({ examples: ['2026-01-01T00:00:00Z'] }),
    updated_at: Type.String({ examples: ['2026-01-01T00:00:00Z'] }),
  },
  { $id: 'SubscriptionResponse' },
);
export type SubscriptionView = Static<typeof SubscriptionSchema>;
