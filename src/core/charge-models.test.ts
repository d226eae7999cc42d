import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { halfUp } from '../testing/money-by-hand.js';
import {
  freeUnitsOf,
  priceUsage,
  roundedAmounts,
  tierProblem,
  type ChargeModel,
  type Tier,
  type TierInput,
} from './charge-models.js';

/*
 * The reference: each model worked out unit by unit, in integers. Prices are whole numbers of
 * 10^-10 major units (the most decimals a unit price may have); a line is rounded half-up to the
 * fen (10^8 of those) on its own. Nothing here shares code with the implementation.
 */

const scale = 10n ** 10n;
const perFen = 10n ** 8n;

/** A whole number of 10^-10 units as decimal text: 12_500_000_000n → "1.25". */
const priceText = (scaled: bigint): string => {
  const whole = scaled / scale;
  const fraction = (scaled % scale).toString().padStart(10, '0').replace(/0+$/, '');
  return fraction === '' ? whole.toString() : `${whole}.${fraction}`;
};

interface RefTier {
  upTo: bigint | null;
  price: bigint;
  flat: bigint | null;
}

interface RefCharge {
  billable: bigint;
  /** Each line's exact amount in 10^-10 units, in invoice order. */
  lines: bigint[];
}

const tierOfUnit = (tiers: RefTier[], unit: bigint): number =>
  tiers.findIndex((tier) => tier.upTo === null || unit <= tier.upTo);

const freeRef = (tiers: RefTier[]): bigint => {
  let free = 0n;
  for (const tier of tiers) {
    if (tier.price !== 0n || (tier.flat ?? 0n) !== 0n) break;
    if (tier.upTo === null) return 0n;
    free = tier.upTo;
  }
  return free;
};

const graduatedRef = (tiers: RefTier[], quantity: bigint): RefCharge => {
  const sums = tiers.map(() => 0n);
  const used = tiers.map(() => false);
  for (let unit = 1n; unit <= quantity; unit++) {
    const index = tierOfUnit(tiers, unit);
    sums[index]! += tiers[index]!.price;
    used[index] = true;
  }
  const lines: bigint[] = [];
  tiers.forEach((tier, index) => {
    if (!used[index]) return;
    lines.push(sums[index]!);
    if (tier.flat !== null) lines.push(tier.flat);
  });
  const free = freeRef(tiers);
  return { billable: quantity > free ? quantity - free : 0n, lines };
};

const volumeRef = (tiers: RefTier[], quantity: bigint): RefCharge => {
  if (quantity === 0n) return { billable: 0n, lines: [] };
  const tier = tiers[tierOfUnit(tiers, quantity)]!;
  let sum = 0n;
  for (let unit = 1n; unit <= quantity; unit++) sum += tier.price;
  const free = freeRef(tiers);
  return { billable: quantity > free ? quantity : 0n, lines: tier.flat === null ? [sum] : [sum, tier.flat] };
};

const packageRef = (included: bigint, size: bigint, price: bigint, quantity: bigint): RefCharge => {
  let over = 0n;
  let blocks = 0n;
  for (let unit = included + 1n; unit <= quantity; unit++) {
    if (over % size === 0n) blocks++;
    over++;
  }
  return { billable: over, lines: over === 0n ? [] : [blocks * price] };
};

const perUnitRef = (included: bigint, price: bigint, quantity: bigint): RefCharge => {
  let sum = 0n;
  let over = 0n;
  for (let unit = included + 1n; unit <= quantity; unit++) {
    sum += price;
    over++;
  }
  return { billable: over, lines: over === 0n ? [] : [sum] };
};

const toModelTiers = (tiers: RefTier[]): Tier[] =>
  tiers.map((tier) => ({
    upTo: tier.upTo,
    unitPrice: priceText(tier.price),
    flatFee: tier.flat === null ? null : priceText(tier.flat),
  }));

/** The implementation's answer against the reference's, line by line: exact, then rounded to the fen. */
const expectSame = (model: ChargeModel, quantity: bigint, reference: RefCharge) => {
  const charge = priceUsage(model, quantity);
  expect(charge.billableUnits).toBe(reference.billable);
  expect(charge.lines.map((line) => line.amount)).toEqual(reference.lines.map(priceText));
  expect(charge.amount).toBe(priceText(reference.lines.reduce((sum, amount) => sum + amount, 0n)));
  expect(roundedAmounts(charge.lines, 'CNY')).toEqual(reference.lines.map((amount) => halfUp(amount, perFen)));
};

/** Up to 10^13 tenth-nano units (1000 major) with every decimal position in play. */
const unitPrice = fc.oneof(fc.constant(0n), fc.bigInt({ min: 1n, max: 10n ** 13n }));
/** A flat fee is a whole number of fen. */
const flatFee = fc.option(
  fc.bigInt({ min: 0n, max: 100_000n }).map((fen) => fen * perFen),
  { nil: null },
);

/** 1–5 tiers, each 1–40 units wide, the last open. */
const tiersArb = fc
  .array(fc.record({ width: fc.bigInt({ min: 1n, max: 40n }), price: unitPrice, flat: flatFee }), {
    minLength: 1,
    maxLength: 5,
  })
  .map((raw) => {
    let upTo = 0n;
    return raw.map((tier, index): RefTier => {
      upTo += tier.width;
      return { upTo: index === raw.length - 1 ? null : upTo, price: tier.price, flat: tier.flat };
    });
  });

/** A quantity: anything up to past the last bound, or exactly at, one below or one above a bound. */
const quantityFor = (tiers: RefTier[]) => {
  const bounds = tiers.flatMap((tier) => (tier.upTo === null ? [] : [tier.upTo - 1n, tier.upTo, tier.upTo + 1n]));
  const top = tiers.reduce((max, tier) => (tier.upTo !== null && tier.upTo > max ? tier.upTo : max), 0n) + 60n;
  return fc.oneof(fc.bigInt({ min: 0n, max: top }), fc.constantFrom(0n, ...bounds));
};

const withQuantity = tiersArb.chain((tiers) => fc.tuple(fc.constant(tiers), quantityFor(tiers)));

describe('charge models against a unit-by-unit reference', () => {
  it('graduated: each unit at the price of its tier, a used tier’s flat fee once', () => {
    fc.assert(
      fc.property(withQuantity, ([tiers, quantity]) =>
        expectSame({ model: 'graduated', tiers: toModelTiers(tiers) }, quantity, graduatedRef(tiers, quantity)),
      ),
      { numRuns: 400 },
    );
  });

  it('volume: every unit at the price of the tier the total reaches', () => {
    fc.assert(
      fc.property(withQuantity, ([tiers, quantity]) =>
        expectSame({ model: 'volume', tiers: toModelTiers(tiers) }, quantity, volumeRef(tiers, quantity)),
      ),
      { numRuns: 400 },
    );
  });

  it('package: blocks after the included units, a partial block counted whole', () => {
    const arb = fc
      .record({ included: fc.bigInt({ min: 0n, max: 50n }), size: fc.bigInt({ min: 1n, max: 30n }), price: unitPrice })
      .chain((p) =>
        fc.tuple(
          fc.constant(p),
          fc.oneof(
            fc.bigInt({ min: 0n, max: p.included + 5n * p.size + 3n }),
            // The edges of a block: the last included unit, a block's first and last unit.
            fc.constantFrom(p.included, p.included + 1n, p.included + p.size, p.included + p.size + 1n),
          ),
        ),
      );
    fc.assert(
      fc.property(arb, ([{ included, size, price }, quantity]) =>
        expectSame(
          { model: 'package', includedUnits: included, packageSize: size, packagePrice: priceText(price) },
          quantity,
          packageRef(included, size, price, quantity),
        ),
      ),
      { numRuns: 400 },
    );
  });

  it('per_unit: the units above the included ones at the overage price', () => {
    const arb = fc.tuple(fc.bigInt({ min: 0n, max: 100n }), unitPrice, fc.bigInt({ min: 0n, max: 300n }));
    fc.assert(
      fc.property(arb, ([included, price, quantity]) =>
        expectSame(
          { model: 'per_unit', includedUnits: included, unitPrice: priceText(price) },
          quantity,
          perUnitRef(included, price, quantity),
        ),
      ),
      { numRuns: 300 },
    );
  });

  it('the free units are the leading free tiers, for both tier modes', () => {
    fc.assert(
      fc.property(tiersArb, (tiers) => {
        const model = toModelTiers(tiers);
        expect(freeUnitsOf({ model: 'graduated', tiers: model })).toBe(freeRef(tiers));
        expect(freeUnitsOf({ model: 'volume', tiers: model })).toBe(freeRef(tiers));
      }),
    );
  });
});

describe('charge models at the edges', () => {
  const tiers: Tier[] = [
    { upTo: 1000n, unitPrice: '0', flatFee: null },
    { upTo: 1_000_000n, unitPrice: '0.001', flatFee: '5' },
    { upTo: null, unitPrice: '0.0000001', flatFee: null },
  ];

  it('prices nothing for zero units in every model', () => {
    for (const model of [
      { model: 'graduated', tiers },
      { model: 'volume', tiers },
      { model: 'package', includedUnits: 0n, packageSize: 10n, packagePrice: '1' },
      { model: 'per_unit', includedUnits: 0n, unitPrice: '1' },
    ] satisfies ChargeModel[]) {
      expect(priceUsage(model, 0n)).toEqual({ billableUnits: 0n, lines: [], amount: '0' });
    }
  });

  it('graduated, 10^12 units: one line per tier, the flat fee on its own (worked by hand)', () => {
    const charge = priceUsage({ model: 'graduated', tiers }, 10n ** 12n);
    // 1,000 free; 999,000 × 0.001 = 999; flat 5; (10^12 − 10^6) × 0.0000001 = 99,999.9
    expect(charge).toEqual({
      billableUnits: 10n ** 12n - 1000n,
      lines: [
        { description: 'tier 1, units 1 to 1000', quantity: 1000n, unitPrice: '0', amount: '0' },
        { description: 'tier 2, units 1001 to 1000000', quantity: 999_000n, unitPrice: '0.001', amount: '999' },
        { description: 'tier 2 flat fee', quantity: 1n, unitPrice: '5', amount: '5' },
        {
          description: 'tier 3, units 1000001 to 1000000000000',
          quantity: 999_999_000_000n,
          unitPrice: '0.0000001',
          amount: '99999.9',
        },
      ],
      amount: '101003.9',
    });
    expect(roundedAmounts(charge.lines, 'CNY')).toEqual([0n, 99_900n, 500n, 9_999_990n]);
  });

  it('volume, 10^12 units: all at the open tier’s price', () => {
    const charge = priceUsage({ model: 'volume', tiers }, 10n ** 12n);
    expect(charge.billableUnits).toBe(10n ** 12n);
    expect(charge.lines).toEqual([
      {
        description: '1000000000000 used, all at tier 3 (above 1000000)',
        quantity: 10n ** 12n,
        unitPrice: '0.0000001',
        amount: '100000',
      },
    ]);
    expect(roundedAmounts(charge.lines, 'CNY')).toEqual([10_000_000n]);
  });

  it('volume at a tier’s top stays in that tier; one unit more moves every unit up', () => {
    expect(priceUsage({ model: 'volume', tiers }, 1000n)).toMatchObject({ billableUnits: 0n, amount: '0' });
    // 1,001 units all at 0.001 = 1.001, plus tier 2's flat fee of 5.
    expect(priceUsage({ model: 'volume', tiers }, 1001n)).toMatchObject({ billableUnits: 1001n, amount: '6.001' });
    expect(priceUsage({ model: 'volume', tiers }, 1_000_000n)).toMatchObject({ amount: '1005' });
    expect(priceUsage({ model: 'volume', tiers }, 1_000_001n)).toMatchObject({ amount: '0.1000001' });
  });

  it('package, 10^12 units: blocks rounded up', () => {
    const charge = priceUsage(
      { model: 'package', includedUnits: 999n, packageSize: 1000n, packagePrice: '0.35' },
      10n ** 12n,
    );
    // 999,999,999,001 over → 999,999,999 whole blocks and one of 1 unit = 10^9 blocks × 0.35.
    expect(charge.billableUnits).toBe(999_999_999_001n);
    expect(charge.lines).toEqual([
      {
        description: '1000000000000 used, 999 included, 999999999001 over: 1000000000 packages of 1000',
        quantity: 1_000_000_000n,
        unitPrice: '0.35',
        amount: '350000000',
      },
    ]);
  });

  it('per_unit keeps today’s line: quantity the overage, the description as before', () => {
    expect(priceUsage({ model: 'per_unit', includedUnits: 10_000n, unitPrice: '0.002' }, 25_000n)).toEqual({
      billableUnits: 15_000n,
      lines: [
        { description: '25000 used, 10000 included, 15000 over', quantity: 15_000n, unitPrice: '0.002', amount: '30' },
      ],
      amount: '30',
    });
  });
});

describe('tier checks', () => {
  const tier = (upTo: number | null): TierInput => ({ up_to: upTo, unit_price: '1' });

  it.each([
    ['tiers that cover every unit', [tier(10), tier(20), tier(null)], undefined],
    ['one open tier', [tier(null)], undefined],
    ['a first tier of no units', [tier(0), tier(null)], { index: 0, reason: 'must be at least 1' }],
    [
      'equal bounds',
      [tier(10), tier(10), tier(null)],
      { index: 1, reason: "must be above the previous tier's up_to (10)" },
    ],
    [
      'descending bounds',
      [tier(10), tier(5), tier(null)],
      { index: 1, reason: "must be above the previous tier's up_to (10)" },
    ],
    [
      'an open tier before the last',
      [tier(null), tier(10)],
      { index: 0, reason: 'only the last tier may be open (null)' },
    ],
    [
      'a bounded last tier (a gap above it)',
      [tier(10), tier(20)],
      { index: 1, reason: 'the last tier must be open (null): units above it would have no price' },
    ],
  ])('%s', (_label, tiers, problem) => {
    expect(tierProblem(tiers)).toEqual(problem === undefined ? undefined : { ...problem, field: 'up_to' });
  });
});
