import type { FastifyBaseLogger } from 'fastify';
import type { DatabaseHandle } from '../../db/database.js';
import { deliverDueWebhooks, type WebhookDelivery } from './deliver-webhooks.js';
import { nextDueAt } from './repository.js';

/** The channel the fan-out trigger (migration 0011) notifies when a commit brought deliveries. */
export const deliveriesChannel = 'webhook_deliveries';

export interface WebhookWorkerOptions extends WebhookDelivery {
  database: DatabaseHandle;
  log: FastifyBaseLogger;
  /** Longest sleep between looks when nothing wakes the worker: a net under a lost notification. */
  idleMs?: number;
}

export interface WebhookWorker {
  /** Look for due deliveries now (a notification, the scheduler's tick). */
  wake(): void;
  /** Stops after the deliveries in flight have recorded their outcome. */
  stop(): Promise<void>;
}

const afterErrorMs = 5_000;
/** Something is due but another process holds it: look again shortly rather than spin. */
const busyMs = 200;

/**
 * Delivers webhooks in the server process: wakes on the trigger's notification (within a second
 * of the commit), on the scheduler's tick, and when the next retry falls due; sends with bounded
 * concurrency. Any number of processes may run one: the leases keep each attempt to one of them.
 */
export const startWebhookWorker = async ({
  database,
  log,
  idleMs = 30_000,
  ...delivery
}: WebhookWorkerOptions): Promise<WebhookWorker> => {
  let stopped = false;
  let woken = false;
  let interruptSleep: (() => void) | undefined;
  const wake = () => {
    woken = true;
    interruptSleep?.();
  };
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      if (woken || stopped) {
        resolve();
        return;
      }
      const done = () => {
        clearTimeout(timer);
        interruptSleep = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      interruptSleep = done;
    });

  const stopListening = await database.listen(deliveriesChannel, wake);
  const loop = async () => {
    while (!stopped) {
      woken = false;
      try {
        const counts = await deliverDueWebhooks(delivery, {
          onError: (error) => log.error({ err: error }, 'recording a webhook attempt failed; its lease will run out'),
        });
        const attempted = counts.delivered + counts.pending + counts.failed + counts.superseded + counts.errors;
        if (attempted > 0) log.info({ webhooks: counts }, `${attempted} webhook attempt(s)`);
        const next = await nextDueAt(database.db);
        const untilDue =
          next === undefined ? idleMs : next === null ? 0 : next.getTime() - delivery.clock.now().getTime();
        await sleep(Math.min(idleMs, Math.max(untilDue, attempted > 0 ? 0 : busyMs)));
      } catch (error) {
        log.warn({ err: error }, 'webhook delivery failed; trying again shortly');
        await sleep(afterErrorMs);
      }
    }
  };
  const running = loop();
  return {
    wake,
    stop: async () => {
      stopped = true;
      interruptSleep?.();
      await running;
      await stopListening();
    },
  };
};
