import { AppError, notFound } from '../../core/errors.js';
import { fail, ok, type Result } from '../../core/result.js';
import type { TenantTransaction } from '../tenant-context.js';
import { directRecordWrites, type RecordWrites } from './record-writes.js';
import { lockRecord, type RecordRow } from './repository.js';
import { nextStatus, recordActions, type RecordAction } from './status.js';

/** A status action on a record by `actor`, with the reason its history gives. */
export interface RecordMove extends TenantTransaction {
  action: RecordAction;
  actor: string;
  reason?: string | undefined;
}

/** Applies one status action under the record's row lock; an illegal move is a 409 naming both ends. */
export const moveRecord = async ({
  recordId,
  ...move
}: RecordMove & { recordId: string }): Promise<Result<RecordRow>> => {
  const record = await lockRecord(move.trx, move.scope, recordId);
  if (record === undefined) return fail(notFound('billing record'));
  return moveLockedRecord({ ...move, record });
};

export interface LockedRecordMove extends RecordMove {
  /** Locked by the caller, as it is now (no second read). */
  record: RecordRow;
  /** What has been paid by now, when the move comes with a payment. */
  paid?: bigint | undefined;
  writes?: RecordWrites | undefined;
}

/** The same for a record the caller has locked. */
export const moveLockedRecord = async ({
  trx,
  clock,
  scope,
  record,
  action,
  actor,
  reason,
  paid,
  writes = directRecordWrites,
}: LockedRecordMove): Promise<Result<RecordRow>> => {
  const to = nextStatus(record.status, action);
  if (to === null) {
    return fail(
      new AppError(
        'conflict',
        `cannot ${action.replace('_', ' ')} billing record ${record.id}: its status is ${record.status}, the action needs ${recordActions[action].from.join(' or ')}`,
      ),
    );
  }
  const now = clock.now();
  const patch = { status: to, updated_at: now, ...(paid === undefined ? {} : { amount_paid: paid }) };
  const event = { from_status: record.status, to_status: to, actor, reason: reason ?? null, occurred_at: now };
  return ok(await writes.updateRecord({ trx, scope, record, patch, event }));
};
