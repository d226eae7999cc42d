import { sql } from 'kysely';
import { AppError, invalidParameter } from '../../core/errors.js';
import { fail, ok, type Result } from '../../core/result.js';
import type { Db, DbTransaction } from '../../db/database.js';
import type { MetricAggregation } from '../../core/resources.js';

/** A unique_count names the property it counts; no other aggregation reads one. */
export const checkMetricField = (
  aggregation: MetricAggregation,
  field: string | null,
): Result<{ aggregation: MetricAggregation; field: string | null }> => {
  if (aggregation === 'unique_count' && field === null) {
    return fail(invalidParameter('body', 'field', 'is required by unique_count: the event property to count'));
  }
  if (aggregation !== 'unique_count' && field !== null) {
    return fail(invalidParameter('body', 'field', `is only for unique_count; ${aggregation} aggregates quantity`));
  }
  return ok({ aggregation, field });
};

/**
 * Usage events name metrics and pay-as-you-go products by the same `resource_type`, so a code is
 * either, never both. Creating one takes this lock first, so two creations of one code queue and
 * the second sees the first.
 */
export const claimUsageKey = async (trx: DbTransaction, key: string): Promise<Result<void>> => {
  await sql`select pg_advisory_xact_lock(hashtext(${`usage-key:${key}`}))`.execute(trx);
  const [metric, product] = await Promise.all([
    trx.selectFrom('billable_metrics').select('code').where('code', '=', key).executeTakeFirst(),
    trx.selectFrom('payg_products').select('billing_key').where('billing_key', '=', key).executeTakeFirst(),
  ]);
  if (metric !== undefined) return fail(new AppError('conflict', `${key} is a billable metric`));
  if (product !== undefined) return fail(new AppError('conflict', `${key} is a pay-as-you-go product`));
  return ok(undefined);
};

/** Why a metric in use cannot change: its usage, plans and alerts keep their meaning. */
export const metricInUse = (code: string, consequence: string): AppError =>
  new AppError('conflict', `${code} is in use (usage counted, or a plan or alert names it): ${consequence}`);

/** A 400 naming `parameter` when `code` is no billable metric (plans and alerts price and watch metrics). */
export const checkMetricExists = async (db: Db, code: string, parameter: string): Promise<Result<void>> => {
  const found = await db.selectFrom('billable_metrics').select('code').where('code', '=', code).executeTakeFirst();
  return found === undefined
    ? fail(invalidParameter('body', parameter, `"${code}" is not a billable metric (GET /admin/metrics lists them)`))
    : ok(undefined);
};
