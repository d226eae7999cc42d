import { addCalendarDays } from '../../core/billing-calendar.js';
import { yearIn } from '../../core/calendar.js';
import { AppError, notFound } from '../../core/errors.js';
import { formatInvoiceNumber } from '../../core/invoice-math.js';
import { fail, ok, type Result } from '../../core/result.js';
import type { DbTransaction } from '../../db/database.js';
import type { TenantScope } from '../../core/principal.js';
import { findTenant, type TenantRow } from '../tenants/repository.js';
import type { RecordRequest } from './record-request.js';
import { directRecordWrites, type RecordWrites } from './record-writes.js';
import { lockRecord, type RecordRow } from './repository.js';
import { buildSearchText } from './search-text.js';

/** What of the tenant finalising one of its records needs: its invoice year's zone and its payment terms. */
export type InvoicingTerms = Pick<TenantRow, 'time_zone' | 'payment_terms_days'>;

export interface NumberInvoiceArgs {
  trx: DbTransaction;
  scope: TenantScope;
  now: Date;
  /** The tenant's zone and terms; read when not given. */
  tenant?: InvoicingTerms | undefined;
  writes?: RecordWrites | undefined;
}

/** What finalising a record at `now` gives it: the next invoice number and its due date. */
export interface Finalization {
  invoiceNumber: string;
  /** `now` + the tenant's payment terms in calendar days of its time zone: unpaid after it, the record is overdue. */
  dueAt: Date;
}

/**
 * The next invoice number of the tenant's year at `now` (in its time zone), and the due date.
 * Call it in the transaction that writes the number: the counter row stays locked until it ends
 * and a rollback gives the number back, which keeps numbers gapless.
 */
export const numberInvoice = async ({
  trx,
  scope,
  now,
  tenant: known,
  writes = directRecordWrites,
}: NumberInvoiceArgs): Promise<Result<Finalization>> => {
  const tenant = known ?? (await findTenant(trx, scope));
  if (tenant === undefined) return fail(notFound('tenant'));
  const year = yearIn(now, tenant.time_zone);
  return ok({
    invoiceNumber: formatInvoiceNumber(year, await writes.nextInvoiceSeq(trx, scope, year)),
    dueAt: addCalendarDays(now, tenant.payment_terms_days, tenant.time_zone),
  });
};

/** A finalised record is found by its invoice number too. */
export const finalizedSearchText = (invoiceNumber: string, draftSearchText: string): string =>
  buildSearchText([invoiceNumber, draftSearchText]);

/**
 * Draft → pending with the next invoice number of the tenant's year (in its time zone). Takes a
 * transaction: the number and the status commit together or not at all, which keeps them gapless.
 */
export const finalizeRecord = async ({
  trx,
  clock,
  scope,
  recordId,
  actor,
}: RecordRequest): Promise<Result<RecordRow>> => {
  const record = await lockRecord(trx, scope, recordId);
  if (record === undefined) return fail(notFound('billing record'));
  if (record.status !== 'draft') {
    return fail(new AppError('conflict', `billing record ${recordId} is already finalised (status ${record.status})`));
  }
  const now = clock.now();
  const finalization = await numberInvoice({ trx, scope, now });
  if (!finalization.ok) return finalization;
  const { invoiceNumber, dueAt } = finalization.value;
  const updated = await directRecordWrites.updateRecord({
    trx,
    scope,
    record,
    patch: {
      status: 'pending',
      invoice_number: invoiceNumber,
      finalized_at: now,
      due_at: dueAt,
      search_text: finalizedSearchText(invoiceNumber, record.search_text),
      updated_at: now,
    },
    event: { from_status: 'draft', to_status: 'pending', actor, reason: null, occurred_at: now },
  });
  return ok(updated);
};
