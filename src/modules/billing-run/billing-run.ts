import type { Db, DbTransaction } from '../../db/database.js';
import { yearIn } from '../../core/calendar.js';
import type { ProgressObserver } from '../../core/progress.js';
import { retryTransaction } from '../../db/retry.js';
import { cachedPlanLookup, type CachedPlanLookup } from '../plans/plan-lookup.js';
import { advanceSubscription, maxStepsPerRun } from '../subscriptions/advance-subscription.js';
import { batchBalances } from '../subscriptions/credit-balances.js';
import { dueStep, type DueStepKind } from '../subscriptions/lifecycle.js';
import { countDueSubscriptions, findTenantsOf, lockDueSubscriptions } from '../subscriptions/repository.js';
import { BatchWrites } from './batch-writes.js';
import { sendOverdueReminders, sendTrialReminders } from './send-reminders.js';
import { batchMeteringReads } from '../metering/metering-reads.js';

export interface BillingRunSummary {
  asOf: Date;
  /** Subscriptions this runner advanced (others may have been advanced by other runners). */
  subscriptions: number;
  steps: Record<DueStepKind, number>;
  /** Reminder events this runner wrote (others may have been written by other runners or requests). */
  reminders: { trial_will_end: number; overdue: number };
  failures: { tenantId: string; subscriptionId: string; error: string }[];
}

interface Held {
  tenantId: string;
  id: string;
}

export interface BillingRunOptions {
  /**
   * Subscriptions advanced per transaction (default 100): one commit (a WAL flush) and one
   * multi-row statement per table for all of them, instead of a few statements each.
   */
  batchSize?: number;
  /**
   * Whose subscriptions: the tenants of this test clock, as its advance steps through time; null
   * (the default): tenants on real time, as the scheduler, the CLI and the admin route run it.
   */
  testClockId?: string | null;
  /**
   * Told the subscriptions done (advanced or failed) after each batch, out of those due when the
   * run started: an estimate, since other runners take some and requests bring some up to date.
   */
  onProgress?: ProgressObserver;
}

const defaultBatchSize = 100;

const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/**
 * The billing run as of `asOf`: renewals, trial ends, payment retries, grace expiry, metered overage,
 * and the reminders due by then: trials told they will end (before the steps, so a late run tells
 * a trial before ending it), then records told they are overdue (after, so invoices the steps
 * issued past due are told in the same run).
 * A transaction locks a batch of due subscriptions with SKIP LOCKED, so any number of runners
 * share the work, advances each with its writes held in memory (`BatchWrites`) and writes them
 * all at the end. A subscription that fails rolls its batch back: it is reported and left for
 * the next run, and the others go again in the next batch. A runner killed mid-run leaves only
 * whole batches done; running it again does the rest.
 */
export const runBilling = async (
  db: Db,
  asOf: Date,
  { batchSize = defaultBatchSize, testClockId = null, onProgress }: BillingRunOptions = {},
): Promise<BillingRunSummary> => {
  if (!Number.isSafeInteger(batchSize) || batchSize < 1) {
    throw new RangeError(`batchSize must be a whole number of at least 1, not ${batchSize}`);
  }
  const summary: BillingRunSummary = {
    asOf,
    subscriptions: 0,
    steps: { usage_close: 0, trial_end: 0, payment_retry: 0, grace_expiry: 0, period_end: 0 },
    reminders: { trial_will_end: 0, overdue: 0 },
    failures: [],
  };
  summary.reminders.trial_will_end = await sendTrialReminders(db, asOf, { batchSize, testClockId });
  await advanceDueSubscriptions(db, asOf, { batchSize, testClockId, onProgress }, summary);
  summary.reminders.overdue = await sendOverdueReminders(db, asOf, { batchSize, testClockId });
  return summary;
};

/** Advances every subscription due at `asOf`, batch after batch, into `summary`. */
const advanceDueSubscriptions = async (
  db: Db,
  asOf: Date,
  {
    batchSize,
    testClockId,
    onProgress,
  }: { batchSize: number; testClockId: string | null; onProgress: ProgressObserver | undefined },
  summary: BillingRunSummary,
): Promise<void> => {
  const total = onProgress === undefined ? 0 : await countDueSubscriptions(db, asOf, testClockId);
  const report = () =>
    onProgress?.({ done: summary.subscriptions + summary.failures.length, total, totalIsEstimate: true });
  await report();
  const skip: Held[] = [];
  const plans = cachedPlanLookup();
  const fail = (sub: Held, error: unknown) => {
    skip.push(sub);
    summary.failures.push({ tenantId: sub.tenantId, subscriptionId: sub.id, error: messageOf(error) });
  };
  // After a batch failed writing (or committing), its subscriptions go one per transaction to find the culprit.
  let singles = 0;
  for (;;) {
    const progress: { locked: Held[]; inFlight: Held | undefined } = { locked: [], inFlight: undefined };
    try {
      const limit = singles > 0 ? 1 : batchSize;
      // A retry (serialization failure, deadlock) redoes the whole batch from a clean slate.
      const batch = await retryTransaction(() =>
        db.transaction().execute((trx) => advanceBatch({ trx, asOf, testClockId, skip, limit, plans, progress })),
      );
      if (batch.locked === 0) return;
      singles = Math.max(0, singles - 1);
      for (const steps of batch.advanced) {
        summary.subscriptions += 1;
        for (const kind of steps) summary.steps[kind] += 1;
      }
    } catch (error) {
      const [only] = progress.locked;
      if (progress.inFlight !== undefined) fail(progress.inFlight, error);
      else if (progress.locked.length === 1 && only !== undefined) fail(only, error);
      else if (progress.locked.length > 1) singles = progress.locked.length;
      else throw error;
    }
    await report();
  }
};

interface Batch {
  trx: DbTransaction;
  asOf: Date;
  testClockId: string | null;
  skip: readonly Held[];
  limit: number;
  plans: CachedPlanLookup;
  /** What the batch holds, for the caller to tell which subscription failed. */
  progress: { locked: Held[]; inFlight: Held | undefined };
}

/** One transaction's worth: locks up to `limit` due subscriptions, advances each, then writes what they did. */
const advanceBatch = async ({
  trx,
  asOf,
  testClockId,
  skip,
  limit,
  plans,
  progress,
}: Batch): Promise<{ locked: number; advanced: DueStepKind[][] }> => {
  progress.locked = [];
  progress.inFlight = undefined;
  plans.forgetPlans();
  const subs = await lockDueSubscriptions({ trx, asOf, testClockId, skip, limit });
  progress.locked = subs.map((sub) => ({ tenantId: sub.tenant_id, id: sub.id }));
  const tenantIds = [...new Set(subs.map((sub) => sub.tenant_id))];
  const tenants = await findTenantsOf(trx, tenantIds);
  const balances = await batchBalances(trx, tenantIds);
  const writes = new BatchWrites(limit > 1);
  const years = new Set([...tenants.values()].map((tenant) => yearIn(asOf, tenant.time_zone)));
  await writes.lockCounters(trx, tenantIds, [...years]);
  const advanced = subs.map(() => [] as DueStepKind[]);
  // One step of each subscription per round, then the round's writes: a step may read what an
  // earlier step of its subscription wrote (the invoice it retries, the metering it closes).
  let round = subs.map((sub, index) => ({ sub, index }));
  for (let rounds = 0; round.length > 0; rounds += 1) {
    if (rounds >= maxStepsPerRun) throw new Error(`a subscription owes more than ${maxStepsPerRun} steps`);
    const next: typeof round = [];
    const closing = round.filter(({ sub }) => dueStep(sub, asOf)?.kind === 'usage_close').map(({ sub }) => sub);
    const metering = await batchMeteringReads(trx, closing, asOf);
    await writes.lockRecords(
      trx,
      round.flatMap(({ sub }) =>
        sub.open_record_id === null ? [] : [{ tenant_id: sub.tenant_id, id: sub.open_record_id }],
      ),
    );
    for (const { sub, index } of round) {
      progress.inFlight = { tenantId: sub.tenant_id, id: sub.id };
      const options = { tenant: tenants.get(sub.tenant_id), plans, balances, writes, metering, stepLimit: 1 };
      const advancedSub = await advanceSubscription(trx, sub, asOf, options);
      advanced[index]?.push(...advancedSub.steps);
      if (dueStep(advancedSub.sub, asOf) !== undefined) next.push({ sub: advancedSub.sub, index });
    }
    progress.inFlight = undefined;
    await writes.flush(trx);
    round = next;
  }
  return { locked: subs.length, advanced };
};
