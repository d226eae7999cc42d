import { Type } from 'typebox';
import { pageQueryFields } from '../../http/pagination.js';
import { appIdPattern } from '../apps/schemas.js';
import { tenantIdPattern } from '../tenants/schemas.js';

export const maxBatchEvents = 1000;
const datePattern = '^\\d{4}-\\d{2}-\\d{2}$';

export const TenantUsageParams = Type.Object({
  tenant_id: Type.String({ pattern: tenantIdPattern, description: 'Tenant ID' }),
});

/** Events are checked one by one in code, so one bad event is refused with its reason and the rest count. */
export const IngestEventsBody = Type.Object(
  {
    events: Type.Array(
      Type.Unknown({
        description:
          '{event_id, tenant_id, app_id, resource_type, quantity, timestamp (RFC 3339), properties?}; each checked on its own',
      }),
      { minItems: 1, maxItems: maxBatchEvents },
    ),
  },
  { additionalProperties: false },
);

export const IngestResultSchema = Type.Object({
  accepted: Type.Integer(),
  duplicates: Type.Integer(),
  rejected: Type.Integer(),
  results: Type.Array(
    Type.Object({
      index: Type.Integer({ description: 'Position in the batch' }),
      event_id: Type.Union([Type.String(), Type.Null()]),
      status: Type.Union([Type.Literal('accepted'), Type.Literal('duplicate'), Type.Literal('rejected')]),
      reason: Type.Optional(Type.String()),
    }),
  ),
});

export const UsageStatsQuery = Type.Object(
  {
    date_from: Type.Optional(
      Type.String({ pattern: datePattern, description: "First day (YYYY-MM-DD) in the tenant's time zone, inclusive" }),
    ),
    date_to: Type.Optional(
      Type.String({ pattern: datePattern, description: "Last day (YYYY-MM-DD) in the tenant's time zone, inclusive" }),
    ),
    app_id: Type.Optional(
      Type.String({ pattern: appIdPattern, description: "One app's usage; all apps' when absent" }),
    ),
    ...pageQueryFields,
  },
  { additionalProperties: false },
);

const count = Type.Integer({ minimum: 0 });

export const UsageStatsSchema = Type.Object(
  {
    date: Type.String({ examples: ['2026-05-01'] }),
    api_requests: count,
    api_calls: count,
    bandwidth_used: count,
    failed_logins: count,
    login_attempts: count,
    mfa_verifications: count,
    storage_used: count,
    user_count: count,
    metrics: Type.Record(Type.String({ pattern: '^[a-z][a-z0-9_]{0,62}$' }), count, {
      description:
        'Every other metric used on a day of the page, by code: distinct values that day for a unique_count ' +
        'metric such as monthly_active_users (one app’s, or all apps’ counted together), the day’s total otherwise',
      examples: [{ monthly_active_users: 1520 }],
    }),
  },
  { $id: 'UsageStats' },
);
