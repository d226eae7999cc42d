import type { Kysely } from 'kysely';
import { executeStatements } from '../statements.js';

/** Days a distinct value's bitmap covers from its bucket's first day: a yearly period and its final part-day fit. */
export const distinctBucketDays = 384;

/** The built-ins come with the release, not from a request: dated by it, the same in every database. */
const released = `timestamptz '2026-12-06T00:00:00Z'`;

const builtIns: [code: string, name: string, aggregation: string, field: string | null][] = [
  ['api_requests', 'API requests', 'sum', null],
  ['api_calls', 'API calls', 'sum', null],
  ['bandwidth_used', 'Bandwidth used', 'sum', null],
  ['login_attempts', 'Login attempts', 'sum', null],
  ['failed_logins', 'Failed logins', 'sum', null],
  ['mfa_verifications', 'MFA verifications', 'sum', null],
  ['storage_used', 'Storage used', 'max', null],
  ['user_count', 'User count', 'latest', null],
  ['monthly_active_users', 'Monthly active users', 'unique_count', 'user_id'],
];

/**
 * Billable metrics: what a usage event's `resource_type` names and how a period's events of it
 * aggregate. The built-in resource types become rows (as they aggregated before) with
 * `monthly_active_users`; plan resources and usage alerts now reference a metric.
 *
 * Distinct counts (`unique_count`): each distinct value is kept once per bucket (a billing period,
 * as known when the value arrives) for its app and once for all the tenant's apps (`app_id` ''),
 * with a bitmap of the bucket's days it was seen on. Counters of new values per day and per bucket
 * are kept with them, so a day's or a period's count is a read of one row; a span that does not
 * match one bucket is counted from the bitmaps instead (exact either way).
 */
export const up = (db: Kysely<unknown>): Promise<void> =>
  executeStatements(db, [
    `create table billable_metrics (
       code text primary key check (code ~ '^[a-z][a-z0-9_]{0,62}$'),
       name text not null check (length(name) between 1 and 200),
       aggregation text not null check (aggregation in ('sum', 'max', 'latest', 'count', 'unique_count')),
       -- unique_count: the event property whose distinct values are counted.
       field text check (field ~ '^[A-Za-z_][A-Za-z0-9_]{0,63}$'),
       built_in boolean not null default false,
       -- Set by the first usage counted: from then on the aggregation and field never change.
       used_at timestamptz,
       created_at timestamptz not null,
       updated_at timestamptz not null,
       check ((field is not null) = (aggregation = 'unique_count'))
     )`,
    `insert into billable_metrics (code, name, aggregation, field, built_in, created_at, updated_at)
     values ${builtIns
       .map(
         ([code, name, aggregation, field]) =>
           `('${code}', '${name}', '${aggregation}', ${field === null ? 'null' : `'${field}'`}, true, ${released}, ${released})`,
       )
       .join(', ')}`,
    `alter table plan_version_resources
       add constraint plan_version_resources_metric foreign key (resource_type) references billable_metrics (code)`,
    `alter table usage_alerts
       add constraint usage_alerts_metric foreign key (resource_type) references billable_metrics (code)`,
    `alter table usage_daily drop constraint usage_daily_aggregation_check`,
    `alter table usage_daily add constraint usage_daily_aggregation_check
       check (aggregation in ('sum', 'max', 'latest', 'count'))`,

    // Keys compared byte by byte (collate "C"): ids and codes have no language order, and the
    // upsert of every distinct value descends this index. No foreign keys here, checked per value:
    // a value row is written in the statement that counts it in its bucket's usage_distinct_counts
    // row, whose keys hold the tenant and the metric.
    `create table usage_distinct_values (
       tenant_id text collate "C" not null,
       metric text collate "C" not null,
       -- The bucket: the first day of the billing period the value arrived in, in the tenant's time zone.
       period_from date not null,
       value text collate "C" not null check (length(value) between 1 and 256),
       -- The app it was seen in, or '' for all the tenant's apps.
       app_id text collate "C" not null,
       -- Bit n (from the left): seen on period_from + n days.
       days bit(${distinctBucketDays}) not null,
       primary key (tenant_id, metric, period_from, value, app_id)
     )`,
    `create table usage_distinct_counts (
       tenant_id text not null references tenants (id),
       metric text not null references billable_metrics (code),
       -- 'day': distinct values on day \`start\`; 'period': distinct values of the bucket starting at \`start\`.
       span text not null check (span in ('day', 'period')),
       app_id text not null,
       start date not null,
       quantity bigint not null check (quantity >= 0),
       -- The latest day any of its values was seen on: a bucket that runs past a span is not the span's count.
       last_day date not null check (last_day >= start),
       updated_at timestamptz not null,
       primary key (tenant_id, metric, span, app_id, start)
     )`,
    // The bits of the days [from, until) in a bucket starting at bucket_from.
    `create function usage_day_mask(bucket_from date, from_day date, until_day date) returns bit(${distinctBucketDays})
       language sql immutable as $$
         select (repeat('0', lo) || repeat('1', hi - lo) || repeat('0', ${distinctBucketDays} - hi))::bit(${distinctBucketDays})
           from (select least(greatest(from_day - bucket_from, 0), ${distinctBucketDays}) as lo,
                        least(greatest(until_day - bucket_from, 0), ${distinctBucketDays}) as hi) bounds
       $$`,
  ]);

export const down = (db: Kysely<unknown>): Promise<void> =>
  executeStatements(db, [
    `drop function usage_day_mask(date, date, date)`,
    `drop table usage_distinct_counts`,
    `drop table usage_distinct_values`,
    `alter table usage_daily drop constraint usage_daily_aggregation_check`,
    `alter table usage_daily add constraint usage_daily_aggregation_check check (aggregation in ('sum', 'max', 'latest'))`,
    `alter table usage_alerts drop constraint usage_alerts_metric`,
    `alter table plan_version_resources drop constraint plan_version_resources_metric`,
    `drop table billable_metrics`,
  ]);
