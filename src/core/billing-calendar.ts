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

/** YYYY-MM-DD of an instant in a time zone, for descriptions. */
export const calendarDateIn = (instant: Date, timeZone: string): string =>
  zoned(instant, timeZone).toPlainDate().toString();
