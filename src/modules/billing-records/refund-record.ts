import { ok, type Result } from '../../core/result.js';
import { postCreditTransaction } from '../credit-ledger/post-credit-transaction.js';
import { moveRecord } from './move-record.js';
import type { RecordRequest } from './record-request.js';
import type { RecordRow } from './repository.js';

/**
 * Refunds a paid record to the tenant's credit balance: the status moves to refunded and its
 * total comes back as a `refund` credit. History is never edited; both are new rows.
 */
export const refundRecord = async ({
  trx,
  clock,
  scope,
  recordId,
  actor,
  reason,
}: RecordRequest & { reason?: string | undefined }): Promise<Result<RecordRow>> => {
  const moved = await moveRecord({ trx, clock, scope, recordId, action: 'refund', actor, reason });
  if (!moved.ok || moved.value.total_amount === 0n) return moved;
  const credited = await postCreditTransaction(trx, clock, scope, {
    type: 'credit',
    amount: moved.value.total_amount,
    source: 'refund',
    sourceId: recordId,
    remark: reason ?? `Refund of ${moved.value.invoice_number ?? recordId}`,
    currency: moved.value.currency,
  });
  return credited.ok ? ok(moved.value) : credited;
};
