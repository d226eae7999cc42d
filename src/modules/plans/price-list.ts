import { Decimal } from 'decimal.js';
import {
  chargeModelOf,
  freeUnitsOf,
  tierProblem,
  type ChargeModelName,
  type StoredTier,
} from '../../core/charge-models.js';
import { isSupportedCurrency, minorUnitsOf } from '../../core/currency.js';
import { AppError, invalidParameter } from '../../core/errors.js';
import { describeAmountProblem, parseMajorAmount, type MajorAmountProblem } from '../../core/money.js';
import { fail, ok, type Result } from '../../core/result.js';
import type { Db } from '../../db/database.js';
import { checkMetricExists } from '../metrics/metric-rules.js';
import type { PlanVersionRow } from './repository.js';
import { planDefaults, type PlanResourceInput, type PriceListInput } from './schemas.js';

/** What one plan version fixes, checked and in storage form: prices in bigint minor units. */
export interface PriceList {
  currency: string;
  monthly_price: bigint | null;
  yearly_price: bigint | null;
  trial_days: number;
  grace_period_days: number;
  downgrade_policy: PlanVersionRow['downgrade_policy'];
  resources: PlanResourceCharge[];
}

/** One resource's charge as plan_version_resources stores it (the tiers as JSON text). */
export interface PlanResourceCharge {
  resource_type: string;
  charge_model: ChargeModelName;
  included_units: bigint;
  overage_unit_price: string | null;
  tiers: string | null;
  package_size: bigint | null;
  package_price: string | null;
}

const modelFields = ['included_units', 'overage_unit_price', 'tiers', 'package_size', 'package_price'] as const;
type ModelField = (typeof modelFields)[number];

/** Which of the model fields each model takes; the others are refused when sent. */
const fieldsOf: Record<ChargeModelName, readonly ModelField[]> = {
  per_unit: ['included_units', 'overage_unit_price'],
  graduated: ['tiers'],
  volume: ['tiers'],
  package: ['included_units', 'package_size', 'package_price'],
};
/** What a model cannot do without; package's included_units defaults to 0. */
const requiredOf: Record<ChargeModelName, readonly ModelField[]> = {
  per_unit: ['included_units', 'overage_unit_price'],
  graduated: ['tiers'],
  volume: ['tiers'],
  package: ['package_size', 'package_price'],
};

/**
 * One resource's charge checked against its model: its own fields present, no other model's,
 * tiers that cover every unit once, flat fees in whole minor units. `at` is its parameter path.
 */
const resourceCharge = (resource: PlanResourceInput, at: string, currency: string): Result<PlanResourceCharge> => {
  const model = resource.charge_model ?? 'per_unit';
  for (const field of modelFields) {
    const sent = resource[field] !== undefined;
    if (sent && !fieldsOf[model].includes(field)) {
      const hint = field === 'included_units' ? ': the units of a first tier at unit_price "0" are free' : '';
      return fail(invalidParameter('body', `${at}.${field}`, `is not used by the ${model} charge model${hint}`));
    }
    if (!sent && requiredOf[model].includes(field)) {
      return fail(invalidParameter('body', `${at}.${field}`, `is required by the ${model} charge model`));
    }
  }
  const stored: PlanResourceCharge = {
    resource_type: resource.resource_type,
    charge_model: model,
    included_units: BigInt(resource.included_units ?? 0),
    overage_unit_price: resource.overage_unit_price ?? null,
    tiers: null,
    package_size: resource.package_size === undefined ? null : BigInt(resource.package_size),
    package_price: resource.package_price ?? null,
  };
  if (resource.tiers === undefined) return ok(stored);
  const problem = tierProblem(resource.tiers);
  if (problem !== undefined) {
    return fail(invalidParameter('body', `${at}.tiers.${problem.index}.${problem.field}`, problem.reason));
  }
  const tiers: StoredTier[] = [];
  for (const [index, tier] of resource.tiers.entries()) {
    // A flat fee is a line of its own at quantity 1: in whole minor units, it is never rounded.
    if (tier.flat_fee !== undefined && new Decimal(tier.flat_fee).decimalPlaces() > minorUnitsOf(currency)) {
      return fail(amountRefused(`${at}.tiers.${index}.flat_fee`, 'too_precise', currency));
    }
    tiers.push({ up_to: tier.up_to, unit_price: tier.unit_price, flat_fee: tier.flat_fee ?? null });
  }
  const free = freeUnitsOf(chargeModelOf({ ...stored, tiers }));
  return ok({ ...stored, included_units: free, tiers: JSON.stringify(tiers) });
};

const priceFields = ['monthly_price', 'yearly_price'] as const;

const amountRefused = (field: string, problem: MajorAmountProblem, currency: string): AppError =>
  invalidParameter('body', field, describeAmountProblem(problem, currency));

/**
 * Checks what a schema cannot: a billable currency, prices with no more decimals than the currency
 * has, at least one price, each resource type at most once and priced by one charge model with
 * its fields. Amounts become exact minor units.
 */
export const validatePriceList = (input: PriceListInput): Result<PriceList> => {
  if (!isSupportedCurrency(input.currency)) {
    return fail(invalidParameter('body', 'currency', `"${input.currency}" is not a supported currency`));
  }
  const prices: Record<(typeof priceFields)[number], bigint | null> = { monthly_price: null, yearly_price: null };
  for (const field of priceFields) {
    const value = input[field];
    if (value === undefined || value === null) continue;
    const parsed = parseMajorAmount(value, input.currency);
    if (!parsed.ok) return fail(amountRefused(field, parsed.problem, input.currency));
    prices[field] = parsed.minor;
  }
  if (prices.monthly_price === null && prices.yearly_price === null) {
    return fail(
      new AppError('validation_error', 'a plan needs a monthly_price, a yearly_price or both', [
        { in: 'body', parameter: 'monthly_price', reason: 'monthly_price or yearly_price is required' },
        { in: 'body', parameter: 'yearly_price', reason: 'monthly_price or yearly_price is required' },
      ]),
    );
  }
  const resources = input.resources ?? [];
  const firstIndexByType = new Map<string, number>();
  for (const [index, resource] of resources.entries()) {
    const first = firstIndexByType.get(resource.resource_type);
    if (first !== undefined) {
      return fail(
        invalidParameter(
          'body',
          `resources.${index}.resource_type`,
          `repeats "${resource.resource_type}" of resources.${first}; each resource type at most once`,
        ),
      );
    }
    firstIndexByType.set(resource.resource_type, index);
  }
  const charges: PlanResourceCharge[] = [];
  for (const [index, resource] of resources.entries()) {
    const charge = resourceCharge(resource, `resources.${index}`, input.currency);
    if (!charge.ok) return charge;
    charges.push(charge.value);
  }
  return ok({
    currency: input.currency,
    ...prices,
    trial_days: input.trial_days ?? planDefaults.trial_days,
    grace_period_days: input.grace_period_days ?? planDefaults.grace_period_days,
    downgrade_policy: input.downgrade_policy ?? planDefaults.downgrade_policy,
    resources: charges,
  });
};

/** Each resource names a billable metric; the first that does not is named in a 400. */
export const checkPlanMetrics = async (db: Db, resources: readonly PlanResourceCharge[]): Promise<Result<void>> => {
  for (const [index, resource] of resources.entries()) {
    const exists = await checkMetricExists(db, resource.resource_type, `resources.${index}.resource_type`);
    if (!exists.ok) return exists;
  }
  return ok(undefined);
};
