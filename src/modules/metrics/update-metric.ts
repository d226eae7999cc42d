import type { Clock } from '../../core/clock.js';
import { AppError, notFound } from '../../core/errors.js';
import { fail, ok, type Result } from '../../core/result.js';
import type { Db } from '../../db/database.js';
import { checkMetricField, metricInUse } from './metric-rules.js';
import { findMetric, lockMetric, type MetricWithUse } from './repository.js';
import type { UpdateMetricInput } from './schemas.js';

/**
 * Renames a metric at any time; changes how it aggregates only while nothing uses it (no usage
 * counted, no plan or alert naming it): counted usage and issued invoices keep their meaning.
 * Built-in metrics are the service's own and do not change.
 */
export const updateMetric = async (
  db: Db,
  clock: Clock,
  code: string,
  input: UpdateMetricInput,
): Promise<Result<MetricWithUse>> =>
  db.transaction().execute(async (trx) => {
    const locked = await lockMetric(trx, code);
    if (locked === undefined) return fail(notFound(`metric ${code}`));
    if (locked.built_in) return fail(new AppError('conflict', `${code} is a built-in metric and cannot be changed`));
    const aggregation = input.aggregation ?? locked.aggregation;
    // Moving away from unique_count drops the field unless one is sent (and refused).
    const field = input.field !== undefined ? input.field : aggregation === 'unique_count' ? locked.field : null;
    const reshaped = aggregation !== locked.aggregation || field !== locked.field;
    if (reshaped) {
      const shape = checkMetricField(aggregation, field);
      if (!shape.ok) return shape;
      if (locked.in_use) return fail(metricInUse(code, 'its aggregation and field are fixed'));
    }
    await trx
      .updateTable('billable_metrics')
      .set({ name: input.name ?? locked.name, aggregation, field, updated_at: clock.now() })
      .where('code', '=', code)
      .execute();
    const updated = await findMetric(trx, code);
    if (updated === undefined) throw new Error(`metric ${code} vanished under its lock`);
    return ok(updated);
  });
