import { Decimal } from 'decimal.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { billingCycles, periodBoundary } from './billing-calendar.js';
import { priceLine, sumLines } from './invoice-math.js';
import { toMajorText } from './money.js';
import { prorate, remainingSeconds, type ProrationWindow } from './proration.js';

const second = 1000;
const day = 86_400 * second;

const windowOf = (periodStart: string, periodEnd: string, at: string): ProrationWindow => ({
  periodStart: new Date(periodStart),
  periodEnd: new Date(periodEnd),
  at: new Date(at),
});

/** A window of `of` seconds with `left` of them remaining. */
const secondsWindow = (left: number, of: number): ProrationWindow => {
  const periodStart = new Date('2026-01-01T00:00:00Z');
  const periodEnd = new Date(periodStart.getTime() + of * second);
  return { periodStart, periodEnd, at: new Date(periodEnd.getTime() - left * second) };
};

/** A real billing period: boundaries n and n + 1 of a random anchor, cycle and zone. */
const billingPeriod = fc
  .record({
    anchor: fc.date({
      min: new Date('2000-01-01T00:00:00Z'),
      max: new Date('2099-12-31T00:00:00Z'),
      noInvalidDate: true,
    }),
    cycle: fc.constantFrom(...billingCycles),
    n: fc.integer({ min: 0, max: 24 }),
    timeZone: fc.constantFrom('UTC', 'Asia/Shanghai', 'America/New_York', 'Australia/Lord_Howe', 'Asia/Kolkata'),
  })
  .map(({ anchor, cycle, n, timeZone }) => ({
    periodStart: periodBoundary(anchor, cycle, n, timeZone),
    periodEnd: periodBoundary(anchor, cycle, n + 1, timeZone),
  }));

/** An instant in [start, end] as a fraction of the way; fast-check's doubles include 0 and 1 often. */
const instantAt = (periodStart: Date, periodEnd: Date, fraction: number): Date =>
  new Date(periodStart.getTime() + Math.floor(fraction * (periodEnd.getTime() - periodStart.getTime())));

const fraction = fc.double({ min: 0, max: 1, noNaN: true });

/** A per-cycle price difference in minor units: up to 10^10 (100 million CNY, 10 billion JPY). */
const difference = fc.bigInt({ min: 0n, max: 10n ** 10n });

describe('remainingSeconds', () => {
  it('counts whole seconds left and in the period', () => {
    expect(remainingSeconds(windowOf('2026-01-01T00:00:00Z', '2026-02-01T00:00:00Z', '2026-01-16T12:00:00Z'))).toEqual({
      left: 1_339_200n,
      of: 2_678_400n,
    });
    // 6.3 s left counts as 6.
    expect(
      remainingSeconds(windowOf('2026-01-01T00:00:00Z', '2026-01-01T00:00:10Z', '2026-01-01T00:00:03.700Z')),
    ).toEqual({ left: 6n, of: 10n });
  });

  it('refuses an empty period', () => {
    expect(() =>
      remainingSeconds(windowOf('2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')),
    ).toThrow(RangeError);
  });
});

describe('prorate', () => {
  it('prorates the documented example: 40 CNY for 1,296,000 of 2,678,400 s is 19.35', () => {
    // 4000 × 1,296,000 / 2,678,400 = 1935.48… fen
    expect(prorate(4000n, secondsWindow(1_296_000, 2_678_400))).toBe(1935n);
  });

  it.each([
    // [difference, seconds left, seconds in period, expected]
    [1n, 1, 2, 1n], // 0.5 → 1: half goes up
    [5n, 1, 2, 3n], // 2.5 → 3, not 2 (half-up, not half-even)
    [7n, 1, 2, 4n], // 3.5 → 4
    [1n, 1, 4, 0n], // 0.25 → 0
    [3n, 1, 4, 1n], // 0.75 → 1
    [9999n, 5000, 10_000, 5000n], // 4999.5 → 5000
    [9999n, 4999, 10_000, 4999n], // 4998.5001 → 4999
    [1n, 4999, 10_000, 0n], // 0.4999 → 0
  ])('rounds %d × %d / %d half-up to %d', (diff, left, of, expected) => {
    expect(prorate(diff, secondsWindow(left, of))).toBe(expected);
  });

  it('is exact far beyond float precision', () => {
    // (10^18 − 1) × 1/3 = 333333333333333333
    expect(prorate(10n ** 18n - 1n, secondsWindow(1, 3))).toBe(333_333_333_333_333_333n);
  });

  it('charges the whole difference at the period start and nothing at its end', () => {
    fc.assert(
      fc.property(billingPeriod, difference, ({ periodStart, periodEnd }, diff) => {
        expect(prorate(diff, { periodStart, periodEnd, at: periodStart })).toBe(diff);
        expect(prorate(diff, { periodStart, periodEnd, at: periodEnd })).toBe(0n);
      }),
      { numRuns: 200 },
    );
  });

  it('stays within [0, difference] and is the exact share rounded half-up', () => {
    fc.assert(
      fc.property(billingPeriod, difference, fraction, ({ periodStart, periodEnd }, diff, f) => {
        const window = { periodStart, periodEnd, at: instantAt(periodStart, periodEnd, f) };
        const result = prorate(diff, window);
        expect(result).toBeGreaterThanOrEqual(0n);
        expect(result).toBeLessThanOrEqual(diff);
        const { left, of } = remainingSeconds(window);
        const exact = new Decimal(diff.toString()).times(left.toString()).dividedBy(of.toString());
        expect(result.toString()).toBe(exact.toDecimalPlaces(0, Decimal.ROUND_HALF_UP).toFixed(0));
      }),
      { numRuns: 300 },
    );
  });

  it('never charges more for less time left', () => {
    fc.assert(
      fc.property(billingPeriod, difference, fraction, fraction, ({ periodStart, periodEnd }, diff, f1, f2) => {
        const [earlier, later] = [Math.min(f1, f2), Math.max(f1, f2)];
        const early = prorate(diff, { periodStart, periodEnd, at: instantAt(periodStart, periodEnd, earlier) });
        const late = prorate(diff, { periodStart, periodEnd, at: instantAt(periodStart, periodEnd, later) });
        expect(early).toBeGreaterThanOrEqual(late);
      }),
      { numRuns: 300 },
    );
  });

  it('refuses a negative difference', () => {
    expect(() => prorate(-1n, secondsWindow(1, 2))).toThrow(RangeError);
  });

  it('refuses a change after the period end or before its start', () => {
    fc.assert(
      fc.property(
        billingPeriod,
        fc.integer({ min: 1, max: 40 * day }),
        fc.boolean(),
        ({ periodStart, periodEnd }, outsideBy, after) => {
          const at = after ? new Date(periodEnd.getTime() + outsideBy) : new Date(periodStart.getTime() - outsideBy);
          expect(() => prorate(1000n, { periodStart, periodEnd, at })).toThrow(RangeError);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('refuses a change a fraction of a second before the period start', () => {
    // 1 ms early leaves 2,678,400.001 s, which floors to the whole period: still outside it.
    expect(() =>
      prorate(1000n, windowOf('2026-01-01T00:00:00Z', '2026-02-01T00:00:00Z', '2025-12-31T23:59:59.999Z')),
    ).toThrow(RangeError);
  });

  it('splits a period into pieces whose prorated shares sum to the whole within half a minor unit per piece', () => {
    fc.assert(
      fc.property(
        billingPeriod,
        difference,
        fc.uniqueArray(fraction, { minLength: 0, maxLength: 12 }),
        ({ periodStart, periodEnd }, diff, cutFractions) => {
          const { of } = remainingSeconds({ periodStart, periodEnd, at: periodStart });
          // Cut at whole seconds, as remainingSeconds counts them.
          const cuts = [...new Set(cutFractions.map((f) => BigInt(Math.floor(f * Number(of)))))]
            .filter((cut) => cut > 0n && cut < of)
            .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
          const edges = [0n, ...cuts, of];
          const pieces = edges.slice(1).map((edge, i) => edge - edges[i]!);
          // A piece of s seconds is worth what s seconds left at the end of the period are worth.
          const shares = pieces.map((seconds) =>
            prorate(diff, { periodStart, periodEnd, at: new Date(periodEnd.getTime() - Number(seconds) * second) }),
          );
          const total = shares.reduce((sum, share) => sum + share, 0n);
          const drift = total > diff ? total - diff : diff - total;
          // Each share is rounded once, by at most half a unit.
          expect(2n * drift).toBeLessThanOrEqual(BigInt(pieces.length));
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('upgrade then downgrade back', () => {
  const currencies = ['CNY', 'JPY', 'BHD'] as const;

  /** A tax rate as tenants store it: at most six decimals, in [0, 1). */
  const taxRate = fc.oneof(
    fc.constantFrom('0', '0.06', '0.13', '0.2', '0.5'),
    fc.integer({ min: 0, max: 999_999 }).map((millionths) => new Decimal(millionths).dividedBy(1_000_000).toFixed()),
  );

  /**
   * What change-plan.ts does: the upgrade invoices the prorated difference as one line
   * (1 × toMajorText(charge), tenant tax rate); the downgrade credits the prorated difference
   * priced the same way, net plus tax.
   */
  const priceProrated = (net: bigint, currency: string, rate: string) => {
    const line = priceLine({ quantity: 1n, unitPrice: toMajorText(net, currency), taxRate: rate }, currency);
    // The unit price round-trips exactly, so the line's net is the prorated amount itself.
    expect(line.amount).toBe(net);
    return line;
  };

  const scenario = fc.record({
    period: billingPeriod,
    currency: fc.constantFrom(...currencies),
    rate: taxRate,
    oldPrice: fc.bigInt({ min: 0n, max: 10n ** 9n }),
    increase: fc.bigInt({ min: 1n, max: 10n ** 9n }),
    upgradeFraction: fraction,
    laterFraction: fraction,
  });

  it('credits exactly what was charged when the downgrade is at the same instant', () => {
    fc.assert(
      fc.property(scenario, ({ period, currency, rate, oldPrice, increase, upgradeFraction }) => {
        const newPrice = oldPrice + increase;
        const window = { ...period, at: instantAt(period.periodStart, period.periodEnd, upgradeFraction) };
        // The upgrade's proration invoice: one line on the tenant's price difference.
        const invoice = sumLines([priceProrated(prorate(newPrice - oldPrice, window), currency, rate)]);
        // Downgrading back: the subscription now pays newPrice, the target plan costs oldPrice.
        const credit = priceProrated(prorate(newPrice - oldPrice, window), currency, rate);
        expect(credit.amount + credit.taxAmount).toBe(invoice.totalAmount);

        // Both are the exact share rounded half-up, plus its tax rounded half-up, worked out independently.
        const { left, of } = remainingSeconds(window);
        const net = new Decimal(increase.toString())
          .times(left.toString())
          .dividedBy(of.toString())
          .toDecimalPlaces(0, Decimal.ROUND_HALF_UP);
        const tax = net.times(rate).toDecimalPlaces(0, Decimal.ROUND_HALF_UP);
        expect(invoice.totalAmount.toString()).toBe(net.plus(tax).toFixed(0));
      }),
      { numRuns: 300 },
    );
  });

  it('credits less when the downgrade is later, by the time in between within one minor unit per line', () => {
    fc.assert(
      fc.property(scenario, ({ period, currency, rate, oldPrice, increase, upgradeFraction, laterFraction }) => {
        const newPrice = oldPrice + increase;
        const upgradeAt = instantAt(period.periodStart, period.periodEnd, upgradeFraction);
        const downgradeAt = instantAt(upgradeAt, period.periodEnd, laterFraction);
        const upgradeWindow = { ...period, at: upgradeAt };
        const downgradeWindow = { ...period, at: downgradeAt };
        const charged = priceProrated(prorate(newPrice - oldPrice, upgradeWindow), currency, rate);
        const credited = priceProrated(prorate(newPrice - oldPrice, downgradeWindow), currency, rate);

        // The tenant never gets back more than it paid.
        expect(credited.amount).toBeLessThanOrEqual(charged.amount);
        expect(credited.taxAmount).toBeLessThanOrEqual(charged.taxAmount);

        // The time on the dearer plan explains (new − old) × seconds used / seconds in the period, net.
        const upgradeLeft = remainingSeconds(upgradeWindow);
        const downgradeLeft = remainingSeconds(downgradeWindow);
        const explainedNet = new Decimal((newPrice - oldPrice).toString())
          .times((upgradeLeft.left - downgradeLeft.left).toString())
          .dividedBy(upgradeLeft.of.toString());
        const keptNet = new Decimal((charged.amount - credited.amount).toString());
        // Net: two amounts each rounded by at most ½ unit.
        expect(keptNet.minus(explainedNet).abs().toNumber()).toBeLessThan(1);
        // Tax: two taxes each rounded by at most ½ unit, on the net actually kept.
        const keptTax = new Decimal((charged.taxAmount - credited.taxAmount).toString());
        expect(keptTax.minus(keptNet.times(rate)).abs().toNumber()).toBeLessThan(1);
      }),
      { numRuns: 300 },
    );
  });
});
