import { Decimal } from 'decimal.js';
import { endOfDay, parseCalendarDate, startOfDay } from '../../core/calendar.js';
import { invalidParameter, notFound } from '../../core/errors.js';
import { decimalOf, majorToMinor } from '../../core/money.js';
import { fail, ok, type Result } from '../../core/result.js';
import type { Db } from '../../db/database.js';
import type { TenantScope } from '../../core/principal.js';
import { findTenant } from '../tenants/repository.js';
import { searchRecords as searchRows, type RecordFilter, type RecordWithLines } from './repository.js';
import type { SearchRecordsInput } from './schemas.js';
import { normaliseSearch } from './search-text.js';

/**
 * The instants every driver can send: PGlite writes a Date with toISOString, which has no form
 * PostgreSQL reads before year 1 or after 9999. A day bound beyond them is clamped; no record is
 * that old or that new, so the answer is the same.
 */
const firstInstant = new Date('0001-01-01T00:00:00.000Z');
const lastInstant = new Date('9999-12-31T23:59:59.999Z');
const clampInstant = (instant: Date): Date =>
  instant < firstInstant ? firstInstant : instant > lastInstant ? lastInstant : instant;

/**
 * Turns the query into storage filters: dates are whole days in the tenant's time zone, amounts
 * compare with the net amount, the keyword is a literal substring. Impossible input is a 400.
 */
export const searchBillingRecords = async (
  db: Db,
  scope: TenantScope,
  query: SearchRecordsInput,
): Promise<Result<{ rows: RecordWithLines[]; total: number }>> => {
  const tenant = await findTenant(db, scope);
  if (tenant === undefined) return fail(notFound('tenant'));
  const filter: RecordFilter = { appId: query.app_id, status: query.status };
  const dateFrom = query.date_from === undefined ? undefined : parseCalendarDate(query.date_from);
  const dateTo = query.date_to === undefined ? undefined : parseCalendarDate(query.date_to);
  if (dateFrom === null)
    return fail(invalidParameter('query', 'date_from', `"${query.date_from}" is not a calendar date`));
  if (dateTo === null) return fail(invalidParameter('query', 'date_to', `"${query.date_to}" is not a calendar date`));
  if (dateFrom !== undefined && dateTo !== undefined && dateFrom.since(dateTo).sign > 0) {
    return fail(invalidParameter('query', 'date_from', 'is after date_to'));
  }
  if (dateFrom !== undefined) filter.createdFrom = clampInstant(startOfDay(dateFrom, tenant.time_zone));
  if (dateTo !== undefined) filter.createdBefore = clampInstant(endOfDay(dateTo, tenant.time_zone));
  if (query.min_amount !== undefined && query.max_amount !== undefined && query.min_amount > query.max_amount) {
    return fail(invalidParameter('query', 'min_amount', 'is greater than max_amount'));
  }
  // Bounds keep their inclusivity in minor units: a minimum rounds up, a maximum down.
  if (query.min_amount !== undefined) {
    filter.minAmount = majorToMinor(decimalOf(query.min_amount), tenant.currency, Decimal.ROUND_CEIL);
  }
  if (query.max_amount !== undefined) {
    filter.maxAmount = majorToMinor(decimalOf(query.max_amount), tenant.currency, Decimal.ROUND_FLOOR);
  }
  if (query.search !== undefined) {
    if (/[\p{Cc}]/u.test(query.search))
      return fail(invalidParameter('query', 'search', 'must not contain control characters'));
    filter.searchText = normaliseSearch(query.search);
  }
  return ok(await searchRows(db, scope, filter, query));
};
