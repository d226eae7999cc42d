import type { EventRow, RecordWithLines } from '../billing-records/repository.js';
import type { Issuer } from '../issuer/read-issuer.js';
import type { MeteredBilling } from '../metering/list-metered-billings.js';
import { formatDay, formatMoney, formatNumber, formatRate, formatUnitPrice, type DocumentLocale } from './format.js';
import { labelsFor, type DocumentLabels, type PaymentMethodName } from './labels.js';

/** The platform operator, on every document. */
export type DocumentIssuer = Pick<Issuer, 'legalName' | 'address' | 'taxId' | 'email' | 'phone' | 'logo'>;

/** The tenant as its documents show it. */
interface DocumentCustomer {
  id: string;
  name: string;
  timeZone: string;
  legalName: string | null;
  address: string | null;
  taxId: string | null;
  email: string | null;
}

/** A metered period a usage record invoices, as the metering API shows it. */
export type UsageSummaryRow = Pick<
  MeteredBilling,
  'resourceType' | 'periodStart' | 'periodEnd' | 'totalUsage' | 'includedUnits' | 'overageUnits' | 'overageAmount'
>;

export interface PaygDeductionRow {
  settledDay: string;
  appId: string;
  billingKey: string;
  consumption: bigint;
  amount: bigint;
  coupon: bigint;
  storedCard: bigint;
  cash: bigint;
  marketplace: bigint;
  owed: bigint;
}

/** Everything a billing record's document says, read in one place (read-document.ts). */
export interface DocumentData {
  record: RecordWithLines & { events: EventRow[] };
  customer: DocumentCustomer;
  issuer: DocumentIssuer;
  /** The span the record bills, end exclusive (a subscription or metered period, a settled day). */
  servicePeriod: { start: Date; end: Date } | null;
  paymentMethods: PaymentMethodName[];
  usage: UsageSummaryRow[];
  payg: PaygDeductionRow[];
}

export interface DocumentTable {
  headers: readonly string[];
  rows: string[][];
  /** Column indexes that hold numbers: right-aligned. */
  numeric: readonly number[];
}

/** The document in words and figures, the same for the PDF and the printable page. */
export interface DocumentContent {
  locale: DocumentLocale;
  labels: DocumentLabels;
  title: string;
  draft: boolean;
  fileName: string;
  /** The record's own instant: the PDF's creation date, so its bytes do not change while the record doesn't. */
  createdAt: Date;
  issuer: { name: string; details: string[]; logo: DocumentIssuer['logo'] };
  customer: { name: string; details: string[] };
  facts: [string, string][];
  description: string;
  lines: DocumentTable;
  usage: DocumentTable | null;
  payg: DocumentTable | null;
  totals: { label: string; value: string; strong: boolean }[];
  note: string;
}

const present = (values: (string | null | false)[]): string[] =>
  values.filter((value): value is string => typeof value === 'string' && value !== '');

/** The last day a period covers: its end is exclusive. */
const lastDay = (end: Date): Date => new Date(end.getTime() - 1);

export const buildDocumentContent = (data: DocumentData, locale: DocumentLocale): DocumentContent => {
  const { record, customer, issuer } = data;
  const labels = labelsFor[locale];
  const money = (minor: bigint) => formatMoney(minor, record.currency, locale);
  const day = (instant: Date) => formatDay(instant, customer.timeZone, locale);
  const period = (start: Date, end: Date) => labels.periodRange(day(start), day(lastDay(end)));
  const draft = record.status === 'draft';
  const issuedAt = record.finalized_at ?? record.created_at;
  const paid = record.status === 'paid' || record.status === 'refunded';
  const amountDue = paid ? 0n : record.total_amount - record.amount_paid;

  const facts: [string, string][] = [
    [labels.invoiceNumber, record.invoice_number ?? labels.draft],
    [labels.issueDate, day(issuedAt)],
    [labels.dueDate, record.due_at === null ? labels.none : day(record.due_at)],
    [
      labels.servicePeriod,
      data.servicePeriod === null ? labels.none : period(data.servicePeriod.start, data.servicePeriod.end),
    ],
    [labels.status, labels.statuses[record.status]],
    [
      labels.paymentMethod,
      data.paymentMethods.length === 0
        ? labels.none
        : data.paymentMethods.map((method) => labels.paymentMethods[method]).join(labels.listSeparator),
    ],
    [labels.type, labels.types[record.type]],
    [labels.currency, record.currency],
    ...(record.app_id === null ? [] : [[labels.app, record.app_id] as [string, string]]),
  ];

  const lines: DocumentTable = {
    headers: labels.lineHeaders,
    numeric: [0, 3, 4, 5, 6, 7],
    rows: record.lines.map((line) => [
      String(line.line_no),
      line.description,
      line.resource_type,
      formatNumber(line.quantity, locale),
      formatUnitPrice(line.unit_price, record.currency, locale),
      money(line.amount),
      formatRate(line.tax_rate, locale),
      money(line.tax_amount),
    ]),
  };

  const usage: DocumentTable | null =
    data.usage.length === 0
      ? null
      : {
          headers: labels.usageHeaders,
          numeric: [2, 3, 4, 5],
          rows: data.usage.map((row) => [
            row.resourceType,
            period(row.periodStart, row.periodEnd),
            formatNumber(row.totalUsage, locale),
            formatNumber(row.includedUnits, locale),
            formatNumber(row.overageUnits, locale),
            formatUnitPrice(row.overageAmount, record.currency, locale),
          ]),
        };

  const payg: DocumentTable | null =
    data.payg.length === 0
      ? null
      : {
          headers: labels.paygHeaders,
          numeric: [3, 4, 5, 6, 7, 8, 9],
          rows: data.payg.map((row) => [
            row.settledDay,
            row.appId,
            row.billingKey,
            formatNumber(row.consumption, locale),
            money(row.amount),
            money(row.coupon),
            money(row.storedCard),
            money(row.cash),
            money(row.marketplace),
            money(row.owed),
          ]),
        };

  return {
    locale,
    labels,
    title: labels.title,
    draft,
    fileName: `${record.invoice_number ?? `draft-${record.id}`}.pdf`,
    createdAt: issuedAt,
    issuer: {
      name: issuer.legalName,
      details: present([
        issuer.address,
        issuer.taxId !== null && `${labels.taxId}: ${issuer.taxId}`,
        issuer.email !== null && `${labels.email}: ${issuer.email}`,
        issuer.phone !== null && `${labels.phone}: ${issuer.phone}`,
      ]),
      logo: issuer.logo,
    },
    customer: {
      name: customer.legalName ?? customer.name,
      details: present([
        customer.address,
        customer.taxId !== null && `${labels.taxId}: ${customer.taxId}`,
        customer.email !== null && `${labels.email}: ${customer.email}`,
        `${labels.tenantId}: ${customer.id}`,
      ]),
    },
    facts,
    description: record.description,
    lines,
    usage,
    payg,
    totals: [
      { label: labels.subtotal, value: money(record.amount), strong: false },
      { label: labels.tax, value: money(record.tax_amount), strong: false },
      { label: labels.total, value: money(record.total_amount), strong: true },
      { label: labels.paidFromBalance, value: money(record.amount_paid), strong: false },
      { label: labels.amountDue, value: money(amountDue), strong: true },
    ],
    note: labels.notATaxInvoice,
  };
};
