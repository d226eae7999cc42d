import { Temporal } from 'temporal-polyfill';
import { calendarDateIn } from '../core/billing-calendar.js';
import type { Clock } from '../core/clock.js';
import type { Db } from '../db/database.js';
import { retryTransaction } from '../db/retry.js';
import { settleDay } from '../modules/payg/settle-day.js';

export interface SettlementSummary {
  /** Tenant-days this runner settled (days without consumption included). */
  days: number;
  failures: { tenantId: string; error: string }[];
}

/**
 * Settles, for every tenant, each day from its last settled one (or the day it was created) up
 * to yesterday in its time zone: a missed day is caught up. Each day is one transaction under the
 * tenant's row lock taken with SKIP LOCKED, so concurrent runners share tenants and a crash loses
 * at most the day in flight, which the next run settles.
 */
export const settlePayg = async (db: Db, clock: Clock): Promise<SettlementSummary> => {
  const summary: SettlementSummary = { days: 0, failures: [] };
  const tenants = await db.selectFrom('tenants').select('id').orderBy('id').execute();
  for (const { id } of tenants) {
    try {
      for (;;) {
        const settled = await retryTransaction(() =>
          db.transaction().execute(async (trx) => {
            const tenant = await trx
              .selectFrom('tenants')
              .selectAll()
              .where('id', '=', id)
              .forUpdate()
              .skipLocked()
              .executeTakeFirst();
            if (tenant === undefined) return false;
            const last = await trx
              .selectFrom('payg_settlements')
              .select((eb) => eb.fn.max('settled_day').as('day'))
              .where('tenant_id', '=', id)
              .executeTakeFirst();
            const next =
              last?.day === undefined || last.day === null
                ? Temporal.PlainDate.from(calendarDateIn(tenant.created_at, tenant.time_zone))
                : Temporal.PlainDate.from(last.day).add({ days: 1 });
            const today = Temporal.PlainDate.from(calendarDateIn(clock.now(), tenant.time_zone));
            if (Temporal.PlainDate.compare(next, today) >= 0) return false;
            return settleDay(trx, tenant, next);
          }),
        );
        if (!settled) break;
        summary.days += 1;
      }
    } catch (error) {
      summary.failures.push({ tenantId: id, error: error instanceof Error ? error.message : String(error) });
    }
  }
  return summary;
};
