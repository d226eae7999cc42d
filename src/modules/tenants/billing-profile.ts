import type { TenantRow } from './repository.js';
import type { BillingProfileInput } from './schemas.js';

type BillingColumns = Partial<
  Pick<TenantRow, 'billing_legal_name' | 'billing_address' | 'billing_tax_id' | 'billing_email'>
>;

const columnOf = {
  legal_name: 'billing_legal_name',
  address: 'billing_address',
  tax_id: 'billing_tax_id',
  email: 'billing_email',
} as const satisfies Record<keyof BillingProfileInput, keyof BillingColumns>;

/**
 * The columns a billing profile in a request sets: each field given (a value, or null to clear
 * it), and nothing for a field left out, so an update keeps it.
 */
export const billingProfileColumns = (profile: BillingProfileInput | undefined): BillingColumns => {
  const columns: BillingColumns = {};
  for (const [field, column] of Object.entries(columnOf) as [keyof BillingProfileInput, keyof BillingColumns][]) {
    const value = profile?.[field];
    if (value !== undefined) columns[column] = value;
  }
  return columns;
};
