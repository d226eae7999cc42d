import { toRfc3339 } from '../../core/clock.js';
import { toMajorNumber } from '../../core/money.js';
import type { RecordWithLines } from '../billing-records/repository.js';
import { toRecordView } from '../billing-records/view.js';
import type { PlanChangePreview } from './preview-plan-change.js';
import type { UpcomingInvoice } from './preview-upcoming-invoice.js';
import type { PlanChangePreviewView, UpcomingInvoiceView } from './schemas.js';
import { toSubscriptionView } from './view.js';

/** Invoices that would be issued, as one: their lines in order, their money summed. */
export const toInvoicePreviewView = (records: readonly RecordWithLines[], currency: string) => {
  const sum = (field: 'amount' | 'tax_amount' | 'total_amount' | 'amount_paid') =>
    records.reduce((total, record) => total + record[field], 0n);
  const major = (minor: bigint) => toMajorNumber(minor, currency);
  return {
    line_items: records.flatMap((record) => toRecordView(record).line_items),
    amount: major(sum('amount')),
    tax_amount: major(sum('tax_amount')),
    total_amount: major(sum('total_amount')),
    // Collection pays from the credit balance first, and only that counts in amount_paid.
    credit_applied: major(sum('amount_paid')),
    amount_due: major(sum('total_amount') - sum('amount_paid')),
  };
};

export const toUpcomingInvoiceView = (upcoming: UpcomingInvoice): UpcomingInvoiceView => ({
  period_start: toRfc3339(upcoming.periodStart),
  period_end: toRfc3339(upcoming.periodEnd),
  currency: upcoming.currency,
  ...toInvoicePreviewView(upcoming.records, upcoming.currency),
});

export const toPlanChangePreviewView = (preview: PlanChangePreview): PlanChangePreviewView => ({
  effective: preview.effective,
  subscription: toSubscriptionView(preview.sub),
  invoice: preview.invoice === null ? null : toInvoicePreviewView([preview.invoice], preview.invoice.currency),
  credit: preview.credit === null ? null : { amount: toMajorNumber(preview.credit, preview.sub.currency) },
});
