import { numbersFromEnv, quickMode, requireServerUrl } from '../lib/server.js';

/** The billing run scenario's knobs (main.ts lists them). */

export const serverUrl = requireServerUrl('billing-run');
export const quick = quickMode();
const defaultSubscriptions = quick ? 2_000 : 100_000;
/** One runner profiled, then four; --quick stays well under a minute on a busy machine too. */
const defaultRunners = '1,4';
export const subscriptionCount = Number(process.env.BENCH_SUBSCRIPTIONS ?? defaultSubscriptions);
export const runnerCounts = numbersFromEnv('BENCH_RUNNERS', defaultRunners);
/** bench/results/<name>.json: the default runs keep their names, other sizes get their own file. */
export const resultsName =
  subscriptionCount === defaultSubscriptions && runnerCounts.join(',') === defaultRunners
    ? quick
      ? 'billing-run-quick'
      : 'billing-run'
    : `billing-run-${subscriptionCount}-r${runnerCounts.join('-')}`;
export const seed = Number(process.env.BENCH_SEED ?? 20260315);
/** Subscriptions per baseline transaction. */
export const baselineChunk = 1_000;
/** How often the progress of a run is sampled. */
export const sampleEveryMs = quick ? 500 : 5_000;
/** BENCH_PROFILE=0: no statement profile on the first runner count (to see what profiling costs). */
export const profiling = process.env.BENCH_PROFILE !== '0';
