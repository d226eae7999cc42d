import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';

export interface RunStats {
  requests: number;
  /** True when the time cap ended the run before the requested count. */
  capped: boolean;
  elapsedMs: number;
  p50Ms: number;
  p99Ms: number;
  meanMs: number;
  maxMs: number;
  rps: number;
}

/** Nearest-rank percentile of an ascending list. */
const percentile = (sorted: number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? Number.NaN;

const round = (value: number, digits = 1): number => Number(value.toFixed(digits));

const summarise = (latencies: number[], elapsedMs: number, capped: boolean): RunStats => {
  const sorted = [...latencies].sort((x, y) => x - y);
  return {
    requests: sorted.length,
    capped,
    elapsedMs: Math.round(elapsedMs),
    p50Ms: round(percentile(sorted, 50)),
    p99Ms: round(percentile(sorted, 99)),
    meanMs: round(sorted.reduce((sum, x) => sum + x, 0) / Math.max(1, sorted.length)),
    maxMs: round(sorted.at(-1) ?? Number.NaN),
    rps: round((sorted.length * 1000) / elapsedMs),
  };
};

/** One request, timed; throws on anything but success. */
export type Send = () => Promise<void>;

const timedSend = async (send: Send): Promise<number> => {
  const t0 = performance.now();
  await send();
  return performance.now() - t0;
};

/**
 * `count` requests from `concurrency` workers that each send the next one as soon as their last
 * one answered (closed loop). Stops early once `capMs` has passed, so a slow query cannot eat the
 * whole run; the stats say how many requests were made.
 */
export const run = async (send: Send, count: number, concurrency: number, capMs: number): Promise<RunStats> => {
  const latencies: number[] = [];
  let issued = 0;
  let capped = false;
  const started = performance.now();
  const worker = async (): Promise<void> => {
    while (issued < count) {
      if (performance.now() - started > capMs) {
        capped = true;
        return;
      }
      issued += 1;
      latencies.push(await timedSend(send));
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return summarise(latencies, performance.now() - started, capped);
};

/** Warm-up: `count` requests or `capMs`, whichever comes first. */
export const warmUp = async (send: Send, count: number, capMs: number): Promise<void> => {
  const started = performance.now();
  for (let i = 0; i < count && performance.now() - started < capMs; i += 1) await send();
};

/** 1/5/15-minute load averages: other work on the machine skews every figure, so each run records them. */
export const loadAverages = (): number[] => loadavg().map((x) => Number(x.toFixed(2)));

/**
 * A scenario's figure for the summary table. The ratio against the baseline is always "share of
 * the physical limit": ours / baseline for rates, baseline / ours for seconds.
 */
export interface Headline {
  /** What was measured, e.g. "HTTP, 8 clients, batches of 1,000". */
  measure: string;
  value: number;
  unit: string;
  better: 'higher' | 'lower';
  /** Latencies or other context shown beside the figure. */
  note?: string;
  baseline?: { what: string; value: number };
}

export const ratioOf = (headline: Headline): number | undefined => {
  const { baseline, value } = headline;
  if (baseline === undefined || value === 0 || baseline.value === 0) return undefined;
  const ratio = headline.better === 'higher' ? value / baseline.value : baseline.value / value;
  // A baseline that was not measured (NaN) gives no ratio rather than "NaNx".
  return Number.isFinite(ratio) ? ratio : undefined;
};

/**
 * Writes a run's figures to bench/results/<name>.json (or BENCH_RESULTS_FILE, which `npm run bench`
 * sets to collect every scenario), with the machine facts every run shares.
 */
export const writeResults = (
  name: string,
  loadAtStart: number[],
  headlines: Headline[],
  figures: Record<string, unknown>,
): string => {
  const out =
    process.env.BENCH_RESULTS_FILE ?? join(dirname(fileURLToPath(import.meta.url)), 'results', `${name}.json`);
  mkdirSync(dirname(out), { recursive: true });
  const facts = {
    scenario: name,
    startedAt: new Date(performance.timeOrigin).toISOString(),
    node: process.version,
    cpus: cpus().length,
    loadAverage: { start: loadAtStart, end: loadAverages() },
  };
  writeFileSync(out, `${JSON.stringify({ ...facts, headlines, ...figures }, null, 2)}\n`);
  return out;
};
