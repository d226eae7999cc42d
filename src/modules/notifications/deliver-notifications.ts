import type { Clock } from '../../core/clock.js';
import type { Db } from '../../db/database.js';
import type { Transports } from './transports.js';

/** Waits before each retry of a failed delivery; after the last, the message is marked failed. */
export const retryDelaysMs = [60_000, 300_000, 1_800_000, 7_200_000, 21_600_000, 43_200_000];

export interface DeliverySummary {
  sent: number;
  retrying: number;
  failed: number;
}

/**
 * Sends due outbox messages, each under its row lock (SKIP LOCKED: several workers share the
 * queue). A message is marked sent only after its transport succeeded, so a crash in between
 * sends it again — with the same id, which receivers dedupe on — and nothing is lost.
 */
export const deliverNotifications = async (
  db: Db,
  clock: Clock,
  transports: Transports,
  limit = 100,
): Promise<DeliverySummary> => {
  const summary: DeliverySummary = { sent: 0, retrying: 0, failed: 0 };
  for (let done = 0; done < limit; done += 1) {
    const outcome = await db.transaction().execute(async (trx) => {
      const now = clock.now();
      const message = await trx
        .selectFrom('notification_outbox')
        .selectAll()
        .where('status', '=', 'pending')
        .where('next_attempt_at', '<=', now)
        .orderBy('next_attempt_at')
        .limit(1)
        .forUpdate()
        .skipLocked()
        .executeTakeFirst();
      if (message === undefined) return undefined;
      const where = { tenant_id: message.tenant_id, id: message.id };
      try {
        if (message.channel === 'email') await transports.email(message);
        else await transports.webhook(message);
      } catch (error) {
        const attempts = message.attempts + 1;
        const delay = retryDelaysMs[attempts - 1];
        await trx
          .updateTable('notification_outbox')
          .set({
            attempts,
            status: delay === undefined ? 'failed' : 'pending',
            next_attempt_at: delay === undefined ? null : new Date(now.getTime() + delay),
            last_error: (error instanceof Error ? error.message : String(error)).slice(0, 500),
          })
          .where('tenant_id', '=', where.tenant_id)
          .where('id', '=', where.id)
          .execute();
        return delay === undefined ? 'failed' : 'retrying';
      }
      await trx
        .updateTable('notification_outbox')
        .set({ attempts: message.attempts + 1, status: 'sent', next_attempt_at: null, sent_at: now, last_error: null })
        .where('tenant_id', '=', where.tenant_id)
        .where('id', '=', where.id)
        .execute();
      return 'sent';
    });
    if (outcome === undefined) break;
    summary[outcome] += 1;
  }
  return summary;
};
