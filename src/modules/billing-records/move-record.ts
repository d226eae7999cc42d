import type { Clock } from '../../core/clock.js';
import { AppError, notFound } from '../../core/errors.js';
import { fail, ok, type Result } from '../../core/result.js';
import type { Db } from '../../db/database.js';
import type { TenantScope } from '../../core/principal.js';
import { directRecordWrites, type RecordWrites } from './record-writes.js';
import { lockRecord, type RecordRow } from './repository.js';
import { nextStatus, recordActions, type RecordAction } from './status.js';

/** Applies one status action under the record's row lock; an illegal move is a 409 naming both ends. */
export const moveRecord = async (
  trx: Db,
  clock: Clock,
  scope: TenantScope,
  recordId: string,
  action: RecordAction,
  actor: string,
  reason: string | undefined,
): Promise<Result<RecordRow>> => {
  const record = await lockRecord(trx, scope, recordId);
  if (record === undefined) return fail(notFound('billing record'));
  return moveLockedRecord(trx, clock, scope, record, action, actor, reason);
};

/**
 * The same for a record the caller has locked and holds as it is now (no second read). `paid`:
 * what has been paid by now, when the move comes with a payment.
 */
export const moveLockedRecord = async (
  trx: Db,
  clock: Clock,
  scope: TenantScope,
  record: RecordRow,
  action: RecordAction,
  actor: string,
  reason: string | undefined,
  paid?: bigint,
  writes: RecordWrites = directRecordWrites,
): Promise<Result<RecordRow>> => {
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
  return ok(await writes.updateRecord(trx, scope, record, patch, event));
};
