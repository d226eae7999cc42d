import { notFound } from '../../core/errors.js';
import type { TenantScope } from '../../core/principal.js';
import { fail, ok, type Result } from '../../core/result.js';
import type { Db } from '../../db/database.js';
import type { PaymentMethod } from '../../db/schema.js';
import { findRecord, type EventRow, type RecordWithLines } from '../billing-records/repository.js';
import { providerOfPaidReason } from '../subscriptions/payment-reason.js';
import { findTenant } from '../tenants/repository.js';
import type { DocumentData, DocumentIssuer } from './content.js';
import type { DocumentLocale } from './format.js';
import type { PaymentMethodName } from './labels.js';
import { paygDayOf, subscriptionPeriodOf, usageOf } from './repository.js';

const providerMethod: Record<PaymentMethod, PaymentMethodName> = {
  manual: 'manual',
  sandbox_success: 'sandbox',
  sandbox_decline: 'sandbox',
};

/**
 * How a record was paid, from its own history (so a paid invoice's document never changes after):
 * the credit balance for what it paid, then the provider its move to paid names, else an admin's
 * mark (offline). Unpaid, how it will be collected. Nothing for a record of no amount.
 */
const paymentMethodsOf = (
  record: RecordWithLines & { events: EventRow[] },
  subscriptionMethod: PaymentMethod | undefined,
  payg: boolean,
): PaymentMethodName[] => {
  if (record.total_amount === 0n) return [];
  const methods: PaymentMethodName[] = [];
  if (record.amount_paid > 0n) methods.push('credit_balance');
  if (payg) methods.push('payg_deduction');
  const rest = record.amount_paid < record.total_amount;
  if (record.status === 'paid' || record.status === 'refunded') {
    const paid = record.events.findLast((event) => event.to_status === 'paid');
    const provider = providerOfPaidReason(paid?.reason ?? null);
    if (provider !== undefined) methods.push(providerMethod[provider]);
    else if (rest && !payg) methods.push('manual');
  } else if (rest && subscriptionMethod !== undefined) {
    methods.push(providerMethod[subscriptionMethod]);
  }
  return methods;
};

export interface DocumentRequest {
  db: Db;
  scope: TenantScope;
  recordId: string;
  /** `?lang=`, else the tenant's language. */
  lang: DocumentLocale | undefined;
  issuer: () => Promise<DocumentIssuer>;
}

/** Reads everything a record's document shows; 404 for a record the tenant does not have. */
export const readDocumentData = async ({
  db,
  scope,
  recordId,
  lang,
  issuer,
}: DocumentRequest): Promise<Result<{ data: DocumentData; locale: DocumentLocale }>> => {
  const [tenant, record] = await Promise.all([findTenant(db, scope), findRecord(db, scope, recordId)]);
  if (tenant === undefined) return fail(notFound('tenant'));
  if (record === undefined) return fail(notFound('billing record'));
  const [subscription, usage, payg, operator] = await Promise.all([
    record.type === 'subscription' ? subscriptionPeriodOf(db, scope, recordId) : undefined,
    record.type === 'usage' ? usageOf(db, scope, recordId) : [],
    record.type === 'payg' ? paygDayOf(db, scope, recordId, tenant.time_zone) : undefined,
    issuer(),
  ]);
  const usagePeriod =
    usage.length === 0
      ? null
      : {
          start: new Date(Math.min(...usage.map((row) => row.periodStart.getTime()))),
          end: new Date(Math.max(...usage.map((row) => row.periodEnd.getTime()))),
        };
  const data: DocumentData = {
    record,
    customer: {
      id: tenant.id,
      name: tenant.name,
      timeZone: tenant.time_zone,
      legalName: tenant.billing_legal_name,
      address: tenant.billing_address,
      taxId: tenant.billing_tax_id,
      email: tenant.billing_email,
    },
    issuer: operator,
    servicePeriod:
      subscription !== undefined
        ? { start: subscription.period_start, end: subscription.period_end }
        : (payg?.period ?? usagePeriod),
    paymentMethods: paymentMethodsOf(record, subscription?.payment_method, payg !== undefined),
    usage,
    payg: payg?.lines ?? [],
  };
  return ok({ data, locale: lang ?? tenant.locale });
};
