import { Type, type Static } from 'typebox';
import { tenantIdPattern, testClockIdPattern } from '../../core/ids.js';
import { pageQueryFields } from '../../http/pagination.js';
import { localeSchema, nullablePartyField } from '../../http/party-fields.js';

export { tenantIdPattern };
export const userIdPattern = '^[A-Za-z0-9_.:@-]{1,128}$';

export const TenantIdParams = Type.Object({
  tenant_id: Type.String({ pattern: tenantIdPattern, description: 'Tenant ID', examples: ['tnt_xyz789'] }),
});

const tenantFields = {
  name: Type.String({ minLength: 1, maxLength: 200, examples: ['Acme Corp'] }),
  currency: Type.String({ pattern: '^[A-Z]{3}$', description: 'ISO 4217 code', examples: ['CNY'] }),
  time_zone: Type.String({ minLength: 1, maxLength: 64, description: 'IANA time zone', examples: ['Asia/Shanghai'] }),
  tax_rate: Type.Number({ minimum: 0, exclusiveMaximum: 1, description: 'At most 6 decimals', examples: [0.06] }),
  payment_terms_days: Type.Integer({
    minimum: 0,
    maximum: 365,
    description:
      'Days after finalisation an invoice is due (net payment term; 0 = due on receipt). Unpaid after its due date, an invoice is overdue',
    examples: [0, 30],
  }),
  admin_user_id: Type.String({
    pattern: userIdPattern,
    description: 'usr_… from the auth service',
    examples: ['usr_abc123'],
  }),
};

/**
 * Who the tenant's invoices are addressed to. On create each field given is set; on update (and
 * sync of an existing tenant) a field given as null is cleared and an absent one is kept.
 */
const BillingProfileInput = Type.Object(
  {
    legal_name: Type.Optional(nullablePartyField('legal_name')),
    address: Type.Optional(nullablePartyField('address')),
    tax_id: Type.Optional(nullablePartyField('tax_id')),
    email: Type.Optional(
      nullablePartyField('email', 'Where finalised invoices are emailed, with their PDF (null: not emailed)'),
    ),
  },
  { additionalProperties: false },
);
export type BillingProfileInput = Static<typeof BillingProfileInput>;

const documentFields = {
  billing_profile: Type.Optional(BillingProfileInput),
  locale: Type.Optional(
    localeSchema(
      'Language of invoice documents and their emails; on create, zh-CN for a CNY tenant when absent, else en',
    ),
  ),
};

const TenantStatus = Type.Union([Type.Literal('active'), Type.Literal('suspended'), Type.Literal('closed')]);

export const CreateTenantBody = Type.Object(
  {
    tenant_id: Type.Optional(
      Type.String({ pattern: tenantIdPattern, description: "The platform's tenant id; generated when absent" }),
    ),
    name: tenantFields.name,
    currency: Type.Optional(tenantFields.currency),
    time_zone: Type.Optional(tenantFields.time_zone),
    tax_rate: Type.Optional(tenantFields.tax_rate),
    payment_terms_days: Type.Optional(tenantFields.payment_terms_days),
    admin_user_id: tenantFields.admin_user_id,
    test_clock_id: Type.Optional(
      Type.String({
        pattern: testClockIdPattern,
        description:
          "A test clock the tenant lives on, from its creation on: its time is the clock's (docs/test-clocks.md)",
        examples: ['clk_0123456789abcdef'],
      }),
    ),
    ...documentFields,
  },
  { additionalProperties: false },
);
export type CreateTenantInput = Static<typeof CreateTenantBody>;

export const UpdateTenantBody = Type.Object(
  {
    name: Type.Optional(tenantFields.name),
    currency: Type.Optional(tenantFields.currency),
    time_zone: Type.Optional(tenantFields.time_zone),
    tax_rate: Type.Optional(tenantFields.tax_rate),
    payment_terms_days: Type.Optional(tenantFields.payment_terms_days),
    admin_user_id: Type.Optional(tenantFields.admin_user_id),
    status: Type.Optional(TenantStatus),
    ...documentFields,
  },
  { additionalProperties: false, minProperties: 1 },
);
export type UpdateTenantInput = Static<typeof UpdateTenantBody>;

/** The platform's tenant service syncs tenants here; absent settings keep their current value or default. */
export const SyncTenantBody = Type.Object(
  {
    name: tenantFields.name,
    admin_user_id: tenantFields.admin_user_id,
    currency: Type.Optional(tenantFields.currency),
    time_zone: Type.Optional(tenantFields.time_zone),
    tax_rate: Type.Optional(tenantFields.tax_rate),
    payment_terms_days: Type.Optional(tenantFields.payment_terms_days),
    ...documentFields,
  },
  { additionalProperties: false },
);
export type SyncTenantInput = Static<typeof SyncTenantBody>;

export const ListTenantsQuery = Type.Object(
  {
    ...pageQueryFields,
    admin_user_id: Type.Optional(tenantFields.admin_user_id),
    status: Type.Optional(TenantStatus),
  },
  { additionalProperties: false },
);
export type ListTenantsFilter = Static<typeof ListTenantsQuery>;

const nullableText = (example: string) => Type.Union([Type.String(), Type.Null()], { examples: [example] });

export const TenantSchema = Type.Object(
  {
    tenant_id: Type.String({ examples: ['tnt_xyz789'] }),
    name: Type.String(),
    currency: Type.String({ examples: ['CNY'] }),
    time_zone: Type.String({ examples: ['Asia/Shanghai'] }),
    tax_rate: Type.Number({ examples: [0.06] }),
    payment_terms_days: Type.Integer({ examples: [0] }),
    admin_user_id: Type.String({ examples: ['usr_abc123'] }),
    status: TenantStatus,
    created_at: Type.String({ examples: ['2026-04-01T00:00:00Z'] }),
    updated_at: Type.String({ examples: ['2026-04-01T00:00:00Z'] }),
    test_clock_id: Type.Union([Type.String(), Type.Null()], {
      description: 'The test clock the tenant lives on; null: real time',
      examples: [null],
    }),
    billing_profile: Type.Object(
      {
        legal_name: nullableText('Acme Corp Ltd.'),
        address: nullableText('1 Century Avenue\nPudong, Shanghai 200120'),
        tax_id: nullableText('91310000MA1FL0000X'),
        email: nullableText('billing@acme.example'),
      },
      { description: "Who the tenant's invoices are addressed to; finalised invoices are emailed to `email`" },
    ),
    locale: localeSchema(),
  },
  { $id: 'Tenant' },
);
export type TenantView = Static<typeof TenantSchema>;
