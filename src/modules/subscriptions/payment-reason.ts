import type { PaymentMethod } from '../../db/schema.js';

const paymentMethods: readonly PaymentMethod[] = ['manual', 'sandbox_success', 'sandbox_decline'];

/** The reason a record's move to paid carries when a payment provider collected it. */
export const paidByReason = (method: PaymentMethod, reference: string): string => `paid by ${method} (${reference})`;

/** The provider that collected a record, read back from its move to paid; undefined for any other payment. */
export const providerOfPaidReason = (reason: string | null): PaymentMethod | undefined => {
  const named = reason === null ? undefined : /^paid by ([a-z_]+) \(/.exec(reason)?.[1];
  return paymentMethods.find((method) => method === named);
};
