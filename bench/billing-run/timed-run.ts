import { performance } from 'node:perf_hooks';
import type { DatabaseHandle } from '../../src/db/database.js';
import { runBilling, type BillingRunSummary } from '../../src/modules/billing-run/billing-run.js';
import { inBackground } from '../lib/background.js';
import { loadAverages, watchCpu } from '../lib/cpu.js';
import { sampleEveryMs } from './config.js';
import type { StatementProfile } from './profile.js';
import { iso } from './workload.js';

/** One timed billing run with N concurrent runners, its progress sampled as it goes. */

interface Progress {
  seconds: number;
  remaining: number;
}

/** Samples how many subscriptions are still due, so a run that slows down as it goes shows it. */
const watchProgress = (url: string, asOf: Date): (() => Promise<Progress[]>) => {
  const samples: Progress[] = [];
  const started = performance.now();
  const watch = inBackground(
    url,
    sampleEveryMs,
    async (client) => {
      const { rows } = await client.query<{ n: number }>(
        'select count(*)::int as n from subscriptions where next_run_at <= $1',
        [iso(asOf)],
      );
      samples.push({ seconds: Number(((performance.now() - started) / 1000).toFixed(1)), remaining: rows[0]?.n ?? -1 });
    },
    { applicationName: 'bench-billing-progress', tickOnStop: true },
  );
  return async () => {
    await watch.stop();
    return samples;
  };
};

export interface RunResult {
  runners: number;
  subscriptions: number;
  seconds: number;
  perSecond: number;
  msPerSubscription: number;
  steps: BillingRunSummary['steps'];
  failures: number;
  nodeCores: number;
  machineBusy: number;
  loadAverage: number[];
  /** Subscriptions per second over the first and the last fifth of the run (from the progress samples). */
  firstFifthPerSecond: number | null;
  lastFifthPerSecond: number | null;
  secondRunMs: number;
  profile?: { label: string; count: number; perSubscription: number; ms: number; msPerSubscription: number }[];
}

const rateBetween = (samples: Progress[], total: number, fromShare: number, toShare: number): number | null => {
  const points = [{ seconds: 0, remaining: total }, ...samples];
  const at = (share: number) => points.find((p) => total - p.remaining >= share * total);
  const a = at(fromShare);
  const b = at(toShare);
  if (a === undefined || b === undefined || b.seconds <= a.seconds) return null;
  return Math.round((a.remaining - b.remaining) / (b.seconds - a.seconds));
};

export interface TimedRunArgs {
  handle: DatabaseHandle;
  url: string;
  runners: number;
  asOf: Date;
  expectedSubscriptions: number;
  profile: StatementProfile | undefined;
}

export const timedRun = async ({
  handle,
  url,
  runners,
  asOf,
  expectedSubscriptions,
  profile,
}: TimedRunArgs): Promise<RunResult> => {
  const db = profile === undefined ? handle.db : handle.db.withPlugin(profile);
  const stopProgress = watchProgress(url, asOf);
  const cpu = watchCpu();
  const t0 = performance.now();
  const summaries = await Promise.all(Array.from({ length: runners }, () => runBilling(db, asOf))).catch(
    async (error: unknown) => {
      // No watcher's connection outlives a run that failed.
      await stopProgress();
      throw error;
    },
  );
  const elapsedMs = performance.now() - t0;
  const { nodeCores, machineBusy } = cpu();
  const samples = await stopProgress();
  const subscriptions = summaries.reduce((sum, s) => sum + s.subscriptions, 0);
  const failures = summaries.flatMap((s) => s.failures);
  if (failures.length > 0) {
    throw new Error(`${failures.length} subscriptions failed, e.g. ${JSON.stringify(failures.slice(0, 3))}`);
  }
  if (subscriptions !== expectedSubscriptions) {
    throw new Error(`the run advanced ${subscriptions} subscriptions, expected ${expectedSubscriptions}`);
  }
  const steps = { usage_close: 0, trial_end: 0, payment_retry: 0, grace_expiry: 0, period_end: 0 };
  for (const summary of summaries) {
    for (const [kind, count] of Object.entries(summary.steps)) steps[kind as keyof typeof steps] += count;
  }
  const result: RunResult = {
    runners,
    subscriptions,
    seconds: Number((elapsedMs / 1000).toFixed(2)),
    perSecond: Math.round((subscriptions * 1000) / elapsedMs),
    msPerSubscription: Number(((elapsedMs * runners) / subscriptions).toFixed(2)),
    steps,
    failures: failures.length,
    nodeCores,
    machineBusy,
    loadAverage: loadAverages(),
    firstFifthPerSecond: rateBetween(samples, subscriptions, 0, 0.2),
    lastFifthPerSecond: rateBetween(samples, subscriptions, 0.8, 1),
    secondRunMs: 0,
  };
  if (profile !== undefined) {
    result.profile = profile.take().map((row) => ({
      label: row.label,
      count: row.count,
      perSubscription: Number((row.count / subscriptions).toFixed(2)),
      ms: Math.round(row.ms),
      msPerSubscription: Number((row.ms / subscriptions).toFixed(3)),
    }));
  }
  return result;
};
