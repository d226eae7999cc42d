import { Decimal } from 'decimal.js';
import { majorToMinor, roundToBigInt } from './money.js';

export interface LinePricing {
  quantity: bigint;
  /** Major units per unit, exact decimal text ("0.001"). */
  unitPrice: string;
  /** Exact decimal text ("0.06"). */
  taxRate: string;
}

export interface LineAmounts {
  amount: bigint;
  taxAmount: bigint;
}

/**
 * A line's net amount and tax in minor units. Each is rounded half-up to the currency's minor
 * unit on its own line, so an invoice is the sum of what each line shows.
 */
export const priceLine = ({ quantity, unitPrice, taxRate }: LinePricing, currency: string): LineAmounts => {
  const amount = majorToMinor(new Decimal(quantity.toString()).times(unitPrice), currency, Decimal.ROUND_HALF_UP);
  const taxAmount = roundToBigInt(new Decimal(amount.toString()).times(taxRate), Decimal.ROUND_HALF_UP);
  return { amount, taxAmount };
};

export interface InvoiceTotals {
  amount: bigint;
  taxAmount: bigint;
  totalAmount: bigint;
}

export const sumLines = (lines: LineAmounts[]): InvoiceTotals => {
  const amount = lines.reduce((sum, line) => sum + line.amount, 0n);
  const taxAmount = lines.reduce((sum, line) => sum + line.taxAmount, 0n);
  return { amount, taxAmount, totalAmount: amount + taxAmount };
};

/** `INV-2026-001`: at least three digits, more when a year runs past 999 invoices. */
export const formatInvoiceNumber = (year: number, seq: number): string => `INV-${year}-${String(seq).padStart(3, '0')}`;
