import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  instrumentOrder,
  planDeductions,
  usableInOrder,
  type Allocation,
  type PayingInstrument,
  type PayingInstrumentKind,
} from './payg-deduction.js';

const hour = 3_600_000;
const day = 24 * hour;
const origin = Date.parse('2026-01-01T00:00:00Z');
const productKeys = ['sms_verifications', 'voice_minutes', 'ocr_pages'] as const;

const at = (text: string): Date => new Date(text);

/** A day [start, end) counted from 2026-01-01T00:00Z. */
const dayWindow = (index: number): { dayStart: Date; dayEnd: Date } => ({
  dayStart: new Date(origin + index * day),
  dayEnd: new Date(origin + (index + 1) * day),
});

const instrument = (
  id: string,
  kind: PayingInstrumentKind,
  balance: bigint,
  options: { validFrom?: string; validTo?: string; productKeys?: string[] } = {},
): PayingInstrument => ({
  id,
  kind,
  balance,
  validFrom: options.validFrom === undefined ? null : at(options.validFrom),
  validTo: options.validTo === undefined ? null : at(options.validTo),
  productKeys: options.productKeys ?? null,
});

const cash = (balance: bigint): PayingInstrument => instrument('cash', 'cash', balance);

const paidBy = (allocations: Allocation[]): [string, bigint][] =>
  allocations.map((allocation) => [allocation.instrumentId, allocation.amount]);

/** What the rules say may pay a product on a day, written out independently of the code under test. */
const mayPay = (candidate: PayingInstrument, billingKey: string, dayStart: Date, dayEnd: Date): boolean =>
  (candidate.validFrom === null || candidate.validFrom.getTime() < dayEnd.getTime()) &&
  (candidate.validTo === null || candidate.validTo.getTime() > dayStart.getTime()) &&
  (candidate.productKeys === null || candidate.productKeys.includes(billingKey));

/** The deduction order of the rules: kind, then sooner expiry (none = last), then id. */
const precedes = (a: PayingInstrument, b: PayingInstrument): boolean => {
  const byKind = instrumentOrder.indexOf(a.kind) - instrumentOrder.indexOf(b.kind);
  if (byKind !== 0) return byKind < 0;
  const aExpiry = a.validTo?.getTime() ?? Infinity;
  const bExpiry = b.validTo?.getTime() ?? Infinity;
  if (aExpiry !== bExpiry) return aExpiry < bExpiry;
  return a.id < b.id;
};

// Hour offsets from 2026-01-01T00:00Z. Day boundaries are drawn often, so the edges (validity
// ending exactly at a day's start, starting exactly at its end) and equal expiries come up.
const hourOffset = fc.oneof(fc.constantFrom(-24, 0, 24, 48, 96, 240), fc.integer({ min: -48, max: 12 * 24 }));
const instantAt = (offset: number): Date => new Date(origin + offset * hour);

/** A validity window: each end absent or an instant, the end after the start. */
const validity = (expiryRequired: boolean) =>
  fc
    .record({
      from: fc.option(hourOffset, { nil: undefined }),
      to: expiryRequired ? hourOffset : fc.option(hourOffset, { nil: undefined }),
      length: fc.integer({ min: 1, max: 10 * 24 }),
    })
    .map(({ from, to, length }) => {
      // Keep the window non-empty as the API does (valid_to > valid_from).
      const validTo = to === undefined ? null : instantAt(from !== undefined && to <= from ? from + length : to);
      return { validFrom: from === undefined ? null : instantAt(from), validTo };
    });

const balance = fc.bigInt({ min: 0n, max: 2_000n });

const couponArbitrary = fc
  .record({
    balance,
    window: validity(true),
    scope: fc.option(fc.subarray([...productKeys], { minLength: 1 }), { nil: null }),
  })
  .map(({ balance: amount, window, scope }) => ({ kind: 'coupon' as const, balance: amount, ...window, scope }));

const storedCardArbitrary = fc
  .record({ balance, window: validity(false) })
  .map(({ balance: amount, window }) => ({ kind: 'stored_card' as const, balance: amount, ...window, scope: null }));

/**
 * A tenant's instruments: coupons and stored cards, cash, and at most one marketplace balance.
 * Ids are short random texts (ties in expiry are then broken by them); expiries are drawn from a
 * small range so ties happen.
 */
const instrumentsArbitrary = fc
  .record({
    coupons: fc.array(couponArbitrary, { maxLength: 5 }),
    storedCards: fc.array(storedCardArbitrary, { maxLength: 4 }),
    cash: balance,
    marketplace: fc.option(balance, { nil: undefined }),
    ids: fc.uniqueArray(fc.stringMatching(/^[a-z0-9]{1,6}$/), { minLength: 9, maxLength: 9 }),
  })
  .map(({ coupons, storedCards, cash: cashBalance, marketplace, ids }): PayingInstrument[] => [
    ...[...coupons, ...storedCards].map((drawn, index) => ({
      id: `${drawn.kind === 'coupon' ? 'cpn' : 'svc'}_${ids[index]}`,
      kind: drawn.kind,
      balance: drawn.balance,
      validFrom: drawn.validFrom,
      validTo: drawn.validTo,
      productKeys: drawn.scope,
    })),
    cash(cashBalance),
    ...(marketplace === undefined ? [] : [instrument('cmk_market', 'cloud_marketplace', marketplace)]),
  ]);

const chargesArbitrary = fc.array(
  fc.record({
    billingKey: fc.constantFrom(...productKeys),
    dayIndex: fc.integer({ min: 0, max: 9 }),
    payable: fc.bigInt({ min: 0n, max: 3_000n }),
  }),
  { minLength: 1, maxLength: 12 },
);

describe('usableInOrder and planDeductions over a settlement', () => {
  it('pays each line exactly, within balances, validity and scope, in the order of the rules', () => {
    fc.assert(
      fc.property(instrumentsArbitrary, chargesArbitrary, (instruments, charges) => {
        const issued = new Map(instruments.map((candidate) => [candidate.id, candidate.balance]));
        const spent = new Map<string, bigint>();
        for (const { billingKey, dayIndex, payable } of charges) {
          const { dayStart, dayEnd } = dayWindow(dayIndex);
          const before = new Map(instruments.map((candidate) => [candidate.id, candidate.balance]));
          const ordered = usableInOrder(instruments, billingKey, dayStart, dayEnd);

          // The usable list is exactly the instruments with money that may pay, in the rules' order.
          const expectedUsable = instruments
            .filter((candidate) => candidate.balance > 0n && mayPay(candidate, billingKey, dayStart, dayEnd))
            .sort((a, b) => (precedes(a, b) ? -1 : precedes(b, a) ? 1 : 0));
          expect(ordered.map((candidate) => candidate.id)).toEqual(expectedUsable.map((candidate) => candidate.id));

          const { allocations, owed } = planDeductions(payable, ordered);
          const deducted = allocations.reduce((sum, allocation) => sum + allocation.amount, 0n);
          expect(deducted + owed).toBe(payable);
          expect(owed >= 0n).toBe(true);
          expect(new Set(allocations.map((allocation) => allocation.instrumentId)).size).toBe(allocations.length);

          allocations.forEach((allocation, index) => {
            const payer = instruments.find((candidate) => candidate.id === allocation.instrumentId);
            expect(payer).toBeDefined();
            if (payer === undefined) return;
            expect(allocation.kind).toBe(payer.kind);
            expect(allocation.amount > 0n).toBe(true);
            expect(allocation.amount <= (before.get(payer.id) ?? 0n)).toBe(true);
            // Validity overlaps the day and the scope covers the product.
            expect(mayPay(payer, billingKey, dayStart, dayEnd)).toBe(true);
            // Allocations follow the order, and every one but the last empties its instrument.
            const next = allocations[index + 1];
            if (next !== undefined) {
              const nextPayer = instruments.find((candidate) => candidate.id === next.instrumentId);
              expect(nextPayer !== undefined && precedes(payer, nextPayer)).toBe(true);
              expect(allocation.amount).toBe(before.get(payer.id));
            }
          });

          // An instrument that could pay but was not used comes after every one that was, and
          // then nothing is owed: a later one is never used while an earlier one has money left.
          const used = new Set(allocations.map((allocation) => allocation.instrumentId));
          const lastPayer = instruments.find((candidate) => candidate.id === allocations.at(-1)?.instrumentId);
          for (const idle of expectedUsable.filter((candidate) => !used.has(candidate.id))) {
            expect(owed).toBe(0n);
            if (lastPayer !== undefined) expect(precedes(lastPayer, idle)).toBe(true);
          }
          if (owed > 0n) {
            for (const candidate of expectedUsable) {
              const paid = allocations.find((allocation) => allocation.instrumentId === candidate.id)?.amount;
              expect(paid).toBe(before.get(candidate.id));
            }
          }

          // As the settlement does: what was taken leaves the instrument's balance.
          for (const allocation of allocations) {
            const payer = instruments.find((candidate) => candidate.id === allocation.instrumentId);
            if (payer !== undefined) payer.balance -= allocation.amount;
            spent.set(allocation.instrumentId, (spent.get(allocation.instrumentId) ?? 0n) + allocation.amount);
          }
          for (const candidate of instruments) expect(candidate.balance >= 0n).toBe(true);
        }
        for (const candidate of instruments) {
          expect((spent.get(candidate.id) ?? 0n) + candidate.balance).toBe(issued.get(candidate.id));
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('usableInOrder', () => {
  const { dayStart, dayEnd } = dayWindow(9); // 2026-01-10 UTC

  it('puts coupons first, then stored cards, cash and the marketplace balance', () => {
    const instruments = [
      instrument('cmk_a', 'cloud_marketplace', 100n),
      cash(100n),
      instrument('svc_a', 'stored_card', 100n, { validTo: '2026-02-01T00:00:00Z' }),
      instrument('cpn_a', 'coupon', 100n, { validTo: '2026-12-01T00:00:00Z' }),
    ];
    expect(usableInOrder(instruments, 'sms_verifications', dayStart, dayEnd).map((usable) => usable.id)).toEqual([
      'cpn_a',
      'svc_a',
      'cash',
      'cmk_a',
    ]);
  });

  it('orders coupons and cards by expiry, soonest first, no expiry last, ties by id', () => {
    const instruments = [
      instrument('svc_never', 'stored_card', 10n),
      instrument('svc_b', 'stored_card', 10n, { validTo: '2026-03-01T00:00:00Z' }),
      instrument('svc_a', 'stored_card', 10n, { validTo: '2026-03-01T00:00:00Z' }),
      instrument('svc_soon', 'stored_card', 10n, { validTo: '2026-01-20T00:00:00Z' }),
      instrument('cpn_z', 'coupon', 10n, { validTo: '2026-01-15T00:00:00Z' }),
      instrument('cpn_a', 'coupon', 10n, { validTo: '2026-06-01T00:00:00Z' }),
    ];
    expect(usableInOrder(instruments, 'sms_verifications', dayStart, dayEnd).map((usable) => usable.id)).toEqual([
      'cpn_z',
      'cpn_a',
      'svc_soon',
      'svc_a',
      'svc_b',
      'svc_never',
    ]);
  });

  it('leaves out coupons for other products, empty instruments and those whose validity misses the day', () => {
    const instruments = [
      instrument('cpn_voice', 'coupon', 10n, { validTo: '2026-12-01T00:00:00Z', productKeys: ['voice_minutes'] }),
      instrument('cpn_sms', 'coupon', 10n, {
        validTo: '2026-12-01T00:00:00Z',
        productKeys: ['voice_minutes', 'sms_verifications'],
      }),
      instrument('cpn_empty', 'coupon', 0n, { validTo: '2026-12-01T00:00:00Z' }),
      // Ends exactly as the day starts: no overlap.
      instrument('cpn_ended', 'coupon', 10n, { validTo: '2026-01-10T00:00:00Z' }),
      // Ends a millisecond into the day: it overlaps.
      instrument('cpn_last_ms', 'coupon', 10n, { validTo: '2026-01-10T00:00:00.001Z' }),
      // Starts exactly as the day ends: no overlap.
      instrument('svc_future', 'stored_card', 10n, { validFrom: '2026-01-11T00:00:00Z' }),
      // Starts in the day's last millisecond: it overlaps.
      instrument('svc_late', 'stored_card', 10n, { validFrom: '2026-01-10T23:59:59.999Z' }),
      cash(0n),
    ];
    expect(usableInOrder(instruments, 'sms_verifications', dayStart, dayEnd).map((usable) => usable.id)).toEqual([
      'cpn_last_ms',
      'cpn_sms',
      'svc_late',
    ]);
  });
});

describe('planDeductions', () => {
  const ordered = [
    instrument('cpn_a', 'coupon', 100n, { validTo: '2026-12-01T00:00:00Z' }),
    instrument('svc_a', 'stored_card', 100n),
    cash(100n),
    instrument('cmk_a', 'cloud_marketplace', 100n),
  ];

  it('takes each instrument as far as its balance goes, in the order given', () => {
    const plan = planDeductions(350n, ordered);
    expect(paidBy(plan.allocations)).toEqual([
      ['cpn_a', 100n],
      ['svc_a', 100n],
      ['cash', 100n],
      ['cmk_a', 50n],
    ]);
    expect(plan.allocations.map((allocation) => allocation.kind)).toEqual([
      'coupon',
      'stored_card',
      'cash',
      'cloud_marketplace',
    ]);
    expect(plan.owed).toBe(0n);
  });

  it('owes what the instruments cannot pay', () => {
    const plan = planDeductions(401n, ordered);
    expect(plan.allocations.reduce((sum, allocation) => sum + allocation.amount, 0n)).toBe(400n);
    expect(plan.owed).toBe(1n);
    expect(planDeductions(75n, []).owed).toBe(75n);
  });

  it('stops at the first instrument that covers the rest', () => {
    expect(paidBy(planDeductions(60n, ordered).allocations)).toEqual([['cpn_a', 60n]]);
    expect(paidBy(planDeductions(100n, ordered).allocations)).toEqual([['cpn_a', 100n]]);
    expect(paidBy(planDeductions(101n, ordered).allocations)).toEqual([
      ['cpn_a', 100n],
      ['svc_a', 1n],
    ]);
  });

  it('deducts nothing from a nothing payable', () => {
    expect(planDeductions(0n, ordered)).toEqual({ allocations: [], owed: 0n });
  });
});
