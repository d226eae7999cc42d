import { yearIn } from '../../core/calendar.js';
import { AppError, notFound } from '../../core/errors.js';
import { formatInvoiceNumber } from '../../core/invoice-math.js';
import { fail, ok, type Result } from '../../core/result.js';
import type { DbTransaction } from '../../db/database.js';
import type { TenantScope } from '../../core/principal.js';
import { findTenant } from '../tenants/repository.js';
import type { RecordRequest } from './record-request.js';
import { directRecordWrites, type RecordWrites } from './record-writes.js';
import { lockRecord, type RecordRow } from './repository.js';
import { buildSearchText } from './search-text.js';

export interface NumberInvoiceArgs {
  trx: DbTransaction;
  scope: TenantScope;
  now: Date;
  /** The tenant's time zone; read when not given. */
  timeZone?: string | undefined;
  writes?: RecordWrites | undefined;
}

/**
 * The next invoice number of the tenant's year at `now` (in its time zone).
 * Call it in the transaction that writes the number: the counter row stays locked until it ends
 * and a rollback gives the number back, which keeps numbers gapless.
 */
export const numberInvoice = async ({
  trx,
  scope,
  now,
  timeZone,
  writes = directRecordWrites,
}: NumberInvoiceArgs): Promise<Result<string>> => {
  let zone = timeZone;
  if (zone === undefined) {
    const tenant = await findTenant(trx, scope);
    if (tenant === undefined) return fail(notFound('tenant'));
    zone = tenant.time_zone;
  }
  const year = yearIn(now, zone);
  return ok(formatInvoiceNumber(year, await writes.nextInvoiceSeq(trx, scope, year)));
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
  const invoiceNumber = await numberInvoice({ trx, scope, now });
  if (!invoiceNumber.ok) return invoiceNumber;
  const updated = await directRecordWrites.updateRecord({
    trx,
    scope,
    record,
    patch: {
      status: 'pending',
      invoice_number: invoiceNumber.value,
      finalized_at: now,
      search_text: finalizedSearchText(invoiceNumber.value, record.search_text),
      updated_at: now,
    },
    event: { from_status: 'draft', to_status: 'pending', actor, reason: null, occurred_at: now },
  });
  return ok(updated);
};
