import type { Db } from '../db/database.js';
import { retryTransaction } from '../db/retry.js';
import { advanceSubscription } from '../modules/subscriptions/advance-subscription.js';
import type { DueStepKind } from '../modules/subscriptions/lifecycle.js';
import { lockNextDueSubscription } from '../modules/subscriptions/repository.js';

export interface BillingRunSummary {
  asOf: Date;
  /** Subscriptions this runner advanced (others may have been advanced by other runners). */
  subscriptions: number;
  steps: Record<DueStepKind, number>;
  failures: { tenantId: string; subscriptionId: string; error: string }[];
}

/**
 * The billing run as of `asOf`: renewals, trial ends, payment retries, grace expiry, metered overage. Each
 * subscription is advanced in its own transaction under its row lock, taken with SKIP LOCKED, so
 * any number of runners share the work and a runner killed mid-run leaves only whole
 * subscriptions done; running it again does the rest. A subscription that fails is reported and
 * left for the next run; the others go on.
 */
export const runBilling = async (db: Db, asOf: Date): Promise<BillingRunSummary> => {
  const summary: BillingRunSummary = {
    asOf,
    subscriptions: 0,
    steps: { usage_close: 0, trial_end: 0, payment_retry: 0, grace_expiry: 0, period_end: 0 },
    failures: [],
  };
  const skip: { tenantId: string; id: string }[] = [];
  for (;;) {
    let current: { tenantId: string; id: string } | undefined;
    try {
      const done = await retryTransaction(() =>
        db.transaction().execute(async (trx) => {
          const sub = await lockNextDueSubscription(trx, asOf, skip);
          if (sub === undefined) return undefined;
          current = { tenantId: sub.tenant_id, id: sub.id };
          return (await advanceSubscription(trx, sub, asOf)).steps;
        }),
      );
      if (done === undefined) return summary;
      summary.subscriptions += 1;
      for (const kind of done) summary.steps[kind] += 1;
    } catch (error) {
      if (current === undefined) throw error;
      skip.push(current);
      summary.failures.push({
        tenantId: current.tenantId,
        subscriptionId: current.id,
        error: error instanceof Error ? error.message : String(error),
      });
    }
  }
};
