/** How a metric's events aggregate over a period; `count` and `unique_count` events carry quantity 1. */
export type MetricAggregation = 'sum' | 'max' | 'latest' | 'count' | 'unique_count';

export interface MetricDefinition {
  aggregation: MetricAggregation;
  /** unique_count: the event property whose distinct values are counted. */
  field: string | null;
}

/** The resource types the usage stats show field by field, and how a day's events of each roll up. */
export const resourceAggregation = {
  api_requests: 'sum',
  api_calls: 'sum',
  bandwidth_used: 'sum',
  login_attempts: 'sum',
  failed_logins: 'sum',
  mfa_verifications: 'sum',
  storage_used: 'max',
  user_count: 'latest',
} as const satisfies Record<string, MetricAggregation>;

export type ResourceType = keyof typeof resourceAggregation;

export const resourceTypes = Object.keys(resourceAggregation) as ResourceType[];

export const isResourceType = (value: string): value is ResourceType => Object.hasOwn(resourceAggregation, value);

/** The metrics every installation has (migration 0015 writes them): the resource types and monthly active users. */
export const builtInMetrics: ReadonlyMap<string, MetricDefinition> = new Map<string, MetricDefinition>([
  ...resourceTypes.map((type): [string, MetricDefinition] => [
    type,
    { aggregation: resourceAggregation[type], field: null },
  ]),
  ['monthly_active_users', { aggregation: 'unique_count', field: 'user_id' }],
]);
