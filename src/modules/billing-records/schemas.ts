import { Type, type Static } from 'typebox';
import { pageQueryFields } from '../../http/pagination.js';
import { appIdPattern } from '../apps/schemas.js';
import { tenantIdPattern } from '../tenants/schemas.js';

export const recordIdPattern = '^rec_[a-z0-9]{16}$';
const datePattern = '^\\d{4}-\\d{2}-\\d{2}$';
/** A search text can only match if it is at most as long as what it searches; 200 is generous. */
export const maxSearchLength = 200;

const tenantId = Type.String({ pattern: tenantIdPattern, description: 'Tenant ID' });
const appId = Type.String({ pattern: appIdPattern, description: 'Application ID' });

export const TenantRecordsParams = Type.Object({ tenant_id: tenantId });
export const TenantAppRecordsParams = Type.Object({ tenant_id: tenantId, app_id: appId });
export const RecordParams = Type.Object({
  tenant_id: tenantId,
  record_id: Type.String({ pattern: recordIdPattern, description: 'Billing record ID' }),
});

const ListedStatus = Type.Union(
  [Type.Literal('paid'), Type.Literal('failed'), Type.Literal('refunded'), Type.Literal('pending')],
  { description: 'Billing status (paid/failed/refunded/pending)' },
);

export const AppRecordsQuery = Type.Object(pageQueryFields, { additionalProperties: false });

export const SearchRecordsQuery = Type.Object(
  {
    app_id: Type.Optional(Type.String({ pattern: appIdPattern, description: 'Application ID (optional)' })),
    status: Type.Optional(ListedStatus),
    date_from: Type.Optional(
      Type.String({
        pattern: datePattern,
        description: "Start date (YYYY-MM-DD), inclusive, in the tenant's time zone",
      }),
    ),
    date_to: Type.Optional(
      Type.String({ pattern: datePattern, description: "End date (YYYY-MM-DD), inclusive, in the tenant's time zone" }),
    ),
    min_amount: Type.Optional(
      Type.Number({ minimum: 0, maximum: 1e15, description: 'Minimum amount (net), inclusive' }),
    ),
    max_amount: Type.Optional(
      Type.Number({ minimum: 0, maximum: 1e15, description: 'Maximum amount (net), inclusive' }),
    ),
    search: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: maxSearchLength,
        description:
          'Keyword search: case-insensitive literal substring of the record id, invoice number, description or a line description',
      }),
    ),
    ...pageQueryFields,
  },
  { additionalProperties: false },
);
export type SearchRecordsInput = Static<typeof SearchRecordsQuery>;

const recordType = Type.Union([
  Type.Literal('subscription'),
  Type.Literal('usage'),
  Type.Literal('proration'),
  Type.Literal('payg'),
  Type.Literal('top_up'),
  Type.Literal('one_time'),
]);

export const CreateRecordBody = Type.Object(
  {
    app_id: Type.Optional(appId),
    type: recordType,
    description: Type.String({ minLength: 1, maxLength: 500, examples: ['Professional Monthly Subscription'] }),
    lines: Type.Array(
      Type.Object(
        {
          description: Type.String({ minLength: 1, maxLength: 500 }),
          resource_type: Type.String({ pattern: '^[a-z][a-z0-9_]{0,63}$', examples: ['subscription'] }),
          quantity: Type.Integer({ minimum: 0, maximum: 1e12 }),
          unit_price: Type.Number({ minimum: 0, maximum: 1e12, description: 'Major units, at most 10 decimals' }),
          tax_rate: Type.Optional(
            Type.Number({ minimum: 0, exclusiveMaximum: 1, description: "Defaults to the tenant's tax rate" }),
          ),
        },
        { additionalProperties: false },
      ),
      { minItems: 1, maxItems: 500 },
    ),
    finalize: Type.Optional(
      Type.Boolean({ description: 'Finalise at once: assign the invoice number, status pending' }),
    ),
  },
  { additionalProperties: false },
);
export type CreateRecordInput = Static<typeof CreateRecordBody>;

export const MoveRecordBody = Type.Object(
  { reason: Type.Optional(Type.String({ minLength: 1, maxLength: 500 })) },
  { additionalProperties: false },
);
export type MoveRecordInput = Static<typeof MoveRecordBody>;

export const PayFromBalanceBody = Type.Object(
  {
    amount: Type.Optional(
      Type.Number({ exclusiveMinimum: 0, description: 'Major units; absent: everything still owed' }),
    ),
  },
  { additionalProperties: false },
);

export const LineItemSchema = Type.Object(
  {
    amount: Type.Number({ examples: [99] }),
    description: Type.String({ examples: ['Professional Monthly Subscription'] }),
    quantity: Type.Integer({ examples: [1] }),
    resource_type: Type.String({ examples: ['subscription'] }),
    tax_amount: Type.Number({ examples: [5.94] }),
    tax_rate: Type.Number({ examples: [0.06] }),
    unit_price: Type.Number({ examples: [99] }),
  },
  { $id: 'InvoiceLineItemResponse' },
);

const recordFields = {
  amount: Type.Number({ examples: [99], description: 'Net: the sum of the line amounts' }),
  app_id: Type.Union([Type.String(), Type.Null()], { examples: ['app_001'] }),
  created_at: Type.String({ examples: ['2026-04-01T00:00:00Z'] }),
  currency: Type.String({ examples: ['CNY'] }),
  description: Type.String({ examples: ['Professional Monthly Subscription'] }),
  invoice_number: Type.Union([Type.String(), Type.Null()], {
    examples: ['INV-2026-001'],
    description: 'Assigned at finalisation; null for a draft',
  }),
  line_items: Type.Array(Type.Ref('InvoiceLineItemResponse')),
  record_id: Type.String({ examples: ['rec_001'] }),
  status: Type.String({ examples: ['paid'], description: 'draft, pending, paid, failed or refunded' }),
  tenant_id: Type.String({ examples: ['tnt_xyz789'] }),
  type: Type.String({ examples: ['subscription'] }),
  tax_amount: Type.Number({ examples: [5.94], description: 'The sum of the line taxes' }),
  total_amount: Type.Number({ examples: [104.94], description: 'amount + tax_amount: what is charged' }),
  due_at: Type.Union([Type.String(), Type.Null()], {
    examples: ['2026-04-01T00:00:00Z'],
    description: "Finalisation + the tenant's payment terms; null for a draft. Unpaid after it, the record is overdue",
  }),
  overdue_at: Type.Union([Type.String(), Type.Null()], {
    examples: [null],
    description: 'When the record was found unpaid after its due date (its billing_record.overdue event); null before',
  }),
};

export const BillingRecordSchema = Type.Object(recordFields, { $id: 'BillingRecordResponse' });
export type BillingRecordView = Static<typeof BillingRecordSchema>;

export const StatusChangeSchema = Type.Object({
  from_status: Type.Union([Type.String(), Type.Null()]),
  to_status: Type.String(),
  actor: Type.String(),
  reason: Type.Union([Type.String(), Type.Null()]),
  occurred_at: Type.String(),
});

export const BillingRecordDetailSchema = Type.Object(
  {
    ...recordFields,
    finalized_at: Type.Union([Type.String(), Type.Null()]),
    amount_paid: Type.Number({ description: 'Paid so far from the credit balance' }),
    status_history: Type.Array(StatusChangeSchema),
  },
  { $id: 'BillingRecordDetail' },
);
export type BillingRecordDetailView = Static<typeof BillingRecordDetailSchema>;
