import { Temporal } from 'temporal-polyfill';

/** Dates [from, until) as YYYY-MM-DD (UTC days); null: no bound on that side. */
export interface DayRange {
  from: string | null;
  until: string | null;
}

/** Instants [from, until); null: no bound on that side. */
export interface InstantRange {
  from: Date | null;
  until: Date | null;
}

/**
 * How to count the records created in [from, before): the counter rows of whole UTC months, of
 * the whole UTC days outside them, and, from the records themselves, the part-days at either end
 * (a bound that is not a UTC midnight). The parts never overlap and together cover the range.
 */
export interface CountSpans {
  /** Month rows whose first day lies in one of these ranges. */
  months: DayRange[];
  days: DayRange[];
  records: InstantRange[];
}

/** The last day a date column holds in every form both drivers write (see clampInstant in search-records.ts). */
const lastDay = Temporal.PlainDate.from('9999-12-31');

const utcDayOf = (instant: Date): Temporal.PlainDate =>
  Temporal.Instant.fromEpochMilliseconds(instant.getTime()).toZonedDateTimeISO('UTC').toPlainDate();
const startOf = (day: Temporal.PlainDate): Date => new Date(day.toZonedDateTime({ timeZone: 'UTC' }).epochMilliseconds);
const isMidnight = (instant: Date): boolean => startOf(utcDayOf(instant)).getTime() === instant.getTime();
const before = (a: Temporal.PlainDate, b: Temporal.PlainDate): boolean => Temporal.PlainDate.compare(a, b) < 0;
const text = (day: Temporal.PlainDate | null): string | null => (day === null ? null : day.toString());

/** The first UTC day that starts at or after `instant`; null past the last day. */
const firstWholeDay = (instant: Date): Temporal.PlainDate | null => {
  const day = utcDayOf(instant);
  if (isMidnight(instant)) return day;
  return before(day, lastDay) ? day.add({ days: 1 }) : null;
};

/** The first first-of-month at or after `day`; null past the last day. */
const firstWholeMonth = (day: Temporal.PlainDate): Temporal.PlainDate | null => {
  if (day.day === 1) return day;
  const next = day.with({ day: 1 }).add({ months: 1 });
  return before(lastDay, next) ? null : next;
};

/**
 * Splits [from, before) (null: unbounded) into month rows, day rows and part-days. A bound in a
 * tenant's time zone that is not a UTC midnight falls inside one UTC day, which is counted from
 * the records between the bound and that day's edge: at most a day of records at each end.
 */
export const countSpans = (from: Date | null, until: Date | null): CountSpans => {
  const lo = from === null ? null : firstWholeDay(from);
  const hi = until === null ? null : utcDayOf(until);
  if ((from !== null && lo === null) || (lo !== null && hi !== null && !before(lo, hi))) {
    // No whole UTC day inside: the range is counted from the records alone.
    return { months: [], days: [], records: [{ from, until }] };
  }
  const records: InstantRange[] = [];
  if (from !== null && lo !== null && startOf(lo).getTime() !== from.getTime()) {
    records.push({ from, until: startOf(lo) });
  }
  if (until !== null && hi !== null && startOf(hi).getTime() !== until.getTime()) {
    records.push({ from: startOf(hi), until });
  }
  const monthLo = lo === null ? null : firstWholeMonth(lo);
  const monthHi = hi === null ? null : hi.with({ day: 1 });
  const noMonth =
    (lo !== null && monthLo === null) || (monthLo !== null && monthHi !== null && !before(monthLo, monthHi));
  if (noMonth) return { months: [], days: [{ from: text(lo), until: text(hi) }], records };
  const days: DayRange[] = [];
  if (lo !== null && monthLo !== null && before(lo, monthLo)) days.push({ from: text(lo), until: text(monthLo) });
  if (hi !== null && monthHi !== null && before(monthHi, hi)) days.push({ from: text(monthHi), until: text(hi) });
  return { months: [{ from: text(monthLo), until: text(monthHi) }], days, records };
};
