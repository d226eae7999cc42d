import { Temporal } from 'temporal-polyfill';

/** The calendar year an instant falls in, in a time zone: 2026-12-31T16:30Z is 2027 in Shanghai. */
export const yearIn = (instant: Date, timeZone: string): number =>
  Temporal.Instant.fromEpochMilliseconds(instant.getTime()).toZonedDateTimeISO(timeZone).year;

/** A YYYY-MM-DD text that names a real date, or null ("2026-02-30" is not one). */
export const parseCalendarDate = (text: string): Temporal.PlainDate | null => {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(text)) return null;
  try {
    return Temporal.PlainDate.from(text, { overflow: 'reject' });
  } catch {
    return null;
  }
};

/** The first instant of a day in a time zone (not always midnight where DST starts at 00:00). */
export const startOfDay = (date: Temporal.PlainDate, timeZone: string): Date =>
  new Date(date.toZonedDateTime({ timeZone }).epochMilliseconds);

/** The first instant after a day in a time zone: the exclusive end of an inclusive date range. */
export const endOfDay = (date: Temporal.PlainDate, timeZone: string): Date =>
  startOfDay(date.add({ days: 1 }), timeZone);
