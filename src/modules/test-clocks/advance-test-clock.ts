import { Temporal } from 'temporal-polyfill';
import { calendarDateIn } from '../../core/billing-calendar.js';
import { endOfDay } from '../../core/calendar.js';
import { clockAt, type Clock } from '../../core/clock.js';
import { AppError, invalidParameter, notFound } from '../../core/errors.js';
import { fail, ok, type Result } from '../../core/result.js';
import type { Db } from '../../db/database.js';
import { runBilling } from '../billing-run/billing-run.js';
import { settlePayg } from '../payg/settle-payg.js';
import { nextRunOnClock } from '../subscriptions/repository.js';
import { evaluateAlerts } from '../usage-alerts/evaluate-alerts.js';
import { tenantsWithActiveAlerts } from '../usage-alerts/repository.js';
import {
  claimAdvance,
  findTestClock,
  finishAdvance,
  moveFrozenTime,
  timeZonesOnClock,
  type TestClockRow,
} from './repository.js';

export interface AdvanceSummary {
  from: Date;
  to: Date;
  /** Instants the advance stopped at: each where a subscription was due, and each midnight of a tenant. */
  steps: number;
  /** Subscription advances by the billing run (a subscription due at several steps counts at each). */
  subscriptions: number;
  settledDays: number;
  alertsFired: number;
  /** Work that failed at a step: left for the next step, as the scheduler leaves it for its next tick. */
  failures: { step: Date; tenantId: string; subscriptionId: string | null; error: string }[];
}

/** How far one advance may go: further ahead takes several. */
const maxAdvance = { years: 2 } as const;

const plusMaxAdvance = (from: Date): Date =>
  new Date(
    Temporal.Instant.fromEpochMilliseconds(from.getTime()).toZonedDateTimeISO('UTC').add(maxAdvance).epochMilliseconds,
  );

/**
 * The next instant after `at` (at most `to`) at which something is due for the clock's tenants:
 * a subscription's next run, or the end of a tenant's day (pay-as-you-go settlement, usage alerts).
 */
const nextStep = async (db: Db, clockId: string, at: Date, to: Date): Promise<Date> => {
  const candidates = [to];
  const run = await nextRunOnClock(db, clockId, at);
  if (run !== undefined) candidates.push(run);
  for (const timeZone of await timeZonesOnClock(db, clockId)) {
    candidates.push(endOfDay(Temporal.PlainDate.from(calendarDateIn(at, timeZone)), timeZone));
  }
  return new Date(Math.min(...candidates.map((instant) => instant.getTime())));
};

/**
 * What the scheduler does on real time, done for the clock's tenants as of one instant: the
 * billing run, pay-as-you-go settlement of the days that ended, then usage alerts — the same
 * functions, restricted to the clock's tenants, dated at the instant.
 */
const runStep = async (db: Db, clockId: string, step: Date, summary: AdvanceSummary): Promise<void> => {
  const billed = await runBilling(db, step, { testClockId: clockId });
  summary.subscriptions += billed.subscriptions;
  for (const failure of billed.failures) summary.failures.push({ step, ...failure });
  const settled = await settlePayg(db, clockAt(step), { testClockId: clockId });
  summary.settledDays += settled.days;
  for (const failure of settled.failures) summary.failures.push({ step, subscriptionId: null, ...failure });
  // An alert's crossing changes only with usage (whose ingestion evaluates it) or a new period (a
  // billing step): between those, evaluating again finds what the last evaluation found.
  if (summary.steps === 0 || billed.subscriptions > 0) {
    summary.alertsFired += await evaluateAlerts(db, clockAt(step), await tenantsWithActiveAlerts(db, clockId));
  }
};

/**
 * Moves a test clock forward to `to`, stepping through every instant at which its tenants have
 * work due, in order, and running that work as of the instant; the clock's frozen time follows
 * each step, so a request for one of its tenants meanwhile sees a time whose work is all done.
 * The clock is claimed first: a second advance of the same clock gets a conflict. `clock` is
 * real time: it dates the clock row's own updates.
 */
export const advanceTestClock = async ({
  db,
  clock,
  clockId,
  to,
}: {
  db: Db;
  clock: Clock;
  clockId: string;
  to: Date;
}): Promise<Result<{ testClock: TestClockRow; summary: AdvanceSummary }>> => {
  const found = await findTestClock(db, clockId);
  if (found === undefined) return fail(notFound('test clock'));
  const from = found.frozen_time;
  if (to.getTime() <= from.getTime()) return fail(invalidParameter('body', 'to', 'must be after the frozen time'));
  if (to.getTime() > plusMaxAdvance(from).getTime()) {
    return fail(invalidParameter('body', 'to', 'must be at most two years after the frozen time'));
  }
  const claimed = await claimAdvance(db, { id: clockId, from, to, at: clock.now() });
  if (claimed === undefined) return fail(new AppError('conflict', `test clock ${clockId} is being advanced`));
  const summary: AdvanceSummary = {
    from,
    to,
    steps: 0,
    subscriptions: 0,
    settledDays: 0,
    alertsFired: 0,
    failures: [],
  };
  try {
    for (let at = from; at.getTime() < to.getTime();) {
      at = await nextStep(db, clockId, at, to);
      await runStep(db, clockId, at, summary);
      summary.steps += 1;
      await moveFrozenTime(db, { id: clockId, frozenTime: at, at: clock.now() });
    }
  } finally {
    // Also after a failure: the clock stays where its last whole step left it, ready to go on.
    await finishAdvance(db, clockId, clock.now());
  }
  const testClock = await findTestClock(db, clockId);
  if (testClock === undefined) throw new Error(`test clock ${clockId} vanished during its advance`);
  return ok({ testClock, summary });
};
