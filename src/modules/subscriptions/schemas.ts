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

/** Money of invoices that would be issued, summed; each line as a billing record shows it. */
const invoicePreviewFields = {
  line_items: Type.Array(Type.Ref('InvoiceLineItemResponse'), {
    description: 'The lines the invoices would carry, in order, exactly as a billing record shows its lines',
  }),
  amount: Type.Number({ examples: [104.5], description: 'Net: the sum of the line amounts' }),
  tax_amount: Type.Number({ examples: [6.27], description: 'The sum of the line taxes (each line rounded half-up)' }),
  total_amount: Type.Number({ examples: [110.77], description: 'amount + tax_amount' }),
  credit_applied: Type.Number({
    examples: [10],
    description: 'What the credit balance would pay of it (invoices are paid from the balance first)',
  }),
  amount_due: Type.Number({
    examples: [100.77],
    description: "total_amount − credit_applied: what is left for the subscription's payment method",
  }),
};

export const UpcomingInvoiceSchema = Type.Object(
  {
    period_start: Type.String({ examples: ['2026-01-01T00:00:00Z'], description: 'The current period' }),
    period_end: Type.String({
      examples: ['2026-02-01T00:00:00Z'],
      description: 'The current period ends (and the invoice is issued) here',
    }),
    currency: Type.String({ examples: ['CNY'] }),
    ...invoicePreviewFields,
  },
  {
    $id: 'UpcomingInvoiceResponse',
    description:
      'What the end of the current period would invoice if usage stopped now, worked out by running the billing ' +
      'run and rolling it back: the next period’s fee (with a scheduled plan or cycle change; none when the ' +
      'subscription cancels or expires at period end, or is still unpaid then), then this period’s usage priced by ' +
      'the charge models, one line per tier used (none in a trial). Not included: open invoices, invoices due ' +
      'before the period ends, usage still to come.',
  },
);
export type UpcomingInvoiceView = Static<typeof UpcomingInvoiceSchema>;

export const PlanChangePreviewSchema = Type.Object(
  {
    effective: Type.Union([Type.Literal('immediately'), Type.Literal('at_period_end')], {
      description: 'immediately: the subscription moves now; at_period_end: the change is scheduled for the period end',
    }),
    subscription: Type.Ref('SubscriptionResponse', { description: 'The subscription as the change would leave it' }),
    invoice: Type.Union([Type.Object(invoicePreviewFields), Type.Null()], {
      description:
        'The proration invoice an upgrade would issue and collect at once (the price difference for the rest of ' +
        'the period, to the second); null when the change invoices nothing',
    }),
    credit: Type.Union(
      [
        Type.Object({
          amount: Type.Number({
            examples: [33.07],
            description: 'Credited to the credit balance: the unused difference for the rest of the period and its tax',
          }),
        }),
        Type.Null(),
      ],
      { description: 'What an immediate downgrade would credit to the balance; null otherwise' },
    ),
  },
  {
    $id: 'PlanChangePreviewResponse',
    description:
      'What POST …/change-plan would do with the same body now, worked out by running it and rolling it back',
  },
);
export type PlanChangePreviewView = Static<typeof PlanChangePreviewSchema>;
