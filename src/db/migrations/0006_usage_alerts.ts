import type { Kysely } from 'kysely';
import { executeStatements, insertOnly } from '../statements.js';

/**
 * Usage alerts, the record that one fired in a period (its key makes it fire once per period),
 * the tenant's in-app notifications and the outbox that delivers email and webhooks.
 */
export const up = (db: Kysely<unknown>): Promise<void> =>
  executeStatements(db, [
    `create table usage_alerts (
       tenant_id text not null references tenants (id),
       id text not null check (id ~ '^ua_[a-z0-9]{16}$'),
       app_id text,
       name text not null check (length(name) between 1 and 200),
       resource_type text not null,
       threshold_percent integer not null check (threshold_percent between 1 and 1000),
       notification_channels text not null,
       email_recipients text,
       webhook_url text,
       webhook_secret text,
       status text not null check (status in ('active', 'disabled')),
       last_triggered_at timestamptz,
       created_at timestamptz not null,
       updated_at timestamptz not null,
       primary key (tenant_id, id),
       foreign key (tenant_id, app_id) references apps (tenant_id, id)
     )`,
    `create index usage_alerts_listing on usage_alerts (tenant_id, created_at desc, id desc)`,
    `create index usage_alerts_active on usage_alerts (tenant_id) where status = 'active'`,

    `create table usage_alert_firings (
       tenant_id text not null,
       alert_id text not null,
       period_start timestamptz not null,
       usage bigint not null,
       included_units bigint not null,
       fired_at timestamptz not null,
       primary key (tenant_id, alert_id, period_start),
       foreign key (tenant_id, alert_id) references usage_alerts (tenant_id, id)
     )`,
    ...insertOnly('usage_alert_firings'),

    `create table notifications (
       tenant_id text not null references tenants (id),
       id text not null,
       alert_id text,
       title text not null,
       body text not null,
       created_at timestamptz not null,
       primary key (tenant_id, id)
     )`,
    `create index notifications_listing on notifications (tenant_id, created_at desc, id desc)`,

    `create table notification_outbox (
       tenant_id text not null references tenants (id),
       id text not null,
       alert_id text,
       -- A webhook is signed with the secret its alert had when it fired, even if it changed since.
       signing_secret text,
       channel text not null check (channel in ('email', 'webhook')),
       destination text not null,
       subject text not null,
       payload jsonb not null,
       status text not null check (status in ('pending', 'sent', 'failed')),
       attempts integer not null default 0,
       next_attempt_at timestamptz,
       last_error text,
       created_at timestamptz not null,
       sent_at timestamptz,
       primary key (tenant_id, id),
       check ((status = 'pending') = (next_attempt_at is not null)),
       check (channel <> 'webhook' or signing_secret is not null)
     )`,
    `create index notification_outbox_due on notification_outbox (next_attempt_at) where status = 'pending'`,
  ]);
