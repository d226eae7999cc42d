import { Type, type Static } from 'typebox';
import { chargeModelNames } from '../../core/charge-models.js';
import { unitPricePattern } from '../../core/decimal.js';
import { metricCodePattern } from '../metrics/schemas.js';

const maxPlanResources = 50;
import { pageQueryFields } from '../../http/pagination.js';

export const planIdPattern = '^[a-z0-9][a-z0-9_-]{0,63}$';

/** plan_versions.version is an int4: anything larger can name no version and must not reach the database. */
export const maxPlanVersion = 2_147_483_647;

const planStatuses = ['active', 'archived'] as const;
const downgradePolicies = ['at_period_end', 'immediate'] as const;

export const planDefaults = { trial_days: 0, grace_period_days: 7, downgrade_policy: 'at_period_end' } as const;

export const PlanIdParams = Type.Object({
  plan_id: Type.String({ pattern: planIdPattern, description: 'Plan ID', examples: ['pro'] }),
});

/**
 * A price in major units. `null` is accepted and means "no price for this cycle": the schema lists
 * both types so that ajv's type coercion never turns a `null` into a price of 0.
 */
const price = (cycle: string) =>
  Type.Optional(
    Type.Unsafe<number | null>({
      type: ['number', 'null'],
      minimum: 0,
      description: `Price per ${cycle} in major units of the currency (99.5 CNY), at most the currency's decimals`,
      examples: [99],
    }),
  );

/** Most tiers a resource may have. */
export const maxTiers = 50;

const units = (description: string, minimum: number) =>
  Type.Integer({ minimum, maximum: Number.MAX_SAFE_INTEGER, description, examples: [100000] });

const decimalPrice = (description: string, example: string) =>
  Type.String({ pattern: unitPricePattern, description, examples: [example] });

export const TierInput = Type.Object(
  {
    up_to: Type.Unsafe<number | null>({
      type: ['integer', 'null'],
      minimum: 1,
      maximum: Number.MAX_SAFE_INTEGER,
      description:
        "The tier's last unit (inclusive), above the previous tier's; null on the last tier only, which it must be",
      examples: [10000],
    }),
    unit_price: decimalPrice('Price per unit in this tier, as decimal text in major units', '0.001'),
    flat_fee: Type.Optional(
      decimalPrice("Charged once when the tier is used, in major units; at most the currency's decimals", '5'),
    ),
  },
  { additionalProperties: false },
);

/**
 * One metered resource of a plan version and how its usage per period is priced. Which fields a
 * model takes (and refuses) is checked by `validatePriceList`, naming the field.
 */
export const PlanResourceInput = Type.Object(
  {
    resource_type: Type.String({
      pattern: metricCodePattern,
      description: 'A billable metric (GET /admin/metrics): a built-in resource type or one an admin defined',
      examples: ['api_requests'],
    }),
    charge_model: Type.Optional(
      Type.Enum([...chargeModelNames], {
        description:
          'per_unit (default): included_units free, then overage_unit_price each. graduated: each unit at ' +
          'the price of the tier it falls in. volume: every unit at the price of the tier the total reaches. ' +
          'package: package_price per block of package_size units after included_units, a partial block whole.',
      }),
    ),
    included_units: Type.Optional(units('Units free per billing period (per_unit: required; package: default 0)', 0)),
    overage_unit_price: Type.Optional(
      decimalPrice('per_unit: price per unit above the included units, as decimal text in major units', '0.0005'),
    ),
    tiers: Type.Optional(
      Type.Array(TierInput, {
        minItems: 1,
        maxItems: maxTiers,
        description: 'graduated and volume: the tiers in order',
      }),
    ),
    package_size: Type.Optional(units('package: units per package', 1)),
    package_price: Type.Optional(decimalPrice('package: price per package, as decimal text in major units', '0.5')),
  },
  { additionalProperties: false },
);
export type PlanResourceInput = Static<typeof PlanResourceInput>;

/** Everything a plan version fixes; a version never changes once written. */
const priceListFields = {
  currency: Type.String({ pattern: '^[A-Z]{3}$', description: 'ISO 4217 code', examples: ['CNY'] }),
  monthly_price: price('month'),
  yearly_price: price('year'),
  trial_days: Type.Optional(
    Type.Integer({ minimum: 0, maximum: 365, default: planDefaults.trial_days, examples: [14] }),
  ),
  grace_period_days: Type.Optional(
    Type.Integer({ minimum: 0, maximum: 90, default: planDefaults.grace_period_days, examples: [7] }),
  ),
  downgrade_policy: Type.Optional(
    Type.Enum([...downgradePolicies], {
      default: planDefaults.downgrade_policy,
      description: 'When a downgrade to this plan takes effect',
    }),
  ),
  resources: Type.Optional(
    Type.Array(PlanResourceInput, {
      maxItems: maxPlanResources,
      description: 'How the usage of each metric is priced; each metric at most once',
    }),
  ),
};

const planName = Type.String({ minLength: 1, maxLength: 200, examples: ['Pro'] });
const planDescription = Type.String({ maxLength: 2000, examples: ['For growing teams'] });

export const CreatePlanBody = Type.Object(
  {
    plan_id: Type.String({ pattern: planIdPattern, description: 'Plan ID', examples: ['pro'] }),
    name: planName,
    description: Type.Optional(planDescription),
    ...priceListFields,
  },
  { additionalProperties: false },
);
export type CreatePlanInput = Static<typeof CreatePlanBody>;

export const CreatePlanVersionBody = Type.Object(priceListFields, { additionalProperties: false });
export type PriceListInput = Static<typeof CreatePlanVersionBody>;

/** Prices never change in place: a price field here is refused, a new version is the way. */
export const UpdatePlanBody = Type.Object(
  {
    name: Type.Optional(planName),
    description: Type.Optional(planDescription),
    status: Type.Optional(Type.Enum([...planStatuses])),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type UpdatePlanInput = Static<typeof UpdatePlanBody>;

export const GetPlanQuery = Type.Object(
  {
    version: Type.Optional(
      Type.Integer({ minimum: 1, maximum: maxPlanVersion, description: 'A past version; the current one when absent' }),
    ),
  },
  { additionalProperties: false },
);

export const ListPlansQuery = Type.Object(
  { ...pageQueryFields, status: Type.Optional(Type.Enum([...planStatuses])) },
  { additionalProperties: false },
);
export type ListPlansFilter = Static<typeof ListPlansQuery>;

const TierSchema = Type.Object({
  up_to: Type.Union([Type.Integer(), Type.Null()], { examples: [10000] }),
  unit_price: Type.String({ examples: ['0.001'] }),
  flat_fee: Type.Union([Type.String(), Type.Null()], { examples: ['5'] }),
});

/** A resource's charge: the fields of its model only. */
export const PlanResourceSchema = Type.Object({
  resource_type: Type.String({ examples: ['api_requests'] }),
  charge_model: Type.Enum([...chargeModelNames], { examples: ['per_unit'] }),
  included_units: Type.Integer({
    description: 'Free units per period; for graduated and volume, the units of the leading free tiers (read only)',
    examples: [100000],
  }),
  overage_unit_price: Type.Optional(Type.String({ description: 'per_unit only', examples: ['0.0005'] })),
  tiers: Type.Optional(Type.Array(TierSchema, { description: 'graduated and volume only' })),
  package_size: Type.Optional(Type.Integer({ description: 'package only', examples: [1000] })),
  package_price: Type.Optional(Type.String({ description: 'package only', examples: ['0.5'] })),
});
export type PlanResourceView = Static<typeof PlanResourceSchema>;

export const PlanSchema = Type.Object(
  {
    plan_id: Type.String({ examples: ['pro'] }),
    name: Type.String({ examples: ['Pro'] }),
    description: Type.String(),
    status: Type.Union([Type.Literal('active'), Type.Literal('archived')]),
    version: Type.Integer({ description: 'The version shown', examples: [1] }),
    currency: Type.String({ examples: ['CNY'] }),
    monthly_price: Type.Union([Type.Number(), Type.Null()], { examples: [99] }),
    yearly_price: Type.Union([Type.Number(), Type.Null()], { examples: [990] }),
    trial_days: Type.Integer({ examples: [14] }),
    grace_period_days: Type.Integer({ examples: [7] }),
    downgrade_policy: Type.Union([Type.Literal('at_period_end'), Type.Literal('immediate')]),
    resources: Type.Array(PlanResourceSchema),
    versions: Type.Array(Type.Integer(), {
      description: 'Every version of the plan, oldest first',
      examples: [[1, 2]],
    }),
    created_at: Type.String({ examples: ['2026-04-01T00:00:00Z'] }),
    updated_at: Type.String({ examples: ['2026-04-01T00:00:00Z'] }),
  },
  { $id: 'Plan' },
);
export type PlanView = Static<typeof PlanSchema>;
