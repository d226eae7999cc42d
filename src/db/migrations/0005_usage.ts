import type { Kysely } from 'kysely';
import { executeStatements, insertOnly } from '../statements.js';

/**
 * Usage: raw events (their primary key is the exactly-once guard), daily rollups per app and
 * resource in the tenant's time zone, and metered overage per subscription period.
 */
export const up = (db: Kysely<unknown>): Promise<void> =>
  executeStatements(db, [
    `create table usage_events (
       tenant_id text not null references tenants (id),
       event_id text not null check (length(event_id) between 1 and 128),
       app_id text not null,
       resource_type text not null,
       quantity bigint not null check (quantity >= 0),
       occurred_at timestamptz not null,
       usage_date date not null,
       properties jsonb not null,
       -- sha-256 of the event as sent: the same id with another payload is told apart from a replay.
       fingerprint text not null,
       received_at timestamptz not null,
       primary key (tenant_id, event_id),
       foreign key (tenant_id, app_id) references apps (tenant_id, id)
     )`,
    ...insertOnly('usage_events'),

    `create table usage_daily (
       tenant_id text not null,
       app_id text not null,
       resource_type text not null,
       usage_date date not null,
       aggregation text not null check (aggregation in ('sum', 'max', 'latest')),
       quantity bigint not null check (quantity >= 0),
       -- For 'latest': when the value held was measured, so a late older event does not replace it.
       latest_at timestamptz not null,
       event_count bigint not null check (event_count >= 1),
       updated_at timestamptz not null,
       primary key (tenant_id, app_id, resource_type, usage_date),
       foreign key (tenant_id, app_id) references apps (tenant_id, id)
     )`,
    `create index usage_daily_by_date on usage_daily (tenant_id, usage_date, resource_type)`,

    `create table metered_billings (
       tenant_id text not null,
       subscription_id text not null,
       resource_type text not null,
       period_start timestamptz not null,
       period_end timestamptz not null,
       -- The whole days of usage the period bills, in the tenant's time zone: [usage_from, usage_until).
       usage_from date not null,
       usage_until date not null,
       total_usage bigint not null check (total_usage >= 0),
       included_units bigint not null check (included_units >= 0),
       overage_units bigint not null check (overage_units >= 0),
       overage_unit_price numeric not null check (overage_unit_price >= 0),
       overage_amount numeric not null check (overage_amount >= 0),
       -- pending until the late-event window after the period closes; then invoiced (record_id set
       -- when there was overage to bill).
       status text not null check (status in ('pending', 'invoiced')),
       closes_at timestamptz not null,
       record_id text,
       created_at timestamptz not null,
       updated_at timestamptz not null,
       primary key (tenant_id, resource_type, period_start),
       foreign key (tenant_id, subscription_id) references subscriptions (tenant_id, id),
       foreign key (tenant_id, record_id) references billing_records (tenant_id, id),
       check (overage_units = greatest(total_usage - included_units, 0)),
       check (status = 'invoiced' or record_id is null)
     )`,
    `create index metered_billings_listing on metered_billings (tenant_id, period_start desc, resource_type)`,

    `create index metered_billings_pending on metered_billings (tenant_id, subscription_id, closes_at)
       where status = 'pending'`,
    // The earliest close of the subscription's pending metered periods, for the billing run.
    `alter table subscriptions add column metering_closes_at timestamptz`,
  ]);
