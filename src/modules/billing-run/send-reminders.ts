import type { Db, DbTransaction } from '../../db/database.js';
import { retryTransaction } from '../../db/retry.js';
import { sendOverdueBatch } from '../billing-records/send-overdue-reminders.js';
import { sendTrialReminderBatch } from '../subscriptions/send-trial-reminders.js';

export interface ReminderOptions {
  /** Candidates locked and told per transaction (default 100): one statement marks them, one writes their events. */
  batchSize?: number;
  /** Whose: this test clock's tenants, or (null, the default) those on real time. */
  testClockId?: string | null;
}

const defaultBatchSize = 100;

type Batch = (
  trx: DbTransaction,
  candidates: { asOf: Date; limit: number; testClockId: string | null },
) => Promise<number>;

/**
 * Batches of one kind of reminder until none is left, each batch in its own transaction; candidates
 * are locked SKIP LOCKED and marked as told in it, so concurrent runners write each event once and a
 * runner killed midway leaves only whole batches done.
 */
const sendAll = async (
  db: Db,
  asOf: Date,
  { batchSize = defaultBatchSize, testClockId = null }: ReminderOptions,
  batch: Batch,
): Promise<number> => {
  if (!Number.isSafeInteger(batchSize) || batchSize < 1) {
    throw new RangeError(`batchSize must be a whole number of at least 1, not ${batchSize}`);
  }
  let sent = 0;
  for (;;) {
    const count = await retryTransaction(() =>
      db.transaction().execute((trx) => batch(trx, { asOf, limit: batchSize, testClockId })),
    );
    sent += count;
    if (count < batchSize) return sent;
  }
};

/**
 * `subscription.trial_will_end` for every trial whose reminder is due by `asOf` and not yet
 * written, each dated at its due time. The billing run sends these before advancing subscriptions,
 * so a run that comes late still tells a trial before ending it.
 */
export const sendTrialReminders = (db: Db, asOf: Date, options: ReminderOptions = {}) =>
  sendAll(db, asOf, options, sendTrialReminderBatch);

/**
 * `billing_record.overdue` for every finalised record still pending or failed after its due date,
 * dated `asOf` (when it was found so). The billing run sends these after advancing subscriptions,
 * so invoices its steps issued already past due are told in the same run.
 */
export const sendOverdueReminders = (db: Db, asOf: Date, options: ReminderOptions = {}) =>
  sendAll(db, asOf, options, sendOverdueBatch);
