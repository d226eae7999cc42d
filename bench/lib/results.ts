import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { loadAverages } from './cpu.js';

/** bench/results/: every run's figures, one JSON file a scenario (git keeps only the folder). */
export const resultsFolder = fileURLToPath(new URL('../results/', import.meta.url));

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
  const out = process.env.BENCH_RESULTS_FILE ?? `${resultsFolder}${name}.json`;
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
