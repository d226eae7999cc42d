import { isSupportedCurrency } from '../../core/currency.js';
import { AppError, invalidParameter } from '../../core/errors.js';
import { describeAmountProblem, parseMajorAmount, type MajorAmountProblem } from '../../core/money.js';
import { fail, ok, type Result } from '../../core/result.js';
import type { ResourceType } from '../../core/resources.js';
import type { PlanVersionRow } from './repository.js';
import { planDefaults, type PriceListInput } from './schemas.js';

/** What one plan version fixes, checked and in storage form: prices in bigint minor units. */
export interface PriceList {
  currency: string;
  monthly_price: bigint | null;
  yearly_price: bigint | null;
  trial_days: number;
  grace_period_days: number;
  downgrade_policy: PlanVersionRow['downgrade_policy'];
  resources: { resource_type: ResourceType; included_units: bigint; overage_unit_price: string }[];
}

const priceFields = ['monthly_price', 'yearly_price'] as const;

const amountRefused = (field: string, problem: MajorAmountProblem, currency: string): AppError =>
  invalidParameter('body', field, describeAmountProblem(problem, currency));

/**
 * Checks what a schema cannot: a billable currency, prices with no more decimals than the currency
 * has, at least one price, and each resource type at most once. Amounts become exact minor units.
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
  return ok({
    currency: input.currency,
    ...prices,
    trial_days: input.trial_days ?? planDefaults.trial_days,
    grace_period_days: input.grace_period_days ?? planDefaults.grace_period_days,
    downgrade_policy: input.downgrade_policy ?? planDefaults.downgrade_policy,
    resources: resources.map((resource) => ({
      resource_type: resource.resource_type,
      included_units: BigInt(resource.included_units),
      overage_unit_price: resource.overage_unit_price,
    })),
  });
};
