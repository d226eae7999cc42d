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

/** Round robin over the items: each call of the returned function takes the next. */
export const roundRobin = <T>(items: T[]): (() => T) => {
  let next = 0;
  return () => items[next++ % items.length] as T;
};
