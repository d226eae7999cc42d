import { Decimal } from 'decimal.js';
import { startOfDay } from '../../src/core/calendar.js';
import { majorToMinor } from '../../src/core/money.js';
import { between, chance, logUniform, type Random } from '../lib/random.js';
import { appsPerTenant, day, productByKey, products } from './config.js';

/**
 * One day of pay-as-you-go consumption per tenant, seeded, and the instruments that pay it:
 * coupons (some scoped to products, some expired or not yet valid, some ending during the day),
 * stored-value cards, cash (a promo credit) and cloud-marketplace balances.
 */

export const hourMs = 60 * 60 * 1000;
export const dayMs = 24 * hourMs;
export const at = (instant: Date, offsetMs: number): Date => new Date(instant.getTime() + offsetMs);

/** Ids the schema accepts (`cpn_` + 16 base-36 characters …), unique across the run. */
let idSequence = 0;
export const nextId = (prefix: 'cpn' | 'svc' | 'cmk' | 'ctr' | 'rec'): string =>
  `${prefix}_${(idSequence++).toString(36).padStart(16, '0')}`;

export type InstrumentKind = 'coupon' | 'stored_card' | 'cloud_marketplace';
export const issueSources = {
  coupon: 'coupon_issue',
  stored_card: 'stored_card_issue',
  cloud_marketplace: 'cloud_marketplace_top_up',
} as const;

export interface BenchInstrument {
  id: string;
  kind: InstrumentKind;
  amount: bigint;
  validFrom: Date | null;
  validTo: Date | null;
  productKeys: string[] | null;
  customerIdentifier: string | null;
  /** The issuing ledger transaction. */
  transactionId: string;
}

export interface Consumption {
  appId: string;
  billingKey: string;
  quantity: bigint;
}

export interface BenchTenant {
  id: string;
  timeZone: string;
  currency: string;
  createdAt: Date;
  dayStart: Date;
  dayEnd: Date;
  appIds: string[];
  /** The day's pay-as-you-go consumption, one row per (app, product), in settlement order. */
  consumption: Consumption[];
  instruments: BenchInstrument[];
  /** Promo credit into the cash balance, 0n for none. */
  cash: bigint;
  cashTransactionId: string;
  funding: 'none' | 'short' | 'covered';
}

const timeZones = [
  'Asia/Shanghai',
  'Asia/Shanghai',
  'Asia/Shanghai',
  'UTC',
  'Europe/Berlin',
  'America/New_York',
  'Asia/Tokyo',
  'America/Los_Angeles',
];
const currencies = ['CNY', 'CNY', 'CNY', 'CNY', 'CNY', 'CNY', 'CNY', 'CNY', 'USD', 'JPY'];

// Exact products of a count and a 10-decimal price, as settlement computes them.
const Exact = Decimal.clone({ precision: 60 });
export const originOf = (quantity: bigint, unitPrice: string) => new Exact(quantity.toString()).times(unitPrice);
export const payableOf = (quantity: bigint, unitPrice: string, currency: string): bigint =>
  majorToMinor(originOf(quantity, unitPrice).toFixed(), currency, Decimal.ROUND_HALF_UP);

/** A share of `total`, at least one minor unit. */
const share = (total: bigint, fraction: number): bigint => {
  // The random fraction becomes whole parts per million; the money itself stays bigint.
  const part = (total * BigInt(Math.floor(fraction * 1_000_000))) / 1_000_000n;
  return part > 0n ? part : 1n;
};

export const generateTenant = (random: Random, index: number): BenchTenant => {
  const id = `tnt_pg_${String(index).padStart(5, '0')}`;
  const timeZone = timeZones[index % timeZones.length]!;
  const currency = currencies[index % currencies.length]!;
  const dayStart = startOfDay(day, timeZone);
  const dayEnd = startOfDay(day.add({ days: 1 }), timeZone);
  const createdAt = at(dayStart, Math.floor(random() * 6 * hourMs));
  const appIds = Array.from({ length: appsPerTenant }, (_, a) => `app_pg_${String(index).padStart(5, '0')}_${a}`);
  // Sorted as settlement reads them (app, then billing key; the database collates C).
  const consumption = appIds.flatMap((appId) =>
    products.map(({ billingKey }) => ({ appId, billingKey, quantity: BigInt(logUniform(random, 1, 200_000)) })),
  );
  const bill = consumption.reduce(
    (sum, line) => sum + payableOf(line.quantity, productByKey.get(line.billingKey)!.unitPrice, currency),
    0n,
  );

  const roll = random();
  const funding: BenchTenant['funding'] = roll < 0.08 ? 'none' : roll < 0.35 ? 'short' : 'covered';
  const instruments: BenchInstrument[] = [];
  let cash = 0n;
  const instrument = (kind: InstrumentKind, amount: bigint, fields: Partial<BenchInstrument> = {}): void => {
    instruments.push({
      id: nextId(kind === 'coupon' ? 'cpn' : kind === 'stored_card' ? 'svc' : 'cmk'),
      kind,
      amount,
      validFrom: null,
      validTo: null,
      productKeys: null,
      customerIdentifier: null,
      transactionId: nextId('ctr'),
      ...fields,
    });
  };
  if (funding !== 'none') {
    // What the usable instruments hold together, against the day's bill.
    const target = share(bill, funding === 'short' ? 0.3 + random() * 0.6 : 1.1 + random() * 0.9);
    const usable: { kind: InstrumentKind | 'cash'; weight: number; fields: Partial<BenchInstrument> }[] = [];
    for (let c = between(random, 0, 2); c > 0; c -= 1) {
      const keys = products.map((p) => p.billingKey).filter(() => chance(random, 0.4));
      usable.push({
        kind: 'coupon',
        weight: random(),
        fields: {
          // Expiries spread out (some never), so the soonest-expiry order matters; some valid only
          // for part of the day, some scoped to a few products.
          validFrom: chance(random, 0.5) ? at(dayStart, -between(random, 1, 30) * dayMs) : null,
          validTo: chance(random, 0.15)
            ? at(dayStart, 6 * hourMs)
            : chance(random, 0.2)
              ? null
              : at(dayEnd, between(random, 1, 90) * dayMs),
          productKeys: chance(random, 0.4) && keys.length > 0 ? keys : null,
        },
      });
    }
    for (let c = chance(random, 0.6) ? between(random, 1, 2) : 0; c > 0; c -= 1) {
      usable.push({
        kind: 'stored_card',
        weight: random(),
        fields: chance(random, 0.5)
          ? {
              validFrom: at(dayStart, -between(random, 1, 60) * dayMs),
              validTo: at(dayEnd, between(random, 1, 365) * dayMs),
            }
          : {},
      });
    }
    if (chance(random, 0.5)) usable.push({ kind: 'cash', weight: random(), fields: {} });
    if (chance(random, 0.25)) {
      usable.push({ kind: 'cloud_marketplace', weight: random(), fields: { customerIdentifier: `mkt-${index}` } });
    }
    if (usable.length === 0) usable.push({ kind: 'cash', weight: 1, fields: {} });
    const totalWeight = usable.reduce((sum, u) => sum + u.weight, 0) || 1;
    for (const { kind, weight, fields } of usable) {
      const amount = share(target, weight / totalWeight);
      if (kind === 'cash') cash += amount;
      else instrument(kind, amount, fields);
    }
  }
  // Instruments that may not pay this day: expired before it, or valid only after it.
  if (chance(random, 0.2)) instrument('coupon', share(bill, 1), { validTo: at(dayStart, -dayMs) });
  if (chance(random, 0.1)) {
    instrument('stored_card', share(bill, 1), { validFrom: at(dayEnd, hourMs), validTo: at(dayEnd, 30 * dayMs) });
  }
  return {
    id,
    timeZone,
    currency,
    createdAt,
    dayStart,
    dayEnd,
    appIds,
    consumption,
    instruments,
    cash,
    cashTransactionId: nextId('ctr'),
    funding,
  };
};
