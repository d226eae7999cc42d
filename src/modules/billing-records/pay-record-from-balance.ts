import { AppError, invalidParameter, notFound } from '../../core/errors.js';
import { describeAmountProblem, parseMajorAmount, toMajorNumber } from '../../core/money.js';
import { fail, ok, type Result } from '../../core/result.js';
import type { TenantTransaction } from '../tenant-context.js';
import { moveLockedRecord } from './move-record.js';
import type { RecordRequest } from './record-request.js';
import { directRecordWrites, type RecordWrites } from './record-writes.js';
import { lockRecord, type RecordRow } from './repository.js';

/**
 * Pays a pending or failed record from the tenant's credit balance, in full (the default: what
 * is still owed) or in part. The record turns paid when what was paid reaches its total. Locks
 * the record, then (inside the posting) the ledger accounts: always in that order.
 */
export const payRecordFromBalance = async ({
  trx,
  clock,
  scope,
  recordId,
  requestedAmount,
  actor,
}: RecordRequest & { requestedAmount?: number | undefined }): Promise<Result<RecordRow>> => {
  const record = await lockRecord(trx, scope, recordId);
  if (record === undefined) return fail(notFound('billing record'));
  if (record.status !== 'pending' && record.status !== 'failed') {
    return fail(
      new AppError(
        'conflict',
        `cannot pay billing record ${recordId}: its status is ${record.status}, paying needs pending or failed`,
      ),
    );
  }
  const outstanding = record.total_amount - record.amount_paid;
  let amount = outstanding;
  if (requestedAmount !== undefined) {
    const parsed = parseMajorAmount(requestedAmount, record.currency);
    if (!parsed.ok)
      return fail(invalidParameter('body', 'amount', describeAmountProblem(parsed.problem, record.currency)));
    if (parsed.minor === 0n || parsed.minor > outstanding) {
      return fail(
        invalidParameter(
          'body',
          'amount',
          `must be more than 0 and at most the ${toMajorNumber(outstanding, record.currency)} still owed`,
        ),
      );
    }
    amount = parsed.minor;
  }
  return applyBalancePayment({ trx, clock, scope, record, amount, actor });
};

export interface BalancePayment extends TenantTransaction {
  /** Locked by the caller, as it is now. */
  record: RecordRow;
  /** Minor units, at most what is still owed. */
  amount: bigint;
  actor: string;
  writes?: RecordWrites | undefined;
}

/** Debits `amount` from the credit balance for a record, and marks the record paid once everything is paid. */
export const applyBalancePayment = async ({
  trx,
  clock,
  scope,
  record,
  amount,
  actor,
  writes = directRecordWrites,
}: BalancePayment): Promise<Result<RecordRow>> => {
  if (amount > 0n) {
    const posted = await writes.postCredit(trx, clock, scope, {
      type: 'debit',
      amount,
      source: 'invoice_payment',
      sourceId: record.id,
      remark: `Payment of ${record.invoice_number ?? record.id}`,
      currency: record.currency,
    });
    if (!posted.ok) return posted;
  }
  const paid = record.amount_paid + amount;
  if (paid < record.total_amount) {
    return ok(await writes.updateRecord({ trx, scope, record, patch: { amount_paid: paid, updated_at: clock.now() } }));
  }
  // Paid in full: the payment and the move to paid are one update.
  return moveLockedRecord({
    trx,
    clock,
    scope,
    record,
    action: 'mark_paid',
    actor,
    reason: 'paid from the credit balance',
    paid,
    writes,
  });
};
