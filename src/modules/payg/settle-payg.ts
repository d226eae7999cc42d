import { Temporal } from 'temporal-polyfill';
import { calendarDateIn } from '../../core/billing-calendar.js';
import type { Clock } from '../../core/clock.js';
import type { ProgressObserver } from '../../core/progress.js';
import type { Db } from '../../db/database.js';
import { retryTransaction } from '../../db/retry.js';
import { DeductionRefused, settleDay, type PostingMode } from './settle-day.js';

export interface SettlementSummary {
  /** Tenant-days this runner settled (days without consumption included). */
  days: number;
  failures: { tenantId: string; error: string }[];
}

/** What one transaction did: settled a day (and whether the day after it has ended too), or nothing. */
type Step = { settled: false } | { settled: true; next: Temporal.PlainDate; timeZone: string };

/**
 * Settles, for every tenant, each day from its last settled one (or the day it was created) up
 * to yesterday in its time zone: a missed day is caught up. Each day is one transaction under the
 * tenant's row lock taken with SKIP LOCKED, so concurrent runners share tenants and a crash loses
 * at most the day in flight, which the next run settles. The tenants are those on real time, or
 * (`testClockId`) those of one test clock, as its advance steps through their days.
 */
export const settlePayg = async (
  db: Db,
  clock: Clock,
  {
    testClockId = null,
    onProgress,
  }: {
    testClockId?: string | null;
    /**
     * Told the tenant-days done (settled, or a failed tenant's days given up) after each, out of
     * the days unsettled when the run started: an estimate, since other runners share the tenants.
     */
    onProgress?: ProgressObserver;
  } = {},
): Promise<SettlementSummary> => {
  const summary: SettlementSummary = { days: 0, failures: [] };
  const today = (timeZone: string) => Temporal.PlainDate.from(calendarDateIn(clock.now(), timeZone));
  const nextDay = (tenant: { created_at: Date; time_zone: string }, last: string | null | undefined) =>
    last === undefined || last === null
      ? Temporal.PlainDate.from(calendarDateIn(tenant.created_at, tenant.time_zone))
      : Temporal.PlainDate.from(last).add({ days: 1 });
  // Each tenant with its last settled day, unlocked: markers are only ever added, so a tenant
  // settled up to yesterday here is so under its lock too, and needs no transaction.
  const tenants = await db
    .selectFrom('tenants as t')
    .select(['t.id', 't.created_at', 't.time_zone'])
    .select((eb) =>
      eb
        .selectFrom('payg_settlements as s')
        .select((inner) => inner.fn.max('s.settled_day').as('day'))
        .whereRef('s.tenant_id', '=', 't.id')
        .as('last'),
    )
    .where('t.test_clock_id', testClockId === null ? 'is' : '=', testClockId)
    .orderBy('t.id')
    .execute();
  const settleNext = (id: string, mode: PostingMode): Promise<Step> =>
    retryTransaction(() =>
      db.transaction().execute(async (trx): Promise<Step> => {
        const tenant = await trx
          .selectFrom('tenants')
          .selectAll()
          .where('id', '=', id)
          .forUpdate()
          .skipLocked()
          .executeTakeFirst();
        if (tenant === undefined) return { settled: false };
        const last = await trx
          .selectFrom('payg_settlements')
          .select((eb) => eb.fn.max('settled_day').as('day'))
          .where('tenant_id', '=', id)
          .executeTakeFirst();
        const next = nextDay(tenant, last?.day);
        if (Temporal.PlainDate.compare(next, today(tenant.time_zone)) >= 0) return { settled: false };
        // The day after the last settled one, under the lock: unsettled (its marker's key guards it all the same).
        await settleDay(trx, tenant, next, mode);
        return { settled: true, next: next.add({ days: 1 }), timeZone: tenant.time_zone };
      }),
    );
  const daysOwed = (tenant: (typeof tenants)[number]) =>
    Math.max(0, nextDay(tenant, tenant.last).until(today(tenant.time_zone), { largestUnit: 'days' }).days);
  const total = onProgress === undefined ? 0 : tenants.reduce((sum, tenant) => sum + daysOwed(tenant), 0);
  // A failed tenant's remaining days count as done: the run has given up on them.
  let givenUp = 0;
  const report = () => onProgress?.({ done: summary.days + givenUp, total, totalIsEstimate: true });
  await report();
  for (const { id, ...tenant } of tenants) {
    if (Temporal.PlainDate.compare(nextDay(tenant, tenant.last), today(tenant.time_zone)) >= 0) continue;
    const daysBefore = summary.days;
    try {
      for (;;) {
        let step: Step;
        try {
          step = await settleNext(id, 'together');
        } catch (error) {
          // Cash spent by others between reading it and posting: the day again, posting by posting.
          if (!(error instanceof DeductionRefused)) throw error;
          step = await settleNext(id, 'one-by-one');
        }
        if (!step.settled) break;
        summary.days += 1;
        await report();
        // The next day has not ended yet: no transaction needed to find that out.
        if (Temporal.PlainDate.compare(step.next, today(step.timeZone)) >= 0) break;
      }
    } catch (error) {
      summary.failures.push({ tenantId: id, error: error instanceof Error ? error.message : String(error) });
      givenUp += Math.max(0, daysOwed({ id, ...tenant }) - (summary.days - daysBefore));
      await report();
    }
  }
  return summary;
};
