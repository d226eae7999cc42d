import { Type, type TObject } from 'typebox';
import { BillingRecordSchema, LineItemSchema } from '../billing-records/schemas.js';
import { CreditBalanceSchema, CreditTransactionSchema } from '../credit-ledger/schemas.js';
import { MeteredBillingSchema } from '../metering/schemas.js';
import { SubscriptionSchema } from '../subscriptions/schemas.js';
import { UsageAlertSchema } from '../usage-alerts/schemas.js';
import { UsageStatsSchema } from '../usage/schemas.js';
import { exportFields } from './seed-fields.js';

/**
 * The export's items are the seed's DTOs, not the API's views: each view cut down to the seed's
 * fields (`exportFields`, what `pick` writes), named as the seed names them, nothing else allowed.
 */
const exportItem = (view: TObject, fields: readonly string[], $id: string, overrides = {}) =>
  Type.Object(
    { ...Object.fromEntries(fields.map((field) => [field, view.properties[field]])), ...overrides },
    { $id, additionalProperties: false },
  );

export const exportItemSchemas = [
  exportItem(SubscriptionSchema, exportFields.subscription, 'ExportSubscription'),
  exportItem(LineItemSchema, exportFields.lineItem, 'ExportInvoiceLineItem'),
  exportItem(BillingRecordSchema, exportFields.billingRecord, 'ExportBillingRecord', {
    line_items: Type.Array(Type.Ref('ExportInvoiceLineItem')),
  }),
  exportItem(CreditBalanceSchema, exportFields.creditBalance, 'ExportCreditBalance'),
  exportItem(CreditTransactionSchema, exportFields.creditTransaction, 'ExportCreditTransaction'),
  exportItem(UsageStatsSchema, exportFields.usageStats, 'UsageStatsExportItem'),
  exportItem(UsageAlertSchema, exportFields.usageAlert, 'ExportUsageAlert'),
  exportItem(MeteredBillingSchema, exportFields.meteringRecord, 'MeteredBillingExportItem'),
];

const items = (ref: string) => Type.Array(Type.Ref(ref));

/** For the docs and the tests' checks: the body is streamed, so it is written, not serialised against this. */
export const ExportUserDataResponse = Type.Object({
  code: Type.Integer({ description: 'The HTTP status' }),
  message: Type.String(),
  data: Type.Object({
    user_id: Type.String(),
    generated_at: Type.String({ description: 'RFC 3339, UTC' }),
    tenants: Type.Array(
      Type.Object({
        tenant_id: Type.String(),
        subscriptions: items('ExportSubscription'),
        billing_records: items('ExportBillingRecord'),
        credit_balance: Type.Ref('ExportCreditBalance'),
        credit_transactions: items('ExportCreditTransaction'),
        usage_stats: items('UsageStatsExportItem'),
        usage_alerts: items('ExportUsageAlert'),
        metering_records: items('MeteredBillingExportItem'),
      }),
    ),
  }),
  timestamp: Type.String({ description: 'RFC 3339, UTC' }),
});
