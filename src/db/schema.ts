import type { ColumnType, Generated } from 'kysely';
import type { BillingCycle } from '../core/billing-calendar.js';
import type { ChargeModelName, StoredTier } from '../core/charge-models.js';
import type { ImageType } from '../core/images.js';
import type { Locale } from '../core/locales.js';
import type { MetricAggregation } from '../core/resources.js';

/** Timestamps are written as Date and always read back as Date on both drivers. */
type Timestamp = ColumnType<Date, Date, Date>;

export interface TenantsTable {
  id: string;
  name: string;
  currency: string;
  time_zone: string;
  /** numeric(7,6): decimal text, never a float. */
  tax_rate: string;
  admin_user_id: string;
  status: 'active' | 'suspended' | 'closed';
  /** Days after finalisation an invoice is due (0: on receipt). */
  payment_terms_days: Generated<number>;
  created_at: Timestamp;
  updated_at: Timestamp;
  /** The test clock whose time the tenant lives in; null: real time. Fixed at creation. */
  test_clock_id: ColumnType<string | null, string | null | undefined, never>;
  /** The billing profile: who the tenant's invoices are addressed to (each null: not given). */
  billing_legal_name: ColumnType<string | null, string | null | undefined, string | null>;
  billing_address: ColumnType<string | null, string | null | undefined, string | null>;
  billing_tax_id: ColumnType<string | null, string | null | undefined, string | null>;
  /** Where finalised invoices are emailed; null: not emailed. */
  billing_email: ColumnType<string | null, string | null | undefined, string | null>;
  /** The language of the tenant's documents; absent on insert: `zh-CN` for CNY, else `en` (a trigger). */
  locale: ColumnType<Locale, Locale | undefined, Locale>;
}

export interface TestClocksTable {
  id: string;
  name: string | null;
  frozen_time: Timestamp;
  status: 'ready' | 'advancing';
  /** While advancing: the instant the advance goes to. */
  advancing_to: Date | null;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface AppsTable {
  tenant_id: string;
  id: string;
  name: string;
  status: 'active' | 'disabled';
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface PlansTable {
  id: string;
  name: string;
  description: Generated<string>;
  status: 'active' | 'archived';
  current_version: number;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface PlanVersionsTable {
  plan_id: string;
  version: number;
  currency: string;
  monthly_price: bigint | null;
  yearly_price: bigint | null;
  trial_days: number;
  grace_period_days: number;
  downgrade_policy: 'at_period_end' | 'immediate';
  created_at: Timestamp;
}

export interface PlanVersionResourcesTable {
  plan_id: string;
  version: number;
  resource_type: string;
  /** The free units: included units (per_unit, package), the leading free tiers' units (graduated, volume). */
  included_units: bigint;
  charge_model: ChargeModelName;
  /** per_unit only. */
  overage_unit_price: string | null;
  /** graduated and volume only: written as JSON text, read as the list. */
  tiers: ColumnType<StoredTier[] | null, string | null, never>;
  /** package only. */
  package_size: bigint | null;
  package_price: string | null;
}

export interface ApiKeysTable {
  tenant_id: string;
  id: string;
  name: string;
  app_id: string | null;
  key_prefix: string;
  secret_hash: string;
  created_by: string;
  created_at: Timestamp;
  revoked_at: Timestamp | null;
  revoked_by: string | null;
}

export type RecordType = 'subscription' | 'usage' | 'proration' | 'payg' | 'top_up' | 'one_time';
export type RecordStatus = 'draft' | 'pending' | 'paid' | 'failed' | 'refunded';

export interface BillingRecordsTable {
  tenant_id: string;
  id: string;
  app_id: string | null;
  type: RecordType;
  status: RecordStatus;
  currency: string;
  description: string;
  amount: bigint;
  tax_amount: bigint;
  total_amount: bigint;
  invoice_number: string | null;
  search_text: string;
  /** Paid so far from the credit balance; the record is paid when it reaches total_amount. */
  amount_paid: Generated<bigint>;
  created_at: Timestamp;
  finalized_at: Timestamp | null;
  /** Set when finalised: finalized_at + the tenant's payment terms. */
  due_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
  /** When the record was found unpaid after due_at (its `billing_record.overdue` event's time). */
  overdue_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
  updated_at: Timestamp;
}

/**
 * Finalised records (every status but draft) per tenant, UTC day or month, app and status, kept by
 * triggers on billing_records: noted by the statement that changes them, moved here at its
 * transaction's commit (migration 0016). Read only; a transaction sees its own changes here once
 * it has committed.
 */
export interface BillingRecordCountsTable {
  tenant_id: string;
  span: 'day' | 'month';
  /** The UTC day, or the first day of the UTC month (YYYY-MM-DD). */
  start: string;
  /** '' for records without an app. */
  app_id: string;
  status: Exclude<RecordStatus, 'draft'>;
  n: bigint;
}

/** Changes to billing_record_counts noted by transactions in flight (empty once they end). Triggers' only. */
export interface BillingRecordCountDeltasTable {
  tenant_id: string;
  txid: string;
  span: 'day' | 'month';
  start: string;
  app_id: string;
  status: Exclude<RecordStatus, 'draft'>;
  n: bigint;
}

/** One row per transaction with noted counter changes, until its commit moves them. Triggers' only. */
export interface BillingRecordCountFlushesTable {
  txid: string;
}

export interface BillingRecordLinesTable {
  tenant_id: string;
  record_id: string;
  line_no: number;
  description: string;
  resource_type: string;
  quantity: bigint;
  /** numeric in major units: decimal text. */
  unit_price: string;
  amount: bigint;
  tax_rate: string;
  tax_amount: bigint;
}

export interface BillingRecordEventsTable {
  tenant_id: string;
  record_id: string;
  seq: number;
  from_status: RecordStatus | null;
  to_status: RecordStatus;
  actor: string;
  reason: string | null;
  occurred_at: Timestamp;
}

export interface InvoiceSequencesTable {
  tenant_id: string;
  year: number;
  last_seq: number;
}

export interface IdempotencyKeysTable {
  tenant_id: string;
  key: string;
  fingerprint: string;
  response_status: number;
  response_body: ColumnType<unknown, string, string>;
  created_at: Timestamp;
  expires_at: Timestamp;
}

export interface LedgerAccountsTable {
  tenant_id: string;
  id: string;
  kind: string;
  currency: string;
  allow_overdraft: boolean;
  balance: Generated<bigint>;
  version: Generated<bigint>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export type LedgerTransactionType = 'credit' | 'debit';

export interface LedgerTransactionsTable {
  tenant_id: string;
  id: string;
  type: LedgerTransactionType;
  amount: bigint;
  source: string;
  source_id: string | null;
  remark: Generated<string>;
  created_at: Timestamp;
  /** The tenant-side account (`cash` or an instrument's) and the version its entry took there: the posting order. */
  account_id: string;
  account_version: bigint;
}

export interface LedgerEntriesTable {
  tenant_id: string;
  account_id: string;
  account_version: bigint;
  transaction_id: string;
  amount: bigint;
  balance_after: bigint;
  created_at: Timestamp;
}

export type SubscriptionStatus = 'trialing' | 'active' | 'past_due' | 'suspended' | 'canceled' | 'expired';

/** The statuses of a tenant's one live subscription (the others have ended). */
export const liveStatuses = ['trialing', 'active', 'past_due', 'suspended'] as const satisfies SubscriptionStatus[];
export type PaymentMethod = 'manual' | 'sandbox_success' | 'sandbox_decline';

export interface SubscriptionsTable {
  tenant_id: string;
  id: string;
  plan_id: string;
  plan_version: number;
  admin_user_id: string;
  status: SubscriptionStatus;
  billing_cycle: BillingCycle;
  /** Price per cycle of the pinned plan version, minor units. */
  amount: bigint;
  currency: string;
  billing_anchor: Timestamp;
  period_index: number;
  current_period_start: Timestamp;
  current_period_end: Timestamp;
  trial_end_date: Timestamp | null;
  /** When `subscription.trial_will_end` is due: three days before the trial ends, or its start if sooner. */
  trial_will_end_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
  /** Set when that event was written (to its time): once per trial. */
  trial_will_end_sent_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
  grace_period_days: number;
  auto_renew: boolean;
  cancel_at_period_end: boolean;
  payment_method: PaymentMethod;
  scheduled_plan_id: string | null;
  scheduled_plan_version: number | null;
  scheduled_billing_cycle: BillingCycle | null;
  open_record_id: string | null;
  past_due_since: Timestamp | null;
  grace_ends_at: Timestamp | null;
  next_payment_attempt_at: Timestamp | null;
  payment_attempts: Generated<number>;
  ended_at: Timestamp | null;
  next_run_at: Timestamp | null;
  metering_closes_at: Generated<Date | null>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface SubscriptionPeriodsTable {
  tenant_id: string;
  subscription_id: string;
  period_start: Timestamp;
  period_end: Timestamp;
  plan_id: string;
  plan_version: number;
  billing_cycle: BillingCycle;
  amount: bigint;
  record_id: string;
  created_at: Timestamp;
}

export interface SubscriptionEventsTable {
  tenant_id: string;
  subscription_id: string;
  seq: number;
  kind: string;
  from_status: SubscriptionStatus | null;
  to_status: SubscriptionStatus;
  plan_id: string;
  billing_cycle: BillingCycle;
  record_id: string | null;
  actor: string;
  reason: string | null;
  occurred_at: Timestamp;
}

/** How a day's events of a metric roll up in usage_daily (unique_count is kept apart, in usage_distinct_*). */
export type Aggregation = Exclude<MetricAggregation, 'unique_count'>;

export interface BillableMetricsTable {
  code: string;
  name: string;
  aggregation: MetricAggregation;
  field: string | null;
  built_in: Generated<boolean>;
  used_at: Timestamp | null;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface UsageDistinctValuesTable {
  tenant_id: string;
  metric: string;
  period_from: ColumnType<string, string, string>;
  value: string;
  /** '' for all the tenant's apps. */
  app_id: string;
  days: string;
}

export interface UsageDistinctCountsTable {
  tenant_id: string;
  metric: string;
  span: 'day' | 'period';
  /** '' for all the tenant's apps. */
  app_id: string;
  start: ColumnType<string, string, string>;
  quantity: bigint;
  last_day: ColumnType<string, string, string>;
  updated_at: Timestamp;
}

export interface UsageEventsTable {
  tenant_id: string;
  event_id: string;
  app_id: string;
  resource_type: string;
  quantity: bigint;
  occurred_at: Timestamp;
  /** YYYY-MM-DD in the tenant's time zone. */
  usage_date: ColumnType<string, string, string>;
  properties: ColumnType<unknown, string, string>;
  fingerprint: string;
  received_at: Timestamp;
}

export interface UsageDailyTable {
  tenant_id: string;
  app_id: string;
  resource_type: string;
  usage_date: ColumnType<string, string, string>;
  aggregation: Aggregation;
  quantity: bigint;
  latest_at: Timestamp;
  event_count: bigint;
  updated_at: Timestamp;
}

export interface MeteredBillingsTable {
  tenant_id: string;
  subscription_id: string;
  resource_type: string;
  period_start: Timestamp;
  period_end: Timestamp;
  usage_from: ColumnType<string, string, string>;
  usage_until: ColumnType<string, string, string>;
  total_usage: bigint;
  included_units: bigint;
  /** The billable units: above included_units, or for volume all of them once past it. */
  overage_units: bigint;
  /** The charge model the period bills by, as its plan version had it (see plan_version_resources). */
  charge_model: ChargeModelName;
  overage_unit_price: string | null;
  tiers: ColumnType<StoredTier[] | null, string | null, never>;
  package_size: bigint | null;
  package_price: string | null;
  /** What the usage costs, exact (before rounding per invoice line). */
  overage_amount: string;
  status: 'pending' | 'invoiced';
  closes_at: Timestamp;
  record_id: string | null;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface UsageAlertsTable {
  tenant_id: string;
  id: string;
  app_id: string | null;
  name: string;
  resource_type: string;
  threshold_percent: number;
  /** Comma list, as the API carries it: "email,in_app". */
  notification_channels: string;
  email_recipients: string | null;
  webhook_url: string | null;
  webhook_secret: string | null;
  status: 'active' | 'disabled';
  last_triggered_at: Timestamp | null;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface UsageAlertFiringsTable {
  tenant_id: string;
  alert_id: string;
  period_start: Timestamp;
  usage: bigint;
  included_units: bigint;
  fired_at: Timestamp;
}

export interface NotificationsTable {
  tenant_id: string;
  id: string;
  alert_id: string | null;
  title: string;
  body: string;
  created_at: Timestamp;
}

export interface NotificationOutboxTable {
  tenant_id: string;
  id: string;
  alert_id: string | null;
  signing_secret: string | null;
  channel: 'email' | 'webhook';
  destination: string;
  subject: string;
  payload: ColumnType<unknown, string, string>;
  status: 'pending' | 'sent' | 'failed';
  attempts: Generated<number>;
  next_attempt_at: Timestamp | null;
  last_error: string | null;
  created_at: Timestamp;
  sent_at: Timestamp | null;
}

/** The platform operator printed on every invoice: at most one row (`id` is always true). */
export interface DocumentIssuerTable {
  id: ColumnType<true, true | undefined, never>;
  legal_name: string;
  address: string | null;
  tax_id: string | null;
  email: string | null;
  phone: string | null;
  /** Buffer on the pg driver, Uint8Array on PGlite. */
  logo: Uint8Array | null;
  logo_type: ImageType | null;
  updated_at: Timestamp;
  updated_by: string;
}

export interface ExportAuditLogTable {
  id: string;
  event: 'started' | 'completed' | 'failed';
  requested_by: string;
  user_id: string;
  tenant_filter: string | null;
  tenant_ids: string[];
  row_counts: ColumnType<unknown, string | null, string | null>;
  error: string | null;
  occurred_at: Timestamp;
}

export type PaygCycle = 'Day' | 'Month' | 'Year' | 'Single';
export type InstrumentKind = 'coupon' | 'stored_card' | 'cloud_marketplace';

export interface PaygProductsTable {
  billing_key: string;
  display_name: string;
  unit_price: string;
  billing_cycle: PaygCycle;
  category: 'subscription' | 'pay-as-you-go';
  status: 'active' | 'archived';
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface PaygInstrumentsTable {
  tenant_id: string;
  id: string;
  kind: InstrumentKind;
  account_id: string;
  issued_amount: bigint;
  valid_from: Timestamp | null;
  valid_to: Timestamp | null;
  product_keys: string[] | null;
  customer_identifier: string | null;
  created_at: Timestamp;
}

export interface PaygSettlementsTable {
  tenant_id: string;
  settled_day: ColumnType<string, string, string>;
  lines: number;
  record_id: string | null;
  settled_at: Timestamp;
}

export interface PaygSettlementLinesTable {
  tenant_id: string;
  settled_day: ColumnType<string, string, string>;
  app_id: string;
  billing_key: string;
  consumption: bigint;
  unit_price: string;
  origin_amount: string;
  billing_result: bigint;
  coupon_amount: bigint;
  stored_card_amount: bigint;
  cash_amount: bigint;
  cloud_marketplace_amount: bigint;
  owe_amount: bigint;
  currency: string;
  settled_at: Timestamp;
}

export interface PaygDeductionsTable {
  tenant_id: string;
  settled_day: ColumnType<string, string, string>;
  app_id: string;
  billing_key: string;
  seq: number;
  instrument_id: string;
  amount: bigint;
  transaction_id: string;
}

export interface EventsTable {
  tenant_id: string;
  /** `evt_` + time + randomness: id order is time order. */
  id: string;
  type: string;
  app_id: string | null;
  created_at: Date;
  /** The changed object as the API shows it; written as JSON text. */
  data: ColumnType<Record<string, unknown>, string, never>;
}

export interface WebhookEndpointsTable {
  /** `we_` + 16 random characters. */
  id: string;
  /** null: platform-wide, receives every tenant's events. */
  tenant_id: string | null;
  url: string;
  /** null: every type; else exact types and `object.*` patterns. Written as JSON text. */
  event_types: ColumnType<string[] | null, string | null, string | null>;
  description: string | null;
  enabled: boolean;
  disabled_reason: 'manual' | 'failing' | null;
  secret: string;
  /** Still signed with for 24 h after a rotation. */
  previous_secret: string | null;
  previous_secret_expires_at: Date | null;
  failing_since: Date | null;
  created_at: Date;
  updated_at: Date;
  deleted_at: Date | null;
}

export interface WebhookDeliveriesTable {
  id: string;
  endpoint_id: string;
  /** The event's tenant; null for a test ping. */
  tenant_id: string | null;
  event_id: string;
  event_type: string;
  /** A test ping's body (it has no event row). Written as JSON text. */
  ping: ColumnType<Record<string, unknown> | null, string | null, never>;
  status: 'pending' | 'delivered' | 'failed';
  attempts: Generated<number>;
  /** Pending: due then (null: at once). */
  next_attempt_at: Date | null;
  /** While an attempt is in flight: its claim's end. */
  leased_until: Date | null;
  first_attempted_at: Date | null;
  last_attempted_at: Date | null;
}

export interface WebhookDeliveryAttemptsTable {
  delivery_id: string;
  attempt: number;
  tenant_id: string | null;
  endpoint_id: string;
  kind: 'scheduled' | 'resend' | 'test';
  started_at: Date;
  latency_ms: number;
  http_status: number | null;
  error: string | null;
  response_body: string | null;
}

export interface Database {
  test_clocks: TestClocksTable;
  tenants: TenantsTable;
  apps: AppsTable;
  plans: PlansTable;
  plan_versions: PlanVersionsTable;
  plan_version_resources: PlanVersionResourcesTable;
  api_keys: ApiKeysTable;
  billing_records: BillingRecordsTable;
  billing_record_lines: BillingRecordLinesTable;
  billing_record_counts: BillingRecordCountsTable;
  billing_record_count_deltas: BillingRecordCountDeltasTable;
  billing_record_count_flushes: BillingRecordCountFlushesTable;
  billing_record_events: BillingRecordEventsTable;
  invoice_sequences: InvoiceSequencesTable;
  idempotency_keys: IdempotencyKeysTable;
  ledger_accounts: LedgerAccountsTable;
  ledger_transactions: LedgerTransactionsTable;
  ledger_entries: LedgerEntriesTable;
  subscriptions: SubscriptionsTable;
  subscription_periods: SubscriptionPeriodsTable;
  subscription_events: SubscriptionEventsTable;
  usage_events: UsageEventsTable;
  usage_daily: UsageDailyTable;
  billable_metrics: BillableMetricsTable;
  usage_distinct_values: UsageDistinctValuesTable;
  usage_distinct_counts: UsageDistinctCountsTable;
  metered_billings: MeteredBillingsTable;
  usage_alerts: UsageAlertsTable;
  usage_alert_firings: UsageAlertFiringsTable;
  notifications: NotificationsTable;
  notification_outbox: NotificationOutboxTable;
  export_audit_log: ExportAuditLogTable;
  document_issuer: DocumentIssuerTable;
  payg_products: PaygProductsTable;
  payg_instruments: PaygInstrumentsTable;
  payg_settlements: PaygSettlementsTable;
  payg_settlement_lines: PaygSettlementLinesTable;
  payg_deductions: PaygDeductionsTable;
  events: EventsTable;
  webhook_endpoints: WebhookEndpointsTable;
  webhook_deliveries: WebhookDeliveriesTable;
  webhook_delivery_attempts: WebhookDeliveryAttemptsTable;
}
