import type { Clock } from '../../core/clock.js';
import type { Result } from '../../core/result.js';
import type { DbTransaction } from '../../db/database.js';
import { postCreditTransaction, type CreditMovement } from '../credit-ledger/post-credit-transaction.js';
import type { TenantScope } from '../../core/principal.js';
import { recordEvents, type NewEvent } from '../events/record-event.js';
import { isToldMove, newRecordEvents, recordMoveEvent } from './record-events.js';
import {
  insertRecords,
  linesOf,
  lockRecord,
  nextInvoiceSeq,
  updateRecord,
  updateRecordWithEvent,
  type NewRecordEvent,
  type NewRecordWithLines,
  type RecordPatch,
  type RecordRow,
} from './repository.js';

/** A change to a locked record (as the caller holds it), with its history entry when the status moves. */
export interface RecordUpdate {
  trx: DbTransaction;
  scope: TenantScope;
  record: RecordRow;
  patch: RecordPatch;
  event?: NewRecordEvent | undefined;
}

/**
 * Where the writes of records that are issued and collected go: straight to the database
 * (`directRecordWrites`), or held by a billing run's batch and written with the batch's others.
 */
export interface RecordWrites {
  /** The next invoice sequence of a tenant's year; its counter row stays locked until the transaction ends. */
  nextInvoiceSeq(trx: DbTransaction, scope: TenantScope, year: number): Promise<number>;
  insertRecord(trx: DbTransaction, scope: TenantScope, written: NewRecordWithLines): Promise<void>;
  /** A record locked for the rest of the transaction, as it is now; undefined when there is none. */
  lockRecord(trx: DbTransaction, scope: TenantScope, recordId: string): Promise<RecordRow | undefined>;
  /** A credit-balance movement (a record's payment): posted now, or with a batch's writes. */
  postCredit(trx: DbTransaction, clock: Clock, scope: TenantScope, movement: CreditMovement): Promise<Result<unknown>>;
  /** Writes the change and, for a status move clients are told of, its event. */
  updateRecord(update: RecordUpdate): Promise<RecordRow>;
  /** An event of a change made through these writes: written with them, in their transaction. */
  recordEvents(trx: DbTransaction, scope: TenantScope, events: readonly NewEvent[]): Promise<void>;
}

/** A locked record changed as `update` says, and the event of its status move (read with its lines), if any. */
export const writeRecordUpdate = async ({
  trx,
  scope,
  record,
  patch,
  event,
}: RecordUpdate): Promise<{ updated: RecordRow; moved?: NewEvent | undefined }> => {
  if (event === undefined) return { updated: await updateRecord(trx, scope, record.id, patch) };
  const updated = await updateRecordWithEvent({ trx, scope, recordId: record.id, patch, event });
  if (!isToldMove(event)) return { updated };
  const lines = (await linesOf(trx, scope, [record.id])).get(record.id) ?? [];
  return { updated, moved: recordMoveEvent(updated, lines, event) };
};

export const directRecordWrites: RecordWrites = {
  nextInvoiceSeq: (trx, scope, year) => nextInvoiceSeq(trx, scope, year),
  insertRecord: async (trx, scope, written) => {
    await insertRecords(trx, [{ ...written, scope }]);
    await recordEvents(trx, scope, newRecordEvents(scope.tenantId, written));
  },
  lockRecord: (trx, scope, recordId) => lockRecord(trx, scope, recordId),
  postCredit: (trx, clock, scope, movement) => postCreditTransaction(trx, clock, scope, movement),
  updateRecord: async (update) => {
    const { updated, moved } = await writeRecordUpdate(update);
    if (moved !== undefined) await recordEvents(update.trx, update.scope, [moved]);
    return updated;
  },
  recordEvents,
};
