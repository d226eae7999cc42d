import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { addCalendarDays } from '../../core/billing-calendar.js';
import type { SubscriptionStatus } from '../../db/schema.js';
import {
  afterCollection,
  dueStep,
  dunningRetryDays,
  graceEnd,
  nextRunAt,
  pendingSteps,
  retryAt,
  type DueStepKind,
} from './lifecycle.js';
import type { SubscriptionRow } from './repository.js';

const hour = 3_600_000;
const day = 24 * hour;

type LifecycleFields = Parameters<typeof pendingSteps>[0];
type DunningFields = Parameters<typeof afterCollection>[0]['sub'];

const lifecycle = (fields: Partial<LifecycleFields> & Pick<LifecycleFields, 'status'>): LifecycleFields => ({
  current_period_end: new Date('2026-02-01T00:00:00Z'),
  next_payment_attempt_at: null,
  grace_ends_at: null,
  metering_closes_at: null,
  ...fields,
});

/** An active subscription in a period ending on `periodEnd`, not yet in dunning. */
const activeSub = (periodEnd: Date, graceDays: number): DunningFields & LifecycleFields => ({
  status: 'active',
  grace_period_days: graceDays,
  current_period_end: periodEnd,
  past_due_since: null,
  grace_ends_at: null,
  next_payment_attempt_at: null,
  payment_attempts: 0,
  metering_closes_at: null,
});

type DunnedSub = DunningFields & LifecycleFields & Pick<SubscriptionRow, 'open_record_id'>;

/** Applies a collection outcome the way the billing run does: the patch merged over the row. */
const collect = (sub: DunnedSub, paid: boolean, at: Date, timeZone: string): DunnedSub => ({
  ...sub,
  ...afterCollection({ sub, paid, recordId: 'rec_1', at, timeZone }),
});

describe('pendingSteps', () => {
  it.each<[SubscriptionStatus, DueStepKind[]]>([
    ['trialing', ['trial_end']],
    ['active', ['period_end']],
    ['suspended', ['period_end']],
    ['canceled', []],
    ['expired', []],
  ])('a %s subscription owes %j', (status, kinds) => {
    const sub = lifecycle({ status });
    expect(pendingSteps(sub).map((step) => step.kind)).toEqual(kinds);
    expect(pendingSteps(sub).every((step) => step.at === sub.current_period_end)).toBe(true);
  });

  it('orders a past-due subscription’s steps by time: retry, grace expiry, period end', () => {
    const sub = lifecycle({
      status: 'past_due',
      next_payment_attempt_at: new Date('2026-01-11T00:00:00Z'),
      grace_ends_at: new Date('2026-01-17T00:00:00Z'),
      current_period_end: new Date('2026-02-01T00:00:00Z'),
    });
    expect(pendingSteps(sub)).toEqual([
      { kind: 'payment_retry', at: new Date('2026-01-11T00:00:00Z') },
      { kind: 'grace_expiry', at: new Date('2026-01-17T00:00:00Z') },
      { kind: 'period_end', at: new Date('2026-02-01T00:00:00Z') },
    ]);
  });

  it('at one instant puts the retry before the grace expiry before the period end', () => {
    const at = new Date('2026-02-01T00:00:00Z');
    const sub = lifecycle({
      status: 'past_due',
      next_payment_attempt_at: at,
      grace_ends_at: at,
      current_period_end: at,
    });
    expect(pendingSteps(sub).map((step) => step.kind)).toEqual(['payment_retry', 'grace_expiry', 'period_end']);
  });

  it('orders any past-due steps by time, ties as retry, grace expiry, period end', () => {
    // Few distinct instants, so ties are common.
    const instant = fc.integer({ min: 0, max: 3 }).map((n) => new Date(Date.UTC(2026, 0, 10 + n)));
    fc.assert(
      fc.property(fc.option(instant), fc.option(instant), instant, (retry, grace, periodEnd) => {
        const sub = lifecycle({
          status: 'past_due',
          next_payment_attempt_at: retry,
          grace_ends_at: grace,
          current_period_end: periodEnd,
        });
        const expected = [
          { kind: 'payment_retry' as const, at: retry, rank: 0 },
          { kind: 'grace_expiry' as const, at: grace, rank: 1 },
          { kind: 'period_end' as const, at: periodEnd, rank: 2 },
        ]
          .flatMap((step) => (step.at === null ? [] : [{ ...step, at: step.at }]))
          .sort((a, b) => a.at.getTime() - b.at.getTime() || a.rank - b.rank)
          .map(({ kind, at }) => ({ kind, at }));
        expect(pendingSteps(sub)).toEqual(expected);
        expect(nextRunAt(sub)).toEqual(expected[0]!.at);
      }),
      { numRuns: 200 },
    );
  });
});

describe('dueStep and nextRunAt', () => {
  const sub = lifecycle({
    status: 'past_due',
    next_payment_attempt_at: new Date('2026-01-11T00:00:00Z'),
    grace_ends_at: new Date('2026-01-17T00:00:00Z'),
  });

  it('is the earliest step once its instant is reached, and nothing before', () => {
    expect(dueStep(sub, new Date('2026-01-10T23:59:59.999Z'))).toBeUndefined();
    expect(dueStep(sub, new Date('2026-01-11T00:00:00Z'))).toEqual({
      kind: 'payment_retry',
      at: new Date('2026-01-11T00:00:00Z'),
    });
    // Long overdue: still the earliest first, so steps run in time order.
    expect(dueStep(sub, new Date('2027-01-01T00:00:00Z'))?.kind).toBe('payment_retry');
  });

  it('names when the run next has work, or null once the subscription has ended', () => {
    expect(nextRunAt(sub)).toEqual(new Date('2026-01-11T00:00:00Z'));
    expect(nextRunAt(lifecycle({ status: 'active' }))).toEqual(new Date('2026-02-01T00:00:00Z'));
    expect(nextRunAt(lifecycle({ status: 'canceled' }))).toBeNull();
    expect(nextRunAt(lifecycle({ status: 'expired' }))).toBeNull();
    expect(dueStep(lifecycle({ status: 'expired' }), new Date('2100-01-01T00:00:00Z'))).toBeUndefined();
  });
});

describe('graceEnd', () => {
  it('is grace_period_days calendar days later in the tenant’s zone', () => {
    // 2024-03-05 12:00 EST + 7 days = 2024-03-12 12:00 EDT, 167 hours later.
    const since = new Date('2024-03-05T17:00:00Z');
    expect(graceEnd(since, 7, new Date('2024-04-01T04:00:00Z'), 'America/New_York')).toEqual(
      new Date('2024-03-12T16:00:00Z'),
    );
    expect(graceEnd(since, 7, new Date('2024-04-01T00:00:00Z'), 'Asia/Shanghai')).toEqual(
      new Date('2024-03-12T17:00:00Z'),
    );
  });

  it('is capped at the period end: an unpaid period is never renewed', () => {
    const since = new Date('2026-01-28T09:00:00Z');
    const periodEnd = new Date('2026-01-31T16:00:00Z');
    expect(graceEnd(since, 7, periodEnd, 'Asia/Shanghai')).toEqual(periodEnd);
    expect(graceEnd(since, 0, periodEnd, 'Asia/Shanghai')).toEqual(since);
  });
});

describe('retryAt', () => {
  const since = new Date('2026-01-09T16:00:00Z'); // 2026-01-10 00:00 in Shanghai
  const graceEndsAt = new Date('2026-01-16T16:00:00Z'); // 7 days later

  it('retries 1, 3 and 5 calendar days after the first failure, then no more', () => {
    expect(dunningRetryDays).toEqual([1, 3, 5]);
    expect([1, 2, 3, 4].map((attempt) => retryAt(since, attempt, graceEndsAt, 'Asia/Shanghai'))).toEqual([
      new Date('2026-01-10T16:00:00Z'),
      new Date('2026-01-12T16:00:00Z'),
      new Date('2026-01-14T16:00:00Z'),
      null,
    ]);
  });

  it('drops a retry at or after the grace end', () => {
    // Grace of 5 days: the third retry would fall exactly on the grace end.
    const fiveDays = new Date('2026-01-14T16:00:00Z');
    expect(retryAt(since, 2, fiveDays, 'Asia/Shanghai')).toEqual(new Date('2026-01-12T16:00:00Z'));
    expect(retryAt(since, 3, fiveDays, 'Asia/Shanghai')).toBeNull();
    expect(retryAt(since, 1, new Date(since.getTime() + day), 'Asia/Shanghai')).toBeNull();
    expect(retryAt(since, 1, new Date(since.getTime() + day + 1), 'Asia/Shanghai')).toEqual(
      new Date(since.getTime() + day),
    );
  });
});

describe('afterCollection', () => {
  const timeZone = 'Asia/Shanghai';
  const periodEnd = new Date('2026-01-31T16:00:00Z');
  const failedAt = new Date('2026-01-09T16:00:00Z');

  it('starts dunning on the first failure: past due, one attempt, first retry a day later', () => {
    expect(
      afterCollection({ sub: activeSub(periodEnd, 7), paid: false, recordId: 'rec_1', at: failedAt, timeZone }),
    ).toEqual({
      status: 'past_due',
      open_record_id: 'rec_1',
      past_due_since: failedAt,
      grace_ends_at: new Date('2026-01-16T16:00:00Z'),
      payment_attempts: 1,
      next_payment_attempt_at: new Date('2026-01-10T16:00:00Z'),
    });
  });

  it('on later failures counts the attempt and moves the next retry, keeping the grace end', () => {
    const pastDue = collect({ ...activeSub(periodEnd, 7), open_record_id: null }, false, failedAt, timeZone);
    const retryInstant = pastDue.next_payment_attempt_at!;
    const patch = afterCollection({ sub: pastDue, paid: false, recordId: 'rec_1', at: retryInstant, timeZone });
    expect(patch).toEqual({ payment_attempts: 2, next_payment_attempt_at: new Date('2026-01-12T16:00:00Z') });
  });

  it('clears dunning when paid, from any state', () => {
    const cleared = {
      status: 'active',
      open_record_id: null,
      past_due_since: null,
      grace_ends_at: null,
      next_payment_attempt_at: null,
      payment_attempts: 0,
    };
    const fresh = { ...activeSub(periodEnd, 7), open_record_id: null };
    expect(afterCollection({ sub: fresh, paid: true, recordId: 'rec_1', at: failedAt, timeZone })).toEqual(cleared);
    const pastDue = collect(fresh, false, failedAt, timeZone);
    expect(
      afterCollection({ sub: pastDue, paid: true, recordId: 'rec_1', at: new Date('2026-01-12T16:00:00Z'), timeZone }),
    ).toEqual(cleared);
    expect(
      afterCollection({
        sub: { ...pastDue, status: 'suspended' },
        paid: true,
        recordId: 'rec_1',
        at: periodEnd,
        timeZone,
      }),
    ).toEqual(cleared);
  });

  it('runs out of retries: 1, 3, 5 days, then no next attempt; the grace expiry and period end follow', () => {
    let sub: DunnedSub = { ...activeSub(periodEnd, 7), open_record_id: null };
    sub = collect(sub, false, failedAt, timeZone);
    const retries: Date[] = [];
    for (let step = dueStep(sub, periodEnd); step?.kind === 'payment_retry'; step = dueStep(sub, periodEnd)) {
      retries.push(step.at);
      sub = collect(sub, false, step.at, timeZone);
    }
    expect(retries).toEqual([
      new Date('2026-01-10T16:00:00Z'),
      new Date('2026-01-12T16:00:00Z'),
      new Date('2026-01-14T16:00:00Z'),
    ]);
    expect(sub).toMatchObject({ status: 'past_due', payment_attempts: 4, next_payment_attempt_at: null });
    expect(pendingSteps(sub)).toEqual([
      { kind: 'grace_expiry', at: new Date('2026-01-16T16:00:00Z') },
      { kind: 'period_end', at: periodEnd },
    ]);
  });

  it('schedules exactly the retries that fall before the grace end, for any grace and period', () => {
    const timeZones = ['UTC', 'Asia/Shanghai', 'America/New_York', 'Australia/Lord_Howe'] as const;
    fc.assert(
      fc.property(
        fc.date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2100-01-01T00:00:00Z'), noInvalidDate: true }),
        fc.integer({ min: 0, max: 30 }),
        fc.integer({ min: 1, max: 40 * day }),
        fc.constantFrom(...timeZones),
        (since, graceDays, periodLeft, timeZone) => {
          const end = new Date(since.getTime() + periodLeft);
          let sub: DunnedSub = { ...activeSub(end, graceDays), open_record_id: null };
          sub = collect(sub, false, since, timeZone);

          const expectedGraceEnd = graceEnd(since, graceDays, end, timeZone);
          expect(sub.grace_ends_at).toEqual(expectedGraceEnd);
          expect(sub.grace_ends_at!.getTime()).toBeLessThanOrEqual(end.getTime());
          const expectedRetries = dunningRetryDays
            .map((days) => addCalendarDays(since, days, timeZone))
            .filter((at) => at < expectedGraceEnd);

          const retries: Date[] = [];
          for (let next = sub.next_payment_attempt_at; next !== null; next = sub.next_payment_attempt_at) {
            // Every retry is still due before the grace expires and the period ends.
            expect(dueStep(sub, next)).toEqual({ kind: 'payment_retry', at: next });
            retries.push(next);
            sub = collect(sub, false, next, timeZone);
            expect(sub.status).toBe('past_due');
            expect(sub.past_due_since).toEqual(since);
          }
          expect(retries).toEqual(expectedRetries);
          expect(sub.payment_attempts).toBe(1 + retries.length);
          expect(pendingSteps(sub).map((step) => step.kind)).toEqual(['grace_expiry', 'period_end']);
        },
      ),
      { numRuns: 300 },
    );
  });
});
