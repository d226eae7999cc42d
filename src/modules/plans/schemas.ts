import { Type, type Static } from 'typebox';
import { unitPricePattern } from '../../core/decimal.js';
import { resourceTypes } from '../../core/resources.js';
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

export const PlanResourceInput = Type.Object(
  {
    resource_type: Type.Enum(resourceTypes, { description: 'Metered resource type' }),
    included_units: Type.Integer({
      minimum: 0,
      maximum: Number.MAX_SAFE_INTEGER,
      description: 'Units included per billing period',
      examples: [100000],
    }),
    overage_unit_price: Type.String({
      pattern: unitPricePattern,
      description: 'Price per unit above the included units, as decimal text in major units',
      examples: ['0.0005'],
    }),
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
      maxItems: resourceTypes.length,
      description: 'Included units and overage price per resource type; each type at most once',
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
    resources: Type.Array(
      Type.Object({
        resource_type: Type.String({ examples: ['api_requests'] }),
        included_units: Type.Integer({ examples: [100000] }),
        overage_unit_price: Type.String({ examples: ['0.0005'] }),
      }),
    ),
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
