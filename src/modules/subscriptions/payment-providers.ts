import type { PaymentMethod } from '../../db/schema.js';

export interface ChargeRequest {
  tenantId: string;
  recordId: string;
  /** Minor units still owed after the credit balance paid what it could. */
  amount: bigint;
  currency: string;
}

export type ChargeOutcome =
  | { status: 'succeeded'; reference: string }
  | { status: 'declined'; reason: string }
  /** Nothing to charge automatically: the invoice waits for an offline payment an admin records. */
  | { status: 'awaiting_payment' };

/** One interface for every way a tenant pays what the credit balance does not cover. */
export interface PaymentProvider {
  charge(request: ChargeRequest): Promise<ChargeOutcome>;
}

const manual: PaymentProvider = {
  charge: async () => ({ status: 'awaiting_payment' }),
};

/** Deterministic outcomes for demos and tests, like a card processor's test cards. */
const sandbox = (outcome: 'succeed' | 'decline'): PaymentProvider => ({
  charge: async ({ recordId }) =>
    outcome === 'succeed'
      ? { status: 'succeeded', reference: `sandbox_${recordId}` }
      : { status: 'declined', reason: 'card declined (sandbox)' },
});

const providers: Record<PaymentMethod, PaymentProvider> = {
  manual,
  sandbox_success: sandbox('succeed'),
  sandbox_decline: sandbox('decline'),
};

export const paymentMethods = Object.keys(providers) as PaymentMethod[];

export const providerFor = (method: PaymentMethod): PaymentProvider => providers[method];
