import type { CreditMovement } from '../credit-ledger/post-credit-transaction.js';
import type { InvoicedMetering } from '../metering/repository.js';
import type { NewPeriod } from './repository.js';
import { directWrites, type SubscriptionWrites } from './subscription-writes.js';

/** What went through watched writes, in order. */
export interface WatchedWrites {
  writes: SubscriptionWrites;
  /** Ids of the records written. */
  recordIds: string[];
  /** Paid periods invoiced. */
  periods: NewPeriod[];
  /** Metered periods closed, per resource, with the record that invoiced them. */
  invoiced: InvoicedMetering[];
  /** Credit-balance movements posted (refused ones are not listed). */
  credits: CreditMovement[];
}

/**
 * Writes that go where `base` sends them (straight to the database by default) and are noted on
 * the way: a preview runs an action through them and then knows which of the rows in its
 * transaction are the action's, without a second reading of the code's decisions.
 */
export const watchWrites = (base: SubscriptionWrites = directWrites): WatchedWrites => {
  const watched: Omit<WatchedWrites, 'writes'> = { recordIds: [], periods: [], invoiced: [], credits: [] };
  const writes: SubscriptionWrites = {
    ...base,
    insertRecord: async (trx, scope, written) => {
      await base.insertRecord(trx, scope, written);
      watched.recordIds.push(written.record.id);
    },
    postCredit: async (trx, clock, scope, movement) => {
      const posted = await base.postCredit(trx, clock, scope, movement);
      if (posted.ok) watched.credits.push(movement);
      return posted;
    },
    insertPeriod: async (trx, scope, period) => {
      await base.insertPeriod(trx, scope, period);
      watched.periods.push(period);
    },
    markInvoiced: async (trx, scope, invoiced) => {
      await base.markInvoiced(trx, scope, invoiced);
      watched.invoiced.push(...invoiced);
    },
  };
  return { ...watched, writes };
};
