import { Decimal } from 'decimal.js';
import { priceLine } from './invoice-math.js';
import { overageOf } from './overage.js';

// Enough significant digits for any whole-unit count times a 10-decimal price, never rounded.
const Exact = Decimal.clone({ precision: 60 });

/** One tier: the units up to and including `upTo` (above the previous tier's), open when null. */
export interface Tier {
  upTo: bigint | null;
  /** Major units per unit, exact decimal text. */
  unitPrice: string;
  /** Major units, charged once when the tier is used; null when the tier has none. */
  flatFee: string | null;
}

/** How a resource's usage in one period is priced. */
export type ChargeModel =
  | { model: 'per_unit'; includedUnits: bigint; unitPrice: string }
  | { model: 'graduated' | 'volume'; tiers: readonly Tier[] }
  | { model: 'package'; includedUnits: bigint; packageSize: bigint; packagePrice: string };

export type ChargeModelName = ChargeModel['model'];

export const chargeModelNames = ['per_unit', 'graduated', 'volume', 'package'] as const satisfies ChargeModelName[];

/** One invoice line of a usage charge, before rounding: the line's amount is `quantity × unitPrice`. */
export interface ChargeLine {
  description: string;
  quantity: bigint;
  /** Major units, exact decimal text. */
  unitPrice: string;
  /** quantity × unitPrice, exact decimal text in major units. */
  amount: string;
}

export interface UsageCharge {
  /**
   * The units the charge is for: the usage beyond the free units (per_unit, package, graduated),
   * or all of it once it passes them (volume).
   */
  billableUnits: bigint;
  /** One line per tier used (a flat fee on its own line); none when nothing was used. */
  lines: ChargeLine[];
  /** The lines' amounts added up, exact decimal text in major units. */
  amount: string;
}

const isFree = (tier: Tier): boolean =>
  new Exact(tier.unitPrice).isZero() && (tier.flatFee === null || new Exact(tier.flatFee).isZero());

/**
 * The units a period gets before anything is charged: the included units of per_unit and
 * package, and for tiers the units of the leading tiers that cost nothing (no unit price, no flat
 * fee). An open free tier makes every unit free: nothing is ever charged, and 0 is answered
 * (usage alerts read it as "nothing included" and never fire).
 */
export const freeUnitsOf = (model: ChargeModel): bigint => {
  if (model.model === 'per_unit' || model.model === 'package') return model.includedUnits;
  let free = 0n;
  for (const tier of model.tiers) {
    if (!isFree(tier)) return free;
    if (tier.upTo === null) return 0n;
    free = tier.upTo;
  }
  return free;
};

const line = (description: string, quantity: bigint, unitPrice: string): ChargeLine => ({
  description,
  quantity,
  unitPrice,
  amount: new Exact(quantity.toString()).times(unitPrice).toFixed(),
});

const charge = (billableUnits: bigint, lines: ChargeLine[]): UsageCharge => ({
  billableUnits,
  lines,
  amount: lines.reduce((sum, item) => sum.plus(item.amount), new Exact(0)).toFixed(),
});

const ceilDiv = (numerator: bigint, denominator: bigint): bigint => (numerator + denominator - 1n) / denominator;

/** Each unit at the price of the tier it falls in; a tier's flat fee once when any unit falls in it. */
const graduated = (tiers: readonly Tier[], quantity: bigint): ChargeLine[] => {
  const lines: ChargeLine[] = [];
  let below = 0n;
  for (const [index, tier] of tiers.entries()) {
    if (quantity <= below) break;
    const top = tier.upTo === null || tier.upTo > quantity ? quantity : tier.upTo;
    const number = index + 1;
    lines.push(line(`tier ${number}, units ${below + 1n} to ${top}`, top - below, tier.unitPrice));
    if (tier.flatFee !== null) lines.push(line(`tier ${number} flat fee`, 1n, tier.flatFee));
    if (tier.upTo === null) break;
    below = tier.upTo;
  }
  return lines;
};

/** Every unit at the price of the tier the total reaches, and that tier's flat fee. */
const volume = (tiers: readonly Tier[], quantity: bigint): ChargeLine[] => {
  if (quantity === 0n) return [];
  let below = 0n;
  for (const [index, tier] of tiers.entries()) {
    if (tier.upTo === null || quantity <= tier.upTo) {
      const number = index + 1;
      const range = tier.upTo === null ? `above ${below}` : `${below + 1n} to ${tier.upTo}`;
      return [
        line(`${quantity} used, all at tier ${number} (${range})`, quantity, tier.unitPrice),
        ...(tier.flatFee === null ? [] : [line(`tier ${number} flat fee`, 1n, tier.flatFee)]),
      ];
    }
    below = tier.upTo;
  }
  throw new Error('tiers must end with an open tier');
};

/**
 * What `quantity` units of a period cost under `model`: invoice lines with exact amounts, to be
 * rounded per line (`roundedAmounts`). Pure, exact for any bigint quantity.
 */
export const priceUsage = (model: ChargeModel, quantity: bigint): UsageCharge => {
  switch (model.model) {
    case 'per_unit': {
      const { overageUnits } = overageOf(quantity, model.includedUnits, model.unitPrice);
      const description = `${quantity} used, ${model.includedUnits} included, ${overageUnits} over`;
      return charge(overageUnits, overageUnits > 0n ? [line(description, overageUnits, model.unitPrice)] : []);
    }
    case 'package': {
      const over = quantity > model.includedUnits ? quantity - model.includedUnits : 0n;
      const packages = ceilDiv(over, model.packageSize);
      const description =
        `${quantity} used, ${model.includedUnits} included, ${over} over: ` +
        `${packages} package${packages === 1n ? '' : 's'} of ${model.packageSize}`;
      return charge(over, over > 0n ? [line(description, packages, model.packagePrice)] : []);
    }
    case 'graduated': {
      const free = freeUnitsOf(model);
      return charge(quantity > free ? quantity - free : 0n, graduated(model.tiers, quantity));
    }
    case 'volume': {
      const free = freeUnitsOf(model);
      return charge(quantity > free ? quantity : 0n, volume(model.tiers, quantity));
    }
  }
};

/** Each line's amount rounded half-up to the currency's minor unit, as an invoice line carries it (tax aside). */
export const roundedAmounts = (lines: readonly ChargeLine[], currency: string): bigint[] =>
  lines.map((item) => priceLine({ quantity: item.quantity, unitPrice: item.unitPrice, taxRate: '0' }, currency).amount);

/** A tier as plans write it: `up_to` a whole number or null (the open last tier), prices as decimal text. */
export interface TierInput {
  up_to: number | null;
  unit_price: string;
  flat_fee?: string | null | undefined;
}

/** What is wrong with a list of tiers: the tier's index, the field, why. */
export interface TierProblem {
  index: number;
  field: 'up_to';
  reason: string;
}

/**
 * Tiers cover every unit from 1 up, without gap or overlap: each `up_to` above the one before
 * (the first at least 1), and only the last open (`null`), which it must be.
 */
export const tierProblem = (tiers: readonly TierInput[]): TierProblem | undefined => {
  let below = 0;
  for (const [index, tier] of tiers.entries()) {
    const last = index === tiers.length - 1;
    if (tier.up_to === null) {
      if (!last) return { index, field: 'up_to', reason: 'only the last tier may be open (null)' };
      continue;
    }
    if (tier.up_to <= below) {
      return {
        index,
        field: 'up_to',
        reason: index === 0 ? 'must be at least 1' : `must be above the previous tier's up_to (${below})`,
      };
    }
    if (last)
      return { index, field: 'up_to', reason: 'the last tier must be open (null): units above it would have no price' };
    below = tier.up_to;
  }
  return undefined;
};

export const toTiers = (tiers: readonly TierInput[]): Tier[] =>
  tiers.map((tier) => ({
    upTo: tier.up_to === null ? null : BigInt(tier.up_to),
    unitPrice: tier.unit_price,
    flatFee: tier.flat_fee ?? null,
  }));

/** A tier as stored (JSON) and shown: `flat_fee` null when the tier has none. */
export interface StoredTier {
  up_to: number | null;
  unit_price: string;
  flat_fee: string | null;
}

/** A resource's charge as a plan version (and a metered period's snapshot of it) stores it. */
export interface StoredCharge {
  charge_model: ChargeModelName;
  included_units: bigint;
  overage_unit_price: string | null;
  tiers: readonly StoredTier[] | null;
  package_size: bigint | null;
  package_price: string | null;
}

/** The stored columns as a model; the database's checks keep each model's fields present. */
export const chargeModelOf = (stored: StoredCharge): ChargeModel => {
  const missing = (field: string) => new Error(`a ${stored.charge_model} charge without ${field}`);
  switch (stored.charge_model) {
    case 'per_unit':
      if (stored.overage_unit_price === null) throw missing('overage_unit_price');
      return { model: 'per_unit', includedUnits: stored.included_units, unitPrice: stored.overage_unit_price };
    case 'graduated':
    case 'volume':
      if (stored.tiers === null) throw missing('tiers');
      return { model: stored.charge_model, tiers: toTiers(stored.tiers) };
    case 'package':
      if (stored.package_size === null || stored.package_price === null) throw missing('package_size, package_price');
      return {
        model: 'package',
        includedUnits: stored.included_units,
        packageSize: stored.package_size,
        packagePrice: stored.package_price,
      };
  }
};
