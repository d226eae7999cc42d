import { Temporal } from 'temporal-polyfill';

export const billingCycles = ['monthly', 'yearly'] as const;
export type BillingCycle = (typeof billingCycles)[number];

const zoned = (instant: Date, timeZone: string): Temporal.ZonedDateTime =>
  Temporal.Instant.fromEpochMilliseconds(instant.getTime()).toZonedDateTimeISO(timeZone);

/**
 * The n-th period boundary of a subscription anchored at `anchor`: anchor + n cycles in the
 * tenant's time zone, at the anchor's wall-clock time. Always counted from the anchor, never from
 * the previous boundary, so a day clamped to a short month comes back: Jan 31 → Feb 28 (29) →
 * Mar 31, and Feb 29 → Feb 28 → … → Feb 29 of the next leap year.
 */
export const periodBoundary = (anchor: Date, cycle: BillingCycle, n: number, timeZone: string): Date => {
  const start = zoned(anchor, timeZone);
  const moved = cycle === 'monthly' ? start.add({ months: n }) : start.add({ years: n });
  return new Date(moved.epochMilliseconds);
};

/** `days` calendar days later in a time zone, at the same wall-clock time (a trial's end). */
export const addCalendarDays = (instant: Date, days: number, timeZone: string): Date =>
  new Date(zoned(instant, timeZone).add({ days }).epochMilliseconds);

const dayFormats = new Map<string, Intl.DateTimeFormat>();

/**
 * YYYY-MM-DD of an instant in a time zone. Through a cached Intl formatter: ingestion dates every
 * event, and the Temporal polyfill is several times slower at this.
 */
export const calendarDateIn = (instant: Date, timeZone: string): string => {
  let format = dayFormats.get(timeZone);
  if (format === undefined) {
    format = new Intl.DateTimeFormat('en-US', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' });
    dayFormats.set(timeZone, format);
  }
  const parts = Object.fromEntries(format.formatToParts(instant).map((part) => [part.type, part.value]));
  return `${String(parts.year).padStart(4, '0')}-${parts.month}-${parts.day}`;
};
