import { yearIn } from '../../core/calendar.js';
import type { Clock } from '../../core/clock.js';
import { AppError, notFound } from '../../core/errors.js';
import { formatInvoiceNumber } from '../../core/invoice-math.js';
import { fail, ok, type Result } from '../../core/result.js';
import type { Db } from '../../db/database.js';
import type { TenantScope } from '../auth/principal.js';
import { findTenant } from '../tenants/repository.js';
import { appendEvent, lockRecord, nextInvoiceSeq, updateRecord, type RecordRow } from './repository.js';
import { buildSearchText } from './search-text.js';

/**
 * Draft → pending with the next invoice number of the tenant's year (in its time zone). Takes a
 * transaction: the number and the status commit together or not at all, which keeps them gapless.
 */
export const finalizeRecord = async (
  trx: Db,
  clock: Clock,
  scope: TenantScope,
  recordId: string,
  actor: string,
): Promise<Result<RecordRow>> => {
  const record = await lockRecord(trx, scope, recordId);
  if (record === undefined) return fail(notFound('billing record'));
  if (record.status !== 'draft') {
    return fail(new AppError('conflict', `billing record ${recordId} is already finalised (status ${record.status})`));
  }
  const tenant = await findTenant(trx, scope);
  if (tenant === undefined) return fail(notFound('tenant'));
  const now = clock.now();
  const year = yearIn(now, tenant.time_zone);
  const invoiceNumber = formatInvoiceNumber(year, await nextInvoiceSeq(trx, scope, year));
  const updated = await updateRecord(trx, scope, recordId, {
    status: 'pending',
    invoice_number: invoiceNumber,
    finalized_at: now,
    search_text: buildSearchText([invoiceNumber, record.search_text]),
    updated_at: now,
  });
  await appendEvent(trx, scope, recordId, {
    from_status: 'draft',
    to_status: 'pending',
    actor,
    reason: null,
    occurred_at: now,
  });
  return ok(updated);
};
