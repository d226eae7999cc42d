import { Type, type Static } from 'typebox';
import { pageQueryFields } from '../../http/pagination.js';

export const metricCodePattern = '^[a-z][a-z0-9_]{0,62}$';
export const metricFieldPattern = '^[A-Za-z_][A-Za-z0-9_]{0,63}$';
export const metricAggregations = ['sum', 'max', 'latest', 'count', 'unique_count'] as const;

const aggregation = Type.Enum([...metricAggregations], {
  description:
    "How a period's events aggregate. sum: the quantities added up. max: the highest day's. latest: the " +
    'last measurement. count: the number of events. unique_count: the distinct values of `properties[field]`.',
});
const field = Type.String({
  pattern: metricFieldPattern,
  description: 'unique_count only: the event property whose distinct values are counted',
  examples: ['user_id'],
});
const name = Type.String({ minLength: 1, maxLength: 200, examples: ['Monthly active users'] });

export const MetricParams = Type.Object({ code: Type.String({ pattern: metricCodePattern }) });

export const CreateMetricBody = Type.Object(
  {
    code: Type.String({
      pattern: metricCodePattern,
      description: 'What usage events name in resource_type and plans in resources[].resource_type; never changes',
      examples: ['active_devices'],
    }),
    name,
    aggregation,
    field: Type.Optional(field),
  },
  { additionalProperties: false },
);
export type CreateMetricInput = Static<typeof CreateMetricBody>;

export const UpdateMetricBody = Type.Object(
  {
    name: Type.Optional(name),
    aggregation: Type.Optional(aggregation),
    field: Type.Optional(Type.Union([field, Type.Null()])),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type UpdateMetricInput = Static<typeof UpdateMetricBody>;

export const MetricListQuery = Type.Object(pageQueryFields, { additionalProperties: false });

export const MetricSchema = Type.Object(
  {
    code: Type.String({ examples: ['monthly_active_users'] }),
    name: Type.String({ examples: ['Monthly active users'] }),
    aggregation: Type.Enum([...metricAggregations]),
    field: Type.Union([Type.String(), Type.Null()], { examples: ['user_id'] }),
    built_in: Type.Boolean({ description: 'One of the service’s own metrics: it cannot be changed or deleted' }),
    in_use: Type.Boolean({
      description: 'Usage was counted for it, or a plan or alert names it: its aggregation and field are fixed',
    }),
    created_at: Type.String({ format: 'date-time' }),
    updated_at: Type.String({ format: 'date-time' }),
  },
  { $id: 'BillableMetric' },
);
