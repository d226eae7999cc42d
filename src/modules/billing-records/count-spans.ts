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

const dayMs = 86_400_000;
/** The last day a date column holds in every form both drivers write (see clampInstant in search-records.ts). */
const lastDay = Date.UTC(9999, 11, 31);

// UTC days as the epoch milliseconds of their midnight: plain arithmetic (a UTC day is always 24 h).
const utcDayOf = (instant: Date): number => Math.floor(instant.getTime() / dayMs) * dayMs;
const dayOfMonth = (day: number): number => new Date(day).getUTCDate();
const firstOfMonth = (day: number): number => day - (dayOfMonth(day) - 1) * dayMs;
const firstOfNextMonth = (day: number): number => {
  const next = new Date(day);
  // setUTCFullYear, not Date.UTC, which reads years 0–99 as 1900–1999.
  next.setUTCFullYear(next.getUTCFullYear(), next.getUTCMonth() + 1, 1);
  return next.getTime();
};
const text = (day: number | null): string | null => (day === null ? null : new Date(day).toISOString().slice(0, 10));

/** The first UTC day that starts at or after `instant`; null past the last day. */
const firstWholeDay = (instant: Date): number | null => {
  const day = utcDayOf(instant);
  if (day === instant.getTime()) return day;
  return day < lastDay ? day + dayMs : null;
};

/** The first first-of-month at or after `day`; null past the last day. */
const firstWholeMonth = (day: number): number | null => {
  if (dayOfMonth(day) === 1) return day;
  const next = firstOfNextMonth(day);
  return next > lastDay ? null : next;
};

/**
 * Splits [from, before) (null: unbounded) into month rows, day rows and part-days. A bound in a
 * tenant's time zone that is not a UTC midnight falls inside one UTC day, which is counted from
 * the records between the bound and that day's edge: at most a day of records at each end.
 */
export const countSpans = (from: Date | null, until: Date | null): CountSpans => {
  const lo = from === null ? null : firstWholeDay(from);
  const hi = until === null ? null : utcDayOf(until);
  if ((from !== null && lo === null) || (lo !== null && hi !== null && lo >= hi)) {
    // No whole UTC day inside: the range is counted from the records alone.
    return { months: [], days: [], records: [{ from, until }] };
  }
  const records: InstantRange[] = [];
  if (from !== null && lo !== null && lo !== from.getTime()) records.push({ from, until: new Date(lo) });
  if (until !== null && hi !== null && hi !== until.getTime()) records.push({ from: new Date(hi), until });
  const monthLo = lo === null ? null : firstWholeMonth(lo);
  const monthHi = hi === null ? null : firstOfMonth(hi);
  const noMonth = (lo !== null && monthLo === null) || (monthLo !== null && monthHi !== null && monthLo >= monthHi);
  if (noMonth) return { months: [], days: [{ from: text(lo), until: text(hi) }], records };
  const days: DayRange[] = [];
  if (lo !== null && monthLo !== null && lo < monthLo) days.push({ from: text(lo), until: text(monthLo) });
  if (hi !== null && monthHi !== null && monthHi < hi) days.push({ from: text(monthHi), until: text(hi) });
  return { months: [{ from: text(monthLo), until: text(monthHi) }], days, records };
};
