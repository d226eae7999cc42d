import { Type, type Static } from 'typebox';
import { unitPricePattern } from '../../core/decimal.js';
import { pageQueryFields } from '../../http/pagination.js';
import { withDefault } from '../../http/validation.js';
import { tenantIdPattern } from '../tenants/schemas.js';

export const billingKeyPattern = '^[a-z][a-z0-9_]{0,63}$';
const paygCycles = ['Day', 'Month', 'Year', 'Single'] as const;
const categories = ['subscription', 'pay-as-you-go'] as const;

export const ProductParams = Type.Object({ billing_key: Type.String({ pattern: billingKeyPattern }) });
export const TenantPaygParams = Type.Object({ tenant_id: Type.String({ pattern: tenantIdPattern }) });

export const CreateProductBody = Type.Object(
  {
    billing_key: Type.String({ pattern: billingKeyPattern, examples: ['sms_verifications'] }),
    display_name: Type.String({ minLength: 1, maxLength: 200, examples: ['SMS verifications'] }),
    unit_price: Type.String({
      pattern: unitPricePattern,
      description: 'Major units, decimal text',
      examples: ['0.045'],
    }),
    billing_cycle: withDefault(Type.Enum([...paygCycles], { default: 'Day' })),
    category: withDefault(Type.Enum([...categories], { default: 'pay-as-you-go' })),
  },
  { additionalProperties: false },
);
export type CreateProductInput = Static<typeof CreateProductBody>;

export const UpdateProductBody = Type.Object(
  {
    display_name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    unit_price: Type.Optional(Type.String({ pattern: unitPricePattern })),
    status: Type.Optional(Type.Enum(['active', 'archived'])),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type UpdateProductInput = Static<typeof UpdateProductBody>;

export const ListQuery = Type.Object(pageQueryFields, { additionalProperties: false });

export const ProductSchema = Type.Object(
  {
    billing_key: Type.String(),
    display_name: Type.String(),
    unit_price: Type.String(),
    billing_cycle: Type.String(),
    category: Type.String(),
    status: Type.String(),
    created_at: Type.String(),
    updated_at: Type.String(),
  },
  { $id: 'PaygProduct' },
);

const instant = Type.String({ format: 'date-time' });

export const IssueCouponBody = Type.Object(
  {
    amount: Type.Number({ exclusiveMinimum: 0, description: 'Major units' }),
    valid_from: Type.Optional(instant),
    valid_to: instant,
    product_keys: Type.Optional(
      Type.Array(Type.String({ pattern: billingKeyPattern }), {
        minItems: 1,
        maxItems: 100,
        description: 'The products it pays for; all when absent',
      }),
    ),
  },
  { additionalProperties: false },
);
export type IssueCouponInput = Static<typeof IssueCouponBody>;

export const IssueStoredCardBody = Type.Object(
  {
    amount: Type.Number({ exclusiveMinimum: 0, description: 'Major units' }),
    valid_from: Type.Optional(instant),
    valid_to: Type.Optional(instant),
  },
  { additionalProperties: false },
);
export type IssueStoredCardInput = Static<typeof IssueStoredCardBody>;

export const TopUpMarketplaceBody = Type.Object(
  {
    amount: Type.Number({ exclusiveMinimum: 0, description: 'Major units' }),
    customer_identifier: Type.String({ minLength: 1, maxLength: 200, description: 'The cloud-marketplace account' }),
  },
  { additionalProperties: false },
);
export type TopUpMarketplaceInput = Static<typeof TopUpMarketplaceBody>;

export const InstrumentSchema = Type.Object(
  {
    id: Type.String(),
    tenant_id: Type.String(),
    kind: Type.String({ description: 'coupon, stored_card or cloud_marketplace' }),
    issued_amount: Type.Number(),
    balance: Type.Number(),
    currency: Type.String(),
    valid_from: Type.Union([Type.String(), Type.Null()]),
    valid_to: Type.Union([Type.String(), Type.Null()]),
    product_keys: Type.Union([Type.Array(Type.String()), Type.Null()]),
    customer_identifier: Type.Union([Type.String(), Type.Null()]),
    created_at: Type.String(),
  },
  { $id: 'PaygInstrument' },
);

export const DetailListQuery = Type.Object(
  {
    startDate: Type.String({ description: 'Billing start date, YYYYMMDD (e.g. 20230731)', examples: ['20230731'] }),
    endDate: Type.String({ description: 'Billing end date, YYYYMMDD, inclusive', examples: ['20230731'] }),
  },
  { additionalProperties: false },
);
