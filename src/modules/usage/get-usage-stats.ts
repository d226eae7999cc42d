import { Temporal } from 'temporal-polyfill';
import { parseCalendarDate } from '../../core/calendar.js';
import type { Clock } from '../../core/clock.js';
import { invalidParameter, notFound } from '../../core/errors.js';
import { pageOffset, type PageRequest } from '../../core/pagination.js';
import { isResourceType, resourceTypes, type ResourceType } from '../../core/resources.js';
import { fail, ok, type Result } from '../../core/result.js';
import type { Db } from '../../db/database.js';
import { findApp } from '../apps/repository.js';
import type { TenantScope } from '../../core/principal.js';
import { findTenant } from '../tenants/repository.js';
import { distinctPerDay } from './distinct-reads.js';
import { dailyTotals } from './repository.js';

/** The longest range one request reads: a year and a day, so any calendar year fits. */
export const maxStatsDays = 366;
const defaultStatsDays = 30;

export interface UsageStatsQuery extends PageRequest {
  date_from?: string | undefined;
  date_to?: string | undefined;
  app_id?: string | undefined;
}

/** A day's usage: the resource types field by field, every other metric (distinct counts too) in `metrics`. */
export type DayStats = { date: string; metrics: Record<string, bigint> } & Record<ResourceType, bigint>;

const parseDate = (
  parameter: 'date_from' | 'date_to',
  text: string | undefined,
): Result<Temporal.PlainDate | undefined> => {
  if (text === undefined) return ok(undefined);
  const date = parseCalendarDate(text);
  return date === null
    ? fail(invalidParameter('query', parameter, `"${text}" is not a calendar date (YYYY-MM-DD)`))
    : ok(date);
};

/**
 * The tenant's usage per day in its time zone, every day of the range (days without usage are
 * zeros), newest first: one app's, or all its apps' added up. Default range: the last 30 days.
 */
export const getUsageStats = async (
  db: Db,
  clock: Clock,
  scope: TenantScope,
  query: UsageStatsQuery,
): Promise<Result<{ rows: DayStats[]; total: number }>> => {
  const tenant = await findTenant(db, scope);
  if (tenant === undefined) return fail(notFound('tenant'));
  if (query.app_id !== undefined && (await findApp(db, scope, query.app_id)) === undefined) {
    return fail(invalidParameter('query', 'app_id', 'names no app of this tenant'));
  }
  const from = parseDate('date_from', query.date_from);
  if (!from.ok) return from;
  const to = parseDate('date_to', query.date_to);
  if (!to.ok) return to;
  const today = Temporal.Instant.fromEpochMilliseconds(clock.now().getTime())
    .toZonedDateTimeISO(tenant.time_zone)
    .toPlainDate();
  const last = to.value ?? (from.value === undefined ? today : from.value.add({ days: defaultStatsDays - 1 }));
  const first = from.value ?? last.subtract({ days: defaultStatsDays - 1 });
  if (Temporal.PlainDate.compare(first, last) > 0)
    return fail(invalidParameter('query', 'date_from', 'is after date_to'));
  const days = first.until(last).days + 1;
  if (days > maxStatsDays) {
    return fail(invalidParameter('query', 'date_to', `is more than ${maxStatsDays} days after date_from`));
  }
  // Newest first, one page of the range's days.
  const offset = pageOffset(query);
  const pageDays = Array.from({ length: Math.max(0, Math.min(query.page_size, days - offset)) }, (_, i) =>
    last.subtract({ days: offset + i }).toString(),
  );
  if (pageDays.length === 0) return ok({ rows: [], total: days });
  const newest = last.subtract({ days: offset }).toString();
  const oldest = last.subtract({ days: offset + pageDays.length - 1 }).toString();
  const pageRange = { db, scope, from: oldest, to: newest, appId: query.app_id };
  const totals = [...(await dailyTotals(pageRange)), ...(await distinctPerDay(pageRange))];
  // Every other metric used on a day of the page shows on each of its days, 0 where unused.
  const others = [...new Set(totals.map((row) => row.resource_type).filter((type) => !isResourceType(type)))].sort();
  const byDay = new Map<string, DayStats>(
    pageDays.map((date) => [
      date,
      {
        date,
        ...Object.fromEntries(resourceTypes.map((type) => [type, 0n])),
        metrics: Object.fromEntries(others.map((code) => [code, 0n])),
      } as DayStats,
    ]),
  );
  for (const row of totals) {
    const day = byDay.get(row.usage_date);
    if (day === undefined) continue;
    if (isResourceType(row.resource_type)) day[row.resource_type] = row.quantity;
    else day.metrics[row.resource_type] = row.quantity;
  }
  return ok({ rows: [...byDay.values()], total: days });
};
