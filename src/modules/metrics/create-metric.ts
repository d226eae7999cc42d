import type { Clock } from '../../core/clock.js';
import { ok, type Result } from '../../core/result.js';
import type { Db } from '../../db/database.js';
import { checkMetricField, claimUsageKey } from './metric-rules.js';
import { findMetric, type MetricWithUse } from './repository.js';
import type { CreateMetricInput } from './schemas.js';

/** Defines a metric usage events can name; its code is taken for good (409 when it is a metric or a product). */
export const createMetric = async (db: Db, clock: Clock, input: CreateMetricInput): Promise<Result<MetricWithUse>> => {
  const shape = checkMetricField(input.aggregation, input.field ?? null);
  if (!shape.ok) return shape;
  return db.transaction().execute(async (trx) => {
    const claimed = await claimUsageKey(trx, input.code);
    if (!claimed.ok) return claimed;
    const now = clock.now();
    await trx
      .insertInto('billable_metrics')
      .values({ code: input.code, name: input.name, ...shape.value, used_at: null, created_at: now, updated_at: now })
      .execute();
    const created = await findMetric(trx, input.code);
    if (created === undefined) throw new Error(`metric ${input.code} was not written`);
    return ok(created);
  });
};
