import type { Db, DbTransaction } from './database.js';
import { retryTransaction } from './retry.js';

/** Carries a rolled-back transaction's result out of it: throwing is how Kysely is told to roll back. */
class RolledBack extends Error {
  constructor(readonly value: unknown) {
    super('rolled back on purpose');
  }
}

/**
 * Runs `work` in a transaction that is always rolled back, and returns what it returned: a preview
 * runs the very code of an action and keeps nothing of it. Everything `work` writes (rows, events,
 * invoice numbers, ledger postings, NOTIFYs, which are sent at commit) goes with the rollback, so
 * it must do nothing outside the database. An error thrown by `work` is thrown as it is; a
 * serialization failure or deadlock runs it again.
 */
export const rolledBack = <T>(db: Db, work: (trx: DbTransaction) => Promise<T>): Promise<T> =>
  retryTransaction(async () => {
    try {
      await db.transaction().execute(async (trx) => {
        throw new RolledBack(await work(trx));
      });
    } catch (error) {
      if (error instanceof RolledBack) return error.value as T;
      throw error;
    }
    throw new Error('a rolled-back transaction committed');
  });
