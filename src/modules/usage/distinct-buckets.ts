import { sql } from 'kysely';
import { Temporal } from 'temporal-polyfill';

/** Days a value's bitmap covers from its bucket's first day (migration 0015's `bit(384)`). */
export const distinctBucketDays = 384;

/** '' stands for all the tenant's apps in the distinct tables. */
export const allApps = '';

/** An empty bitmap; `bit(n)` takes its length as a literal. */
export const noDays = sql.raw(`repeat('0', ${distinctBucketDays})::bit(${distinctBucketDays})`);

/** A usage day's bucket (the first day of the billing period it was known to fall in) and its bit in the bucket's bitmap. */
export interface DistinctBucket {
  periodFrom: string;
  dayIndex: number;
}

const daysBetween = (from: string, to: string): number =>
  Temporal.PlainDate.from(from).until(Temporal.PlainDate.from(to)).days;

/**
 * The bucket a distinct value seen on `day` is kept in: the latest billing-period start on or
 * before it (`boundaries`: the tenant's period starts and ends known now, as days in its zone),
 * or the day's calendar month when no period covers it. A bucket only makes counting a period
 * one read; a period it does not match is counted from the bitmaps, so a boundary learnt later
 * (a plan that started after the value arrived) costs time, never exactness.
 */
export const distinctBucketOf = (day: string, boundaries: readonly string[]): DistinctBucket => {
  let periodFrom: string | undefined;
  for (const boundary of boundaries) {
    if (boundary <= day && (periodFrom === undefined || boundary > periodFrom)) periodFrom = boundary;
  }
  if (periodFrom === undefined || daysBetween(periodFrom, day) >= distinctBucketDays) {
    periodFrom = Temporal.PlainDate.from(day).with({ day: 1 }).toString();
  }
  return { periodFrom, dayIndex: daysBetween(periodFrom, day) };
};
