import type { Clock } from '../../core/clock.js';
import type { Result } from '../../core/result.js';
import type { Db } from '../../db/database.js';
import { postCreditTransaction, type CreditMovement } from '../credit-ledger/post-credit-transaction.js';
import type { TenantScope } from '../../core/principal.js';
import {
  insertRecords,
  lockRecord,
  nextInvoiceSeq,
  updateRecord,
  updateRecordWithEvent,
  type NewRecordEvent,
  type NewRecordWithLines,
  type RecordPatch,
  type RecordRow,
} from './repository.js';

/**
 * Where the writes of records that are issued and collected go: straight to the database
 * (`directRecordWrites`), or held by a billing run's batch and written with the batch's others.
 */
export interface RecordWrites {
  /** The next invoice sequence of a tenant's year; its counter row stays locked until the transaction ends. */
  nextInvoiceSeq(db: Db, scope: TenantScope, year: number): Promise<number>;
  insertRecord(db: Db, scope: TenantScope, written: NewRecordWithLines): Promise<void>;
  /** A record locked for the rest of the transaction, as it is now; undefined when there is none. */
  lockRecord(db: Db, scope: TenantScope, recordId: string): Promise<RecordRow | undefined>;
  /** A credit-balance movement (a record's payment): posted now, or with a batch's writes. */
  postCredit(db: Db, clock: Clock, scope: TenantScope, movement: CreditMovement): Promise<Result<unknown>>;
  /** A change to a locked record (as the caller holds it), with its history entry when the status moves. */
  updateRecord(
    db: Db,
    scope: TenantScope,
    record: RecordRow,
    patch: RecordPatch,
    event?: NewRecordEvent,
  ): Promise<RecordRow>;
}

export const directRecordWrites: RecordWrites = {
  nextInvoiceSeq: (db, scope, year) => nextInvoiceSeq(db, scope, year),
  insertRecord: (db, scope, written) => insertRecords(db, [{ ...written, scope }]),
  lockRecord: (db, scope, recordId) => lockRecord(db, scope, recordId),
  postCredit: (db, clock, scope, movement) => postCreditTransaction(db, clock, scope, movement),
  updateRecord: (db, scope, record, patch, event) =>
    event === undefined
      ? updateRecord(db, scope, record.id, patch)
      : updateRecordWithEvent(db, scope, record.id, patch, event),
};
