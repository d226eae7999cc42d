import { Type, type Static } from 'typebox';
import { pageQueryFields } from '../../http/pagination.js';
import { tenantIdPattern } from '../tenants/schemas.js';
import { creditSourceNames } from './sources.js';

export const TenantLedgerParams = Type.Object({
  tenant_id: Type.String({ pattern: tenantIdPattern, description: 'Tenant ID' }),
});

export const ListCreditTransactionsQuery = Type.Object(
  {
    ...pageQueryFields,
    source: Type.Optional(
      Type.Union(
        creditSourceNames.map((source) => Type.Literal(source)),
        {
          description:
            'Transaction source (proration/refund/promo/manual_adjust/top_up/invoice_payment/payg_deduction)',
        },
      ),
    ),
  },
  { additionalProperties: false },
);

const amount = Type.Number({
  exclusiveMinimum: 0,
  description: "Major units of the tenant's currency, at most its minor-unit decimals",
  examples: [50],
});
const remark = Type.String({ minLength: 1, maxLength: 500, examples: ['Spring promotion'] });
const sourceId = Type.String({
  minLength: 1,
  maxLength: 128,
  description: 'What the movement refers to, e.g. a payment id',
});

export const GrantCreditBody = Type.Object(
  { amount, remark: Type.Optional(remark), source_id: Type.Optional(sourceId) },
  { additionalProperties: false },
);
export type GrantCreditInput = Static<typeof GrantCreditBody>;

export const AdjustCreditBody = Type.Object(
  {
    type: Type.Union([Type.Literal('credit'), Type.Literal('debit')]),
    amount,
    remark: Type.String({ minLength: 1, maxLength: 500, description: 'Required: why the balance is adjusted' }),
    source_id: Type.Optional(sourceId),
  },
  { additionalProperties: false },
);
export type AdjustCreditInput = Static<typeof AdjustCreditBody>;

export const CreditTransactionSchema = Type.Object(
  {
    amount: Type.Number({ examples: [50] }),
    balance: Type.Number({ examples: [150], description: 'The credit balance after this transaction' }),
    created_at: Type.String({ examples: ['2026-05-12T10:00:00Z'] }),
    id: Type.String({ examples: ['ctr_001'] }),
    remark: Type.String({ examples: ['Plan downgrade prorated credit'] }),
    source: Type.String({ examples: ['proration'] }),
    source_id: Type.Union([Type.String(), Type.Null()], { examples: ['sub_xyz789'] }),
    tenant_id: Type.String({ examples: ['tnt_xyz789'] }),
    type: Type.String({ examples: ['credit'] }),
  },
  { $id: 'CreditTransactionResponse' },
);
export type CreditTransactionView = Static<typeof CreditTransactionSchema>;

export const CreditBalanceSchema = Type.Object(
  {
    balance: Type.Number({ examples: [150] }),
    currency: Type.String({ examples: ['CNY'] }),
    tenant_id: Type.String({ examples: ['tnt_xyz789'] }),
    updated_at: Type.String({ examples: ['2026-05-12T10:00:00Z'] }),
  },
  { $id: 'CreditBalanceResponse' },
);
export type CreditBalanceView = Static<typeof CreditBalanceSchema>;
