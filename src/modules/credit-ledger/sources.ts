import type { LedgerTransactionType } from '../../db/schema.js';

/**
 * Why a tenant's credit balance moved, and the direction each reason allows. Each source is also
 * the tenant's counter-account for it: a promo credit moves value from `promo` to `cash`.
 */
export const creditSources = {
  promo: ['credit'],
  top_up: ['credit'],
  refund: ['credit'],
  proration: ['credit'],
  manual_adjust: ['credit', 'debit'],
  invoice_payment: ['debit'],
  payg_deduction: ['debit'],
  coupon_issue: ['credit'],
  stored_card_issue: ['credit'],
  cloud_marketplace_top_up: ['credit'],
} as const satisfies Record<string, readonly LedgerTransactionType[]>;

export type CreditSource = keyof typeof creditSources;

export const creditSourceNames = Object.keys(creditSources) as CreditSource[];

/** The tenant's own account: the "cash" of the detail list. */
export const tenantCreditAccount = 'cash';

export const counterAccountFor = (source: CreditSource): string => `source:${source}`;
