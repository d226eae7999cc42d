import { sql } from 'kysely';
import type { Db } from '../db/database.js';
import { isRetryableTransactionError, retryTransaction } from '../db/retry.js';
import { cachedPlanLookup, type CachedPlanLookup } from '../modules/plans/plan-lookup.js';
import { advanceSubscription } from '../modules/subscriptions/advance-subscription.js';
import { batchBalances } from '../modules/subscriptions/credit-balances.js';
import type { DueStepKind } from '../modules/subscriptions/lifecycle.js';
import { findTenantsOf, lockDueSubscriptions } from '../modules/subscriptions/repository.js';

export interface BillingRunSummary {
  asOf: Date;
  /** Subscriptions this runner advanced (others may have been advanced by other runners). */
  subscriptions: number;
  steps: Record<DueStepKind, number>;
  failures: { tenantId: string; subscriptionId: string; error: string }[];
}

type Failure = BillingRunSummary['failures'][number];
interface Held {
  tenantId: string;
  id: string;
}

/**
 * Subscriptions advanced per transaction: one commit (a WAL flush) for many instead of one each.
 * Each has its own savepoint, and PostgreSQL keeps at most 64 subtransactions per transaction in
 * shared memory; beyond that every other session's snapshots get slower, so a batch stays below.
 */
const batchSize = 50;

const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/**
 * The billing run as of `asOf`: renewals, trial ends, payment retries, grace expiry, metered overage.
 * A transaction locks a batch of due subscriptions with SKIP LOCKED, so any number of runners
 * share the work, and advances each inside a savepoint: a subscription that fails is rolled back
 * alone, reported and left for the next run, and the others commit. A runner killed mid-run
 * leaves only whole subscriptions done (whole batches); running it again does the rest.
 */
export const runBilling = async (db: Db, asOf: Date): Promise<BillingRunSummary> => {
  const summary: BillingRunSummary = {
    asOf,
    subscriptions: 0,
    steps: { usage_close: 0, trial_end: 0, payment_retry: 0, grace_expiry: 0, period_end: 0 },
    failures: [],
  };
  const skip: Held[] = [];
  const plans = cachedPlanLookup();
  const fail = (sub: Held, error: unknown) => {
    skip.push(sub);
    summary.failures.push({ tenantId: sub.tenantId, subscriptionId: sub.id, error: messageOf(error) });
  };
  // After a batch failed as a whole (at commit), its subscriptions go one per transaction to find the culprit.
  let singles = 0;
  for (;;) {
    const progress: { locked: Held[]; inFlight: Held | undefined } = { locked: [], inFlight: undefined };
    try {
      const limit = singles > 0 ? 1 : batchSize;
      // A retry (serialization failure, deadlock) redoes the whole batch from a clean slate.
      const batch = await retryTransaction(() =>
        db.transaction().execute((trx) => advanceBatch(trx, asOf, skip, limit, plans, progress)),
      );
      if (batch.locked === 0) return summary;
      singles = Math.max(0, singles - 1);
      for (const steps of batch.advanced) {
        summary.subscriptions += 1;
        for (const kind of steps) summary.steps[kind] += 1;
      }
      for (const failure of batch.failures)
        fail({ tenantId: failure.tenantId, id: failure.subscriptionId }, failure.error);
    } catch (error) {
      const [only] = progress.locked;
      if (progress.inFlight !== undefined) fail(progress.inFlight, error);
      else if (progress.locked.length === 1 && only !== undefined) fail(only, error);
      else if (progress.locked.length > 1) singles = progress.locked.length;
      else throw error;
    }
  }
};

/** One transaction's worth: locks up to `limit` due subscriptions and advances each in a savepoint. */
const advanceBatch = async (
  trx: Db,
  asOf: Date,
  skip: readonly Held[],
  limit: number,
  plans: CachedPlanLookup,
  progress: { locked: Held[]; inFlight: Held | undefined },
): Promise<{ locked: number; advanced: DueStepKind[][]; failures: Failure[] }> => {
  progress.locked = [];
  progress.inFlight = undefined;
  plans.forgetPlans();
  const subs = await lockDueSubscriptions(trx, asOf, skip, limit);
  progress.locked = subs.map((sub) => ({ tenantId: sub.tenant_id, id: sub.id }));
  const tenantIds = [...new Set(subs.map((sub) => sub.tenant_id))];
  const tenants = await findTenantsOf(trx, tenantIds);
  const balances = await batchBalances(trx, tenantIds);
  const advanced: DueStepKind[][] = [];
  const failures: Failure[] = [];
  for (const sub of subs) {
    progress.inFlight = { tenantId: sub.tenant_id, id: sub.id };
    await sql`savepoint subscription`.execute(trx);
    try {
      const { steps } = await advanceSubscription(trx, sub, asOf, {
        tenant: tenants.get(sub.tenant_id),
        plans,
        balances,
      });
      await sql`release savepoint subscription`.execute(trx);
      advanced.push(steps);
    } catch (error) {
      // A deadlock or serialization failure may involve the batch's other rows: it is retried whole.
      if (isRetryableTransactionError(error)) throw error;
      await sql`rollback to savepoint subscription`.execute(trx);
      await sql`release savepoint subscription`.execute(trx);
      failures.push({ tenantId: sub.tenant_id, subscriptionId: sub.id, error: messageOf(error) });
    }
    progress.inFlight = undefined;
  }
  return { locked: subs.length, advanced, failures };
};
