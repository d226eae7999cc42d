import { Temporal } from 'temporal-polyfill';
import { ManualClock } from '../../src/core/clock.js';
import { numbersFromEnv, quickMode, requireServerUrl } from '../lib/server.js';

/** The settlement scenario's knobs (main.ts lists them), the settled day and the products. */

export const serverUrl = requireServerUrl('payg-settlement');
export const quick = quickMode();
export const tenantCount = Number(process.env.BENCH_TENANTS ?? (quick ? 100 : 5000));
export const runnerCounts = numbersFromEnv('BENCH_RUNNERS', '1,2,4');
export const seed = Number(process.env.BENCH_SEED ?? 20260114);
/**
 * Seconds between the checks of the autovacuum stand-in (0: none). The server runs with autovacuum
 * off (a CI setting); without analyze, a session caches the foreign-key checks' plans made while
 * the settlement tables were empty (sequential scans) and the run turns quadratic in the day's size.
 */
export const autoanalyzeSeconds = Number(process.env.BENCH_AUTOANALYZE_SECONDS ?? 2);
export const appsPerTenant = 4;
export const baselineTenantsPerTransaction = 500;

export const day = Temporal.PlainDate.from('2026-01-14');
export const settledDay = day.toString();
// Noon UTC of the next day is that next day in every zone of workload.ts: each tenant settles exactly one day.
export const clock = new ManualClock('2026-01-15T12:00:00Z');

export const products = [
  { billingKey: 'ai_tokens', displayName: 'AI tokens', unitPrice: '0.00002' },
  { billingKey: 'log_storage_gb', displayName: 'Log storage (GB-day)', unitPrice: '0.0035' },
  { billingKey: 'metric_series', displayName: 'Metric series', unitPrice: '0.0000123456' },
  { billingKey: 'sms_verifications', displayName: 'SMS verifications', unitPrice: '0.045' },
  { billingKey: 'voice_minutes', displayName: 'Voice minutes', unitPrice: '0.0125' },
] as const;
export const productByKey = new Map<string, (typeof products)[number]>(products.map((p) => [p.billingKey, p]));
/** Metered resources in usage_daily too: settlement must leave them alone. */
export const meteredResources = ['api_requests', 'storage_used'] as const;

// Runs of another shape keep the default run's figures: payg-settlement-<variant>.json.
const variant = [
  quick
    ? 'quick'
    : tenantCount === 5000 && runnerCounts.join() === '1,2,4'
      ? ''
      : `${tenantCount}-r${runnerCounts.join('-')}`,
  autoanalyzeSeconds === 2 ? '' : `autoanalyze-${autoanalyzeSeconds}s`,
]
  .filter((part) => part !== '')
  .join('-');
export const resultsName = variant === '' ? 'payg-settlement' : `payg-settlement-${variant}`;
