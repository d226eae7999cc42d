import fc from 'fast-check';
import { Temporal } from 'temporal-polyfill';
import { describe, expect, it } from 'vitest';
import {
  addCalendarDays,
  billingCycles,
  calendarDateIn,
  periodBoundary,
  type BillingCycle,
} from './billing-calendar.js';

/** Zones with no DST, with hour-long DST on either hemisphere, with a 30-minute DST, and a +05:30 offset. */
const timeZones = [
  'UTC',
  'Asia/Shanghai',
  'America/New_York',
  'Europe/London',
  'Australia/Lord_Howe',
  'Asia/Kolkata',
] as const;

const zoned = (instant: Date, timeZone: string): Temporal.ZonedDateTime =>
  Temporal.Instant.fromEpochMilliseconds(instant.getTime()).toZonedDateTimeISO(timeZone);

const isLeapYear = (year: number): boolean => (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;

// Written out rather than asked of Temporal, so the clamp is checked against something independent.
const daysInMonth = (year: number, month: number): number =>
  [31, isLeapYear(year) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]!;

/** Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil). */
const epochDay = (year: number, month: number, day: number): number => {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yearOfEra = y - era * 400;
  const dayOfYear = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const dayOfEra = yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear;
  return era * 146097 + dayOfEra - 719468;
};

/**
 * Checks that `instant` shows the wall-clock time `time` on local date `date`. Where that time does
 * not exist (a DST gap), it must be the time read with the offset from before the gap, i.e. moved
 * forward by the gap (02:30 in New York's March gap is 03:30 EDT). Where it exists twice (a fold),
 * either of the two instants is the anchor's wall-clock time.
 */
const expectWallClock = (instant: Date, date: Temporal.PlainDate, time: Temporal.PlainTime, timeZone: string) => {
  const wall = date.toPlainDateTime(time);
  const earlier = wall.toZonedDateTime(timeZone, { disambiguation: 'earlier' });
  const later = wall.toZonedDateTime(timeZone, { disambiguation: 'later' });
  const local = zoned(instant, timeZone);
  if (earlier.toPlainDateTime().equals(wall)) {
    expect(local.toPlainDateTime().toString()).toBe(wall.toString());
    expect([earlier.epochMilliseconds, later.epochMilliseconds]).toContain(instant.getTime());
  } else {
    // A gap: the wall time is skipped; `later` reads it with the pre-transition offset.
    expect(local.toPlainDate().toString()).toBe(date.toString());
    expect(Temporal.PlainTime.compare(local.toPlainTime(), time)).toBe(1);
    expect(instant.getTime()).toBe(later.epochMilliseconds);
  }
};

const anyInstant = fc.date({
  min: new Date('2000-01-01T00:00:00Z'),
  max: new Date('2100-12-31T23:59:59.999Z'),
  noInvalidDate: true,
});

/**
 * A local date-time in the zone, biased to month ends and to the small hours where DST moves
 * clocks, so gaps, folds and clamps actually come up; resolved to an instant as Temporal does.
 */
const localAnchor = (timeZone: string) =>
  fc
    .record({
      year: fc.integer({ min: 2000, max: 2100 }),
      month: fc.integer({ min: 1, max: 12 }),
      day: fc.oneof(fc.integer({ min: 1, max: 31 }), fc.constantFrom(28, 29, 30, 31)),
      hour: fc.oneof(fc.integer({ min: 0, max: 23 }), fc.constantFrom(0, 1, 2)),
      minute: fc.oneof(fc.integer({ min: 0, max: 59 }), fc.constantFrom(0, 15, 30, 45)),
      second: fc.integer({ min: 0, max: 59 }),
      millisecond: fc.integer({ min: 0, max: 999 }),
    })
    .map(
      (fields) =>
        new Date(
          Temporal.PlainDateTime.from(fields, { overflow: 'constrain' }).toZonedDateTime(timeZone).epochMilliseconds,
        ),
    );

/**
 * An anchor `monthsBefore` months ahead of a wall-clock time that DST skips (New York and London
 * lose an hour in March, Lord Howe half an hour in October), so boundary `monthsBefore` falls in
 * the gap. Uniform anchors almost never do.
 */
const anchorBeforeDstGap = fc
  .record({
    timeZone: fc.constantFrom('America/New_York', 'Europe/London', 'Australia/Lord_Howe'),
    year: fc.integer({ min: 2002, max: 2100 }),
    intoGap: fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
    monthsBefore: fc.integer({ min: 1, max: 24 }),
  })
  .map(({ timeZone, year, intoGap, monthsBefore }) => {
    let transition = Temporal.ZonedDateTime.from({ year, month: 1, day: 1, timeZone }).getTimeZoneTransition('next')!;
    while (transition.offsetNanoseconds <= transition.subtract({ nanoseconds: 1 }).offsetNanoseconds) {
      transition = transition.getTimeZoneTransition('next')!;
    }
    const gapMs = (transition.offsetNanoseconds - transition.subtract({ nanoseconds: 1 }).offsetNanoseconds) / 1e6;
    const skipped = transition
      .toPlainDateTime()
      .subtract({ milliseconds: gapMs })
      .add({ milliseconds: Math.floor(intoGap * gapMs) });
    const anchor = skipped.subtract({ months: monthsBefore }).toZonedDateTime(timeZone);
    return { timeZone, anchor: new Date(anchor.epochMilliseconds) };
  });

const anchorInZone = fc.oneof(
  fc
    .constantFrom(...timeZones)
    .chain((timeZone) =>
      fc.record({ timeZone: fc.constant(timeZone), anchor: fc.oneof(anyInstant, localAnchor(timeZone)) }),
    ),
  anchorBeforeDstGap,
);

const monthsPerCycle = (cycle: BillingCycle): number => (cycle === 'monthly' ? 1 : 12);

const boundaries = (anchor: Date, cycle: BillingCycle, count: number, timeZone: string): Date[] =>
  Array.from({ length: count + 1 }, (_, n) => periodBoundary(anchor, cycle, n, timeZone));

describe('periodBoundary', () => {
  it('starts period 0 at the anchor itself', () => {
    fc.assert(
      fc.property(anchorInZone, fc.constantFrom(...billingCycles), ({ anchor, timeZone }, cycle) => {
        expect(periodBoundary(anchor, cycle, 0, timeZone).getTime()).toBe(anchor.getTime());
      }),
      { numRuns: 200 },
    );
  });

  it('makes contiguous, strictly increasing periods of a month or a year (± DST)', () => {
    fc.assert(
      fc.property(
        anchorInZone,
        fc.constantFrom(...billingCycles),
        fc.integer({ min: 1, max: 40 }),
        ({ anchor, timeZone }, cycle, renewals) => {
          const bounds = boundaries(anchor, cycle, renewals, timeZone);
          const day = 86_400_000;
          // Longest DST shift in these zones is an hour; shortest month 28 days, a year 365.
          const [shortest, longest] = cycle === 'monthly' ? [28 * day, 31 * day] : [365 * day, 366 * day];
          for (let n = 0; n < renewals; n++) {
            // Period n is [bounds[n], bounds[n + 1]); period n + 1 starts where it ends, with no gap or overlap.
            const length = bounds[n + 1]!.getTime() - bounds[n]!.getTime();
            expect(length).toBeGreaterThan(0);
            expect(length).toBeGreaterThanOrEqual(shortest - 3600_000);
            expect(length).toBeLessThanOrEqual(longest + 3600_000);
          }
        },
      ),
      { numRuns: 150 },
    );
  });

  it('lands n cycles after the anchor in local calendar terms, day clamped, at the anchor’s wall-clock time', () => {
    fc.assert(
      fc.property(
        anchorInZone,
        fc.constantFrom(...billingCycles),
        fc.integer({ min: 0, max: 40 }),
        ({ anchor, timeZone }, cycle, renewals) => {
          const local = zoned(anchor, timeZone);
          const bounds = boundaries(anchor, cycle, renewals, timeZone);
          bounds.forEach((boundary, n) => {
            // Month arithmetic by hand: no month is skipped or repeated.
            const monthIndex = local.year * 12 + (local.month - 1) + n * monthsPerCycle(cycle);
            const year = Math.floor(monthIndex / 12);
            const month = (monthIndex % 12) + 1;
            const day = Math.min(local.day, daysInMonth(year, month));
            expectWallClock(boundary, new Temporal.PlainDate(year, month, day), local.toPlainTime(), timeZone);
          });
        },
      ),
      { numRuns: 150 },
    );
  });

  it('counts from the anchor, so a clamped day comes back (Jan 31 → Feb 29 → Mar 31 in Shanghai)', () => {
    // Local midnight in Shanghai (UTC+8, no DST) is 16:00Z the day before.
    const anchor = new Date('2024-01-30T16:00:00Z');
    const bounds = boundaries(anchor, 'monthly', 5, 'Asia/Shanghai');
    expect(bounds.map((b) => b.toISOString())).toEqual([
      '2024-01-30T16:00:00.000Z',
      '2024-02-28T16:00:00.000Z',
      '2024-03-30T16:00:00.000Z',
      '2024-04-29T16:00:00.000Z',
      '2024-05-30T16:00:00.000Z',
      '2024-06-29T16:00:00.000Z',
    ]);
    expect(bounds.map((b) => calendarDateIn(b, 'Asia/Shanghai'))).toEqual([
      '2024-01-31',
      '2024-02-29',
      '2024-03-31',
      '2024-04-30',
      '2024-05-31',
      '2024-06-30',
    ]);
    // Counting from the previous end would have lost the 31st: Feb 29 + 1 month = Mar 29.
    expect(calendarDateIn(periodBoundary(bounds[1]!, 'monthly', 1, 'Asia/Shanghai'), 'Asia/Shanghai')).toBe(
      '2024-03-29',
    );
  });

  it('clamps Jan 31 to Feb 28 in a common year and returns to Mar 31', () => {
    const anchor = new Date('2025-01-30T16:00:00Z'); // 2025-01-31 00:00 in Shanghai
    expect(boundaries(anchor, 'monthly', 2, 'Asia/Shanghai').map((b) => b.toISOString())).toEqual([
      '2025-01-30T16:00:00.000Z',
      '2025-02-27T16:00:00.000Z',
      '2025-03-30T16:00:00.000Z',
    ]);
    // The same instant is Jan 30 16:00 in UTC: clamped to Feb 28 there too, then back to the 30th.
    expect(boundaries(anchor, 'monthly', 2, 'UTC').map((b) => b.toISOString())).toEqual([
      '2025-01-30T16:00:00.000Z',
      '2025-02-28T16:00:00.000Z',
      '2025-03-30T16:00:00.000Z',
    ]);
  });

  it('takes the day and time from the tenant’s zone, not UTC', () => {
    // 2025-01-30T17:00Z is Jan 31 01:00 in Shanghai, Jan 30 in UTC: the two calendars part at February.
    const anchor = new Date('2025-01-30T17:00:00Z');
    expect(periodBoundary(anchor, 'monthly', 1, 'Asia/Shanghai').toISOString()).toBe('2025-02-27T17:00:00.000Z');
    expect(periodBoundary(anchor, 'monthly', 1, 'UTC').toISOString()).toBe('2025-02-28T17:00:00.000Z');
    // Kolkata is UTC+05:30: Jan 31 00:00 local is 18:30Z on Jan 30.
    expect(periodBoundary(new Date('2025-01-30T18:30:00Z'), 'monthly', 1, 'Asia/Kolkata').toISOString()).toBe(
      '2025-02-27T18:30:00.000Z',
    );
  });

  it('takes Feb 29 yearly to Feb 28 and back to Feb 29 in the next leap year, skipping 2100', () => {
    const anchor = new Date('2024-02-28T16:00:00Z'); // 2024-02-29 00:00 in Shanghai
    expect(boundaries(anchor, 'yearly', 4, 'Asia/Shanghai').map((b) => calendarDateIn(b, 'Asia/Shanghai'))).toEqual([
      '2024-02-29',
      '2025-02-28',
      '2026-02-28',
      '2027-02-28',
      '2028-02-29',
    ]);
    expect(periodBoundary(anchor, 'yearly', 4, 'Asia/Shanghai').toISOString()).toBe('2028-02-28T16:00:00.000Z');
    // 2100 is not a leap year (divisible by 100, not by 400).
    const late = new Date('2096-02-29T09:30:00Z');
    expect(boundaries(late, 'yearly', 8, 'UTC').map((b) => b.toISOString())).toEqual([
      '2096-02-29T09:30:00.000Z',
      '2097-02-28T09:30:00.000Z',
      '2098-02-28T09:30:00.000Z',
      '2099-02-28T09:30:00.000Z',
      '2100-02-28T09:30:00.000Z',
      '2101-02-28T09:30:00.000Z',
      '2102-02-28T09:30:00.000Z',
      '2103-02-28T09:30:00.000Z',
      '2104-02-29T09:30:00.000Z',
    ]);
  });

  it('keeps the wall-clock time across DST in New York, moving a skipped 02:30 to 03:30', () => {
    // 2024-02-10 02:30 EST; 2024-03-10 02:30 does not exist (clocks go 02:00 → 03:00).
    const anchor = new Date('2024-02-10T07:30:00Z');
    expect(boundaries(anchor, 'monthly', 3, 'America/New_York').map((b) => b.toISOString())).toEqual([
      '2024-02-10T07:30:00.000Z',
      '2024-03-10T07:30:00.000Z', // 03:30 EDT: the period is 29 days of wall time, one hour short
      '2024-04-10T06:30:00.000Z', // 02:30 EDT again
      '2024-05-10T06:30:00.000Z',
    ]);
    // 09:00 local stays 09:00 local: the UTC hour moves with the offset.
    expect(periodBoundary(new Date('2024-02-15T14:00:00Z'), 'monthly', 1, 'America/New_York').toISOString()).toBe(
      '2024-03-15T13:00:00.000Z',
    );
  });

  it('gives a doubled 01:30 one of its two instants (New York, November)', () => {
    // 2024-10-03 01:30 EDT; 2024-11-03 01:30 happens at 05:30Z (EDT) and again at 06:30Z (EST).
    const boundary = periodBoundary(new Date('2024-10-03T05:30:00Z'), 'monthly', 1, 'America/New_York');
    expect(['2024-11-03T05:30:00.000Z', '2024-11-03T06:30:00.000Z']).toContain(boundary.toISOString());
    expect(zoned(boundary, 'America/New_York').toPlainTime().toString()).toBe('01:30:00');
  });

  it('keeps the wall-clock time across Lord Howe’s 30-minute DST', () => {
    // 2024-09-06 02:15 (+10:30); on 2024-10-06 clocks go 02:00 → 02:30 (+11:00), so 02:15 becomes 02:45.
    const anchor = new Date(Temporal.ZonedDateTime.from('2024-09-06T02:15[Australia/Lord_Howe]').epochMilliseconds);
    const bounds = boundaries(anchor, 'monthly', 2, 'Australia/Lord_Howe');
    expect(bounds.map((b) => zoned(b, 'Australia/Lord_Howe').toPlainDateTime().toString())).toEqual([
      '2024-09-06T02:15:00',
      '2024-10-06T02:45:00',
      '2024-11-06T02:15:00',
    ]);
    expect(bounds[1]!.toISOString()).toBe('2024-10-05T15:45:00.000Z');
  });
});

describe('addCalendarDays', () => {
  it('moves the local date by exactly that many days at the same wall-clock time', () => {
    fc.assert(
      fc.property(anchorInZone, fc.integer({ min: 0, max: 400 }), ({ anchor, timeZone }, days) => {
        const local = zoned(anchor, timeZone);
        const moved = addCalendarDays(anchor, days, timeZone);
        const target = Temporal.PlainDate.from('1970-01-01').add({
          days: epochDay(local.year, local.month, local.day) + days,
        });
        expect(target.toString()).toBe(local.toPlainDate().add({ days }).toString());
        expectWallClock(moved, target, local.toPlainTime(), timeZone);
      }),
      { numRuns: 300 },
    );
  });

  it('counts calendar days, not 24-hour days, across DST', () => {
    // 2024-03-05 12:00 EST + 7 days = 2024-03-12 12:00 EDT: 167 hours later.
    const since = new Date('2024-03-05T17:00:00Z');
    expect(addCalendarDays(since, 7, 'America/New_York').toISOString()).toBe('2024-03-12T16:00:00.000Z');
    expect(addCalendarDays(since, 7, 'UTC').toISOString()).toBe('2024-03-12T17:00:00.000Z');
    // A Shanghai trial from local midnight ends at local midnight.
    expect(addCalendarDays(new Date('2024-02-27T16:00:00Z'), 14, 'Asia/Shanghai').toISOString()).toBe(
      '2024-03-12T16:00:00.000Z',
    );
  });
});

describe('calendarDateIn', () => {
  it('names the local date: 16:00Z is already the next day in Shanghai', () => {
    expect(calendarDateIn(new Date('2024-12-31T16:00:00Z'), 'Asia/Shanghai')).toBe('2025-01-01');
    expect(calendarDateIn(new Date('2024-12-31T15:59:59.999Z'), 'Asia/Shanghai')).toBe('2024-12-31');
    expect(calendarDateIn(new Date('2024-12-31T16:00:00Z'), 'UTC')).toBe('2024-12-31');
  });
});
