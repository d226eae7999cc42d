import { ManualClock } from '../../src/core/clock.js';
import { maxBatchEvents } from '../../src/modules/usage/schemas.js';
import { numbersFromEnv, quickMode, requireServerUrl } from '../lib/server.js';

/** The usage scenario's knobs (main.ts lists them) and the paths it measures. */

export const serverUrl = requireServerUrl('usage-ingest');
export const quick = quickMode();
export const eventsPerStep = Number(process.env.BENCH_EVENTS ?? (quick ? 10_000 : 200_000));
export const clientCounts = numbersFromEnv('BENCH_CLIENTS', quick ? '4' : '1,4,8,16');
export const seed = Number(process.env.BENCH_SEED ?? 20260115);
export const stepCapMs = Number(process.env.BENCH_STEP_CAP_SECONDS ?? 90) * 1000;
export const batchSize = maxBatchEvents;
export const tenantCount = 50;
export const appsPerTenant = 4;
export const clock = new ManualClock('2026-01-15T12:00:00Z');

const measuredPaths = ['in-process', 'http'] as const;
export type Path = 'baseline' | (typeof measuredPaths)[number];
/** The baseline always runs: every figure is a ratio to it. */
export const paths: Path[] = [
  'baseline',
  ...(process.env.BENCH_PATHS ?? measuredPaths.join(','))
    .split(',')
    .map((p) => p.trim())
    .filter((p): p is (typeof measuredPaths)[number] => (measuredPaths as readonly string[]).includes(p)),
];
export const pathLabels: Record<Path, string> = {
  baseline: 'baseline: INSERT … ON CONFLICT DO NOTHING',
  'in-process': 'in-process: ingestEvents',
  http: 'http: POST /billing/usage/events',
};
