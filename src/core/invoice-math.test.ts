import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatInvoiceNumber, priceLine, sumLines } from './invoice-math.js';

describe('invoice math', () => {
  it('prices the seed example: 1 × 99 CNY at 6% is 99 + 5.94', () => {
    expect(priceLine({ quantity: 1n, unitPrice: '99', taxRate: '0.06' }, 'CNY')).toEqual({
      amount: 9900n,
      taxAmount: 594n,
    });
  });

  it.each([
    // 3 × 0.005 = 0.015 CNY → 1.5 fen → 2 (half-up); tax 6% of 2 fen = 0.12 → 0
    {
      name: '3 × 0.005 CNY',
      line: { quantity: 3n, unitPrice: '0.005', taxRate: '0.06' },
      currency: 'CNY',
      amount: 2n,
      taxAmount: 0n,
    },
    // 1000 × 0.0125 = 12.5 JPY → 13; tax 10% = 1.3 → 1
    {
      name: '1000 × 0.0125 JPY',
      line: { quantity: 1000n, unitPrice: '0.0125', taxRate: '0.1' },
      currency: 'JPY',
      amount: 13n,
      taxAmount: 1n,
    },
    // 7 × 0.1235 BHD = 0.8645 → 865 fils (half-up of 864.5); tax 5% = 43.25 → 43
    {
      name: '7 × 0.1235 BHD',
      line: { quantity: 7n, unitPrice: '0.1235', taxRate: '0.05' },
      currency: 'BHD',
      amount: 865n,
      taxAmount: 43n,
    },
    // tax exactly at half: 250 fen × 0.06 = 15 → 15; 25 fen × 0.06 = 1.5 → 2
    {
      name: '0.25 CNY',
      line: { quantity: 1n, unitPrice: '0.25', taxRate: '0.06' },
      currency: 'CNY',
      amount: 25n,
      taxAmount: 2n,
    },
    {
      name: '0 × 12.34 CNY',
      line: { quantity: 0n, unitPrice: '12.34', taxRate: '0.06' },
      currency: 'CNY',
      amount: 0n,
      taxAmount: 0n,
    },
  ])('rounds $name half-up per line', ({ line, currency, amount, taxAmount }) => {
    expect(priceLine(line, currency)).toEqual({ amount, taxAmount });
  });

  it('stays exact far beyond float precision', () => {
    expect(
      priceLine({ quantity: 123456789012n, unitPrice: '0.0000000001' /* 12.3456789012 CNY */, taxRate: '0' }, 'CNY'),
    ).toEqual({
      amount: 1235n,
      taxAmount: 0n,
    });
    expect(priceLine({ quantity: 999999999999n, unitPrice: '999.99', taxRate: '0.13' }, 'CNY').amount).toBe(
      99998999999900001n,
    );
  });

  it('totals are the sums of the rounded lines', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            amount: fc.bigInt({ min: 0n, max: 10n ** 12n }),
            taxAmount: fc.bigInt({ min: 0n, max: 10n ** 11n }),
          }),
        ),
        (lines) => {
          const totals = sumLines(lines);
          expect(totals.totalAmount).toBe(totals.amount + totals.taxAmount);
          expect(totals.amount).toBe(lines.reduce((sum, line) => sum + line.amount, 0n));
        },
      ),
    );
  });

  it('formats invoice numbers with at least three digits', () => {
    expect(formatInvoiceNumber(2026, 1)).toBe('INV-2026-001');
    expect(formatInvoiceNumber(2026, 42)).toBe('INV-2026-042');
    expect(formatInvoiceNumber(2027, 1234)).toBe('INV-2027-1234');
  });
});
