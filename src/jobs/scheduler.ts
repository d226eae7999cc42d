import type { FastifyBaseLogger } from 'fastify';
import type { Clock } from '../core/clock.js';
import type { Db } from '../db/database.js';
import { deliverNotifications } from '../modules/notifications/deliver-notifications.js';
import type { Transports } from '../modules/notifications/transports.js';
import { evaluateAlerts } from '../modules/usage-alerts/evaluate-alerts.js';
import { tenantsWithActiveAlerts } from '../modules/usage-alerts/repository.js';
import { runBilling } from '../modules/billing-run/billing-run.js';
import { settlePayg } from '../modules/payg/settle-payg.js';
import type { JobRegistry } from '../modules/jobs/job-registry.js';

export interface ScheduledWork {
  db: Db;
  clock: Clock;
  transports: Transports;
  log: FastifyBaseLogger;
  /** The webhook worker: each tick wakes it too, a net under lost notifications. */
  webhooks?: { wake(): void };
  /** Where the billing run and settlement report their progress (`GET /admin/jobs`, the job gauges). */
  jobs?: JobRegistry;
}

/**
 * One tick of the server's scheduled work: the billing run as of now, pay-as-you-go settlement
 * of the days that ended, then every active usage alert (catching crossings an ingestion did not get to evaluate), then due outbox messages.
 * Each part that fails is logged and tried again on the next tick; the others still run. Tenants
 * on a test clock are left out: their time moves only when their clock is advanced.
 */
export const runScheduledWork = async ({
  db,
  clock,
  transports,
  log,
  webhooks,
  jobs,
}: ScheduledWork): Promise<void> => {
  webhooks?.wake();
  // Without a registry the runs report to no one.
  const track: JobRegistry['track'] =
    jobs === undefined ? (_job, work) => work(() => undefined) : (job, work) => jobs.track(job, work);
  try {
    const summary = await track('billing_run', (onProgress) => runBilling(db, clock.now(), { onProgress }));
    if (summary.subscriptions > 0 || summary.failures.length > 0) {
      log.info({ billingRun: summary }, `billing run advanced ${summary.subscriptions} subscription(s)`);
    }
    for (const failure of summary.failures) log.error({ failure }, 'billing run failed for a subscription');
  } catch (error) {
    log.warn({ err: error }, 'billing run failed; the next tick tries again');
  }
  try {
    const settled = await track('payg_settlement', (onProgress) => settlePayg(db, clock, { onProgress }));
    if (settled.days > 0 || settled.failures.length > 0)
      log.info({ paygSettlement: settled }, 'pay-as-you-go days settled');
    for (const failure of settled.failures) log.error({ failure }, 'pay-as-you-go settlement failed for a tenant');
  } catch (error) {
    log.warn({ err: error }, 'pay-as-you-go settlement failed; the next tick tries again');
  }
  try {
    const fired = await evaluateAlerts(db, clock, await tenantsWithActiveAlerts(db, null));
    if (fired > 0) log.info({ fired }, `${fired} usage alert(s) fired`);
  } catch (error) {
    log.warn({ err: error }, 'usage alert evaluation failed; the next tick tries again');
  }
  try {
    const delivered = await deliverNotifications(db, clock, transports);
    if (delivered.sent + delivered.retrying + delivered.failed > 0) log.info({ delivered }, 'notifications delivered');
  } catch (error) {
    log.warn({ err: error }, 'notification delivery failed; the next tick tries again');
  }
};

/**
 * Runs the scheduled work every `intervalMs` in the server process, one tick at a time (a tick
 * during a run is skipped). Replicas may all do so: they coordinate through row locks and keys.
 * Returns a stop function that waits for a tick in progress.
 */
export const startScheduler = (work: ScheduledWork, intervalMs: number): (() => Promise<void>) => {
  let stopped = false;
  let current: Promise<void> | undefined;
  const tick = () => {
    if (stopped || current !== undefined) return;
    current = runScheduledWork(work).finally(() => {
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
