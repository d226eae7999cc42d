/** Metered resource types and how a day's events of each type roll up. */
export const resourceAggregation = {
  api_requests: 'sum',
  api_calls: 'sum',
  bandwidth_used: 'sum',
  login_attempts: 'sum',
  failed_logins: 'sum',
  mfa_verifications: 'sum',
  storage_used: 'max',
  user_count: 'latest',
} as const;

export type ResourceType = keyof typeof resourceAggregation;

export const resourceTypes = Object.keys(resourceAggregation) as ResourceType[];

export const isResourceType = (value: string): value is ResourceType => Object.hasOwn(resourceAggregation, value);
