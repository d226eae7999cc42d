import { Temporal } from 'temporal-polyfill';
import { startOfDay } from '../../core/calendar.js';
import { invalidParameter } from '../../core/errors.js';
import { toMajorNumber } from '../../core/money.js';
import { fail, ok, type Result } from '../../core/result.js';
import type { Db } from '../../db/database.js';
import type { ApiKeyPrincipal } from '../../core/principal.js';

/** The longest range one request reads, both ends included: a month of 31 days. */
export const maxDetailDays = 31;
/** The seed's product name: the platform's billing center product, the same for every line. */
const productName = 'dataFlux';

const parseCompactDate = (parameter: 'startDate' | 'endDate', text: string): Result<Temporal.PlainDate> => {
  if (text === '') return fail(invalidParameter('query', parameter, 'must not be empty'));
  const match = /^(\d{4})(\d{2})(\d{2})$/.exec(text);
  if (match === null) return fail(invalidParameter('query', parameter, `"${text}" is not a date in the form YYYYMMDD`));
  try {
    const date = Temporal.PlainDate.from(`${match[1]}-${match[2]}-${match[3]}`, { overflow: 'reject' });
    // The calendar has a year 0; PostgreSQL's does not.
    if (date.year < 1) return fail(invalidParameter('query', parameter, `"${text}" is before the year 1`));
    return ok(date);
  } catch {
    return fail(invalidParameter('query', parameter, `"${text}" is not a calendar date`));
  }
};

/**
 * The settled pay-as-you-go lines of the key's tenant (or of its one app) for the days
 * [startDate, endDate], in the seed's shape, by day, workspace and product.
 */
export const listBillingDetails = async (
  db: Db,
  key: ApiKeyPrincipal,
  query: { startDate: string; endDate: string },
): Promise<Result<Record<string, unknown>[]>> => {
  const start = parseCompactDate('startDate', query.startDate);
  if (!start.ok) return start;
  const end = parseCompactDate('endDate', query.endDate);
  if (!end.ok) return end;
  if (Temporal.PlainDate.compare(start.value, end.value) > 0) {
    return fail(invalidParameter('query', 'startDate', 'is after endDate'));
  }
  if (start.value.until(end.value).days + 1 > maxDetailDays) {
    return fail(
      invalidParameter('query', 'endDate', `is more than ${maxDetailDays} days from startDate (both included)`),
    );
  }
  return ok(await readBillingDetails(db, key, start.value, end.value));
};

/**
 * The settled lines of a tenant (or of its one app) for the days [start, end] in the seed's shape:
 * what the detail list shows, and the data of a day's `payg.day_settled` event.
 */
export const readBillingDetails = async (
  db: Db,
  key: Pick<ApiKeyPrincipal, 'tenantId' | 'appId'>,
  start: Temporal.PlainDate,
  end: Temporal.PlainDate,
): Promise<Record<string, unknown>[]> => {
  let lines = db
    .selectFrom('payg_settlement_lines as l')
    .innerJoin('apps as a', (join) => join.onRef('a.tenant_id', '=', 'l.tenant_id').onRef('a.id', '=', 'l.app_id'))
    .innerJoin('tenants as t', 't.id', 'l.tenant_id')
    .innerJoin('payg_products as p', 'p.billing_key', 'l.billing_key')
    .selectAll('l')
    .select([
      'a.name as app_name',
      't.name as tenant_name',
      't.time_zone',
      'p.display_name',
      'p.billing_cycle',
      'p.category',
    ])
    .where('l.tenant_id', '=', key.tenantId)
    .where('l.settled_day', '>=', start.toString())
    .where('l.settled_day', '<=', end.toString());
  if (key.appId !== null) lines = lines.where('l.app_id', '=', key.appId);
  const rows = await lines.orderBy('l.settled_day').orderBy('l.app_id').orderBy('l.billing_key').execute();
  const [marketplace, deductions] = await Promise.all([
    db
      .selectFrom('payg_instruments')
      .select('customer_identifier')
      .where('tenant_id', '=', key.tenantId)
      .where('kind', '=', 'cloud_marketplace')
      .executeTakeFirst(),
    rows.length === 0
      ? []
      : db
          .selectFrom('payg_deductions')
          .selectAll()
          .where('tenant_id', '=', key.tenantId)
          .where('settled_day', '>=', start.toString())
          .where('settled_day', '<=', end.toString())
          .orderBy('seq')
          .execute(),
  ]);
  return rows.map((row) => {
    const money = (minor: bigint) => toMajorNumber(minor, row.currency);
    const deducted = row.coupon_amount + row.stored_card_amount + row.cash_amount + row.cloud_marketplace_amount;
    return {
      consumeTimeOfDay: row.settled_day,
      orgName: row.tenant_name,
      productName,
      productDetail: row.display_name,
      billingKey: row.billing_key,
      billingCycle: row.billing_cycle,
      billingResult: money(row.billing_result),
      deductionAmount: money(deducted),
      oweAmount: money(row.owe_amount),
      originAmount: Number(row.origin_amount),
      serviceBillingAmount: 0,
      couponAmount: money(row.coupon_amount),
      storedCardAmount: money(row.stored_card_amount),
      cashAmount: money(row.cash_amount),
      cashCouldAmount: money(row.cloud_marketplace_amount),
      commodityCategory: row.category,
      consumePlatform: marketplace === undefined ? 'direct' : 'cloud_marketplace',
      customerIdentifier: marketplace?.customer_identifier ?? '',
      consumption: String(row.consumption),
      workspaceUuid: row.app_id,
      workspaceName: row.app_name,
      consumeTime: startOfDay(Temporal.PlainDate.from(row.settled_day), row.time_zone).getTime(),
      tag6: row.billing_key,
      billingResultDetails: deductions
        .filter(
          (deduction) =>
            deduction.settled_day === row.settled_day &&
            deduction.app_id === row.app_id &&
            deduction.billing_key === row.billing_key,
        )
        .map((deduction) => ({ instrument: deduction.instrument_id, amount: money(deduction.amount) })),
      count: Number(row.consumption),
    };
  });
};
