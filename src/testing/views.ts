import type { Static } from 'typebox';
import type { PageInfo } from '../core/pagination.js';
import type { ErrorResponseSchema } from '../http/envelope.js';
import type { LineItemSchema, BillingRecordDetailView, BillingRecordView } from '../modules/billing-records/schemas.js';
import type { MeteredBillingSchema } from '../modules/metering/schemas.js';
import type { InstrumentSchema, ProductSchema } from '../modules/payg/schemas.js';
import type { BillingRunSchema } from '../modules/billing-run/schemas.js';
import type { PlanChangePreviewView, SubscriptionView, UpcomingInvoiceView } from '../modules/subscriptions/schemas.js';
import type { UsageAlertSchema } from '../modules/usage-alerts/schemas.js';
import type { IngestResultSchema, UsageStatsSchema } from '../modules/usage/schemas.js';

/*
 * The API's JSON as tests read it, derived from the response schemas the routes are documented
 * (and, in tests, checked) with, so a test's idea of a body cannot drift from the API's.
 */

export type { PageInfo } from '../core/pagination.js';
export type { AppView } from '../modules/apps/schemas.js';
export type { CreditBalanceView, CreditTransactionView } from '../modules/credit-ledger/schemas.js';
export type { PlanView } from '../modules/plans/schemas.js';
export type { SubscriptionView } from '../modules/subscriptions/schemas.js';
export type { TenantView } from '../modules/tenants/schemas.js';
export type { TestClockAdvanceView, TestClockView } from '../modules/test-clocks/schemas.js';
export type { WebhookDeliveryView, WebhookEndpointView } from '../modules/webhooks/schemas.js';

/** `{code, message, data, timestamp}`. */
export interface SingleBody<Data> {
  code: number;
  message: string;
  data: Data;
  timestamp: string;
}

/** `{code, message, items, pagination, total, timestamp}`. */
export interface ListBody<Item> {
  code: number;
  message: string;
  items: Item[];
  pagination: PageInfo;
  total: number;
  timestamp: string;
}

/** The detail-list API's envelope (`/api/v1/…`). */
export interface DetailBody<Content> {
  code: number;
  content: Content | null;
  errorCode: string;
  message: string;
  success: boolean;
  traceId: string;
}

export type ErrorBody = Static<typeof ErrorResponseSchema>;

export type LineItemView = Static<typeof LineItemSchema>;
// The schemas name their line items by reference, which a static type cannot follow.
export type RecordView = Omit<BillingRecordView, 'line_items'> & { line_items: LineItemView[] };
export type RecordDetailView = Omit<BillingRecordDetailView, 'line_items'> & { line_items: LineItemView[] };

export type MeteredBillingView = Static<typeof MeteredBillingSchema>;

/** Invoices a preview shows as one: lines as a record has them, money summed. */
export type InvoicePreviewView = Omit<
  UpcomingInvoiceView,
  'period_start' | 'period_end' | 'currency' | 'line_items'
> & {
  line_items: LineItemView[];
};
export type UpcomingPreviewView = Omit<UpcomingInvoiceView, 'line_items'> & { line_items: LineItemView[] };
export type ChangePreviewView = Omit<PlanChangePreviewView, 'subscription' | 'invoice'> & {
  subscription: SubscriptionView;
  invoice: InvoicePreviewView | null;
};
export type ProductView = Static<typeof ProductSchema>;
export type InstrumentView = Static<typeof InstrumentSchema>;
export type BillingRunView = Static<typeof BillingRunSchema>;
export type StepCounts = BillingRunView['steps'];
export type AlertView = Static<typeof UsageAlertSchema>;
export type IngestResultView = Static<typeof IngestResultSchema>;
export type UsageDayView = Static<typeof UsageStatsSchema>;

/** An in-app notification (its schema is private to the notifications routes). */
export interface NotificationView {
  id: string;
  alert_id: string | null;
  title: string;
  body: string;
  created_at: string;
}

/** An item of the pay-as-you-go detail list (its schema is private to the payg routes). */
export interface DetailItemView {
  consumeTimeOfDay: string;
  orgName: string;
  productName: string;
  productDetail: string;
  billingKey: string;
  billingCycle: string;
  billingResult: number;
  deductionAmount: number;
  oweAmount: number;
  originAmount: number;
  serviceBillingAmount: number;
  couponAmount: number;
  storedCardAmount: number;
  cashAmount: number;
  cashCouldAmount: number;
  commodityCategory: string;
  consumePlatform: string;
  customerIdentifier: string;
  consumption: string;
  workspaceUuid: string;
  workspaceName: string;
  consumeTime: number;
  tag6: string;
  billingResultDetails: { instrument: string; amount: number }[];
  count: number;
}
