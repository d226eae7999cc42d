import { toRfc3339 } from '../../core/clock.js';
import type { MetricWithUse } from './repository.js';

export const toMetricView = (row: MetricWithUse) => ({
  code: row.code,
  name: row.name,
  aggregation: row.aggregation,
  field: row.field,
  built_in: row.built_in,
  in_use: row.in_use,
  created_at: toRfc3339(row.created_at),
  updated_at: toRfc3339(row.updated_at),
});
