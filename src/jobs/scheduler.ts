import type { FastifyBaseLogger } from 'fastify';
import type { Clock } from '../core/clock.js';
import type { Db } from '../db/database.js';
import { runBilling } from './billing-run.js';

/**
 * Runs the billing run as of now every `intervalMs` in the server process, one run at a time (a tick during a run is skipped).
 * Replicas may all do so: runs coordinate through row locks. Returns a stop function that waits
 * for a run in progress.
 */
export const startBillingScheduler = (
  db: Db,
  clock: Clock,
  intervalMs: number,
  log: FastifyBaseLogger,
): (() => Promise<void>) => {
  let stopped = false;
  let current: Promise<void> | undefined;
  // A tick while a run is still going is skipped, not queued.
  const tick = () => {
    if (stopped || current !== undefined) return;
    current = runBilling(db, clock.now())
      .then(
        (summary) => {
          if (summary.subscriptions > 0 || summary.failures.length > 0) {
            log.info({ billingRun: summary }, `billing run advanced ${summary.subscriptions} subscription(s)`);
          }
          for (const failure of summary.failures) log.error({ failure }, 'billing run failed for a subscription');
        },
        (error: unknown) => log.warn({ err: error }, 'billing run failed; the next tick tries again'),
      )
      .finally(() => {
        current = undefined;
      });
  };
  const timer = setInterval(tick, intervalMs);
  timer.unref();
  tick();
  return async () => {
    stopped = true;
    clearInterval(timer);
    await current;
  };
};
