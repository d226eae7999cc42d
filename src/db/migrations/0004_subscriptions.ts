import type { Kysely } from 'kysely';
import { executeStatements, insertOnly } from '../statements.js';

/**
 * Subscriptions, the periods they were invoiced for and their lifecycle history. A period's
 * primary key is its start: the database itself refuses to invoice one period twice.
 */
export const up = (db: Kysely<unknown>): Promise<void> =>
  executeStatements(db, [
    `create table subscriptions (
       tenant_id text not null references tenants (id),
       id text not null check (id ~ '^sub_[a-z0-9]{16}$'),
       plan_id text not null,
       plan_version integer not null,
       admin_user_id text not null,
       status text not null check (status in ('trialing', 'active', 'past_due', 'suspended', 'canceled', 'expired')),
       billing_cycle text not null check (billing_cycle in ('monthly', 'yearly')),
       amount bigint not null check (amount >= 0),
       currency char(3) not null,
       -- Paid periods are [boundary(period_index), boundary(period_index + 1)) counted from the
       -- anchor in the tenant's time zone; a trial is period -1, ending at the anchor.
       billing_anchor timestamptz not null,
       period_index integer not null check (period_index >= -1),
       current_period_start timestamptz not null,
       current_period_end timestamptz not null,
       trial_end_date timestamptz,
       grace_period_days integer not null check (grace_period_days between 0 and 90),
       auto_renew boolean not null,
       cancel_at_period_end boolean not null,
       payment_method text not null check (payment_method in ('manual', 'sandbox_success', 'sandbox_decline')),
       scheduled_plan_id text,
       scheduled_plan_version integer,
       scheduled_billing_cycle text check (scheduled_billing_cycle in ('monthly', 'yearly')),
       open_record_id text,
       past_due_since timestamptz,
       grace_ends_at timestamptz,
       next_payment_attempt_at timestamptz,
       payment_attempts integer not null default 0 check (payment_attempts >= 0),
       ended_at timestamptz,
       -- The earliest moment the billing run has something to do for the subscription.
       next_run_at timestamptz,
       created_at timestamptz not null,
       updated_at timestamptz not null,
       primary key (tenant_id, id),
       foreign key (plan_id, plan_version) references plan_versions (plan_id, version),
       foreign key (scheduled_plan_id, scheduled_plan_version) references plan_versions (plan_id, version),
       foreign key (tenant_id, open_record_id) references billing_records (tenant_id, id),
       check (current_period_end > current_period_start),
       check ((scheduled_plan_id is null) = (scheduled_billing_cycle is null)),
       check ((scheduled_plan_id is null) = (scheduled_plan_version is null)),
       check (status not in ('past_due', 'suspended') or past_due_since is not null),
       check ((status in ('canceled', 'expired')) = (ended_at is not null)),
       -- A live subscription always has a next step; an ended one may (its last usage to invoice).
       constraint subscriptions_live_has_next_run check (status in ('canceled', 'expired') or next_run_at is not null)
     )`,
    // One live subscription per tenant.
    `create unique index subscriptions_one_live on subscriptions (tenant_id)
       where status in ('trialing', 'active', 'past_due', 'suspended')`,
    `create index subscriptions_due on subscriptions (next_run_at, tenant_id, id) where next_run_at is not null`,
    `create index subscriptions_by_admin on subscriptions (admin_user_id)`,
    `create index subscriptions_listing on subscriptions (tenant_id, created_at desc, id desc)`,

    `create table subscription_periods (
       tenant_id text not null,
       subscription_id text not null,
       period_start timestamptz not null,
       period_end timestamptz not null,
       plan_id text not null,
       plan_version integer not null,
       billing_cycle text not null,
       amount bigint not null check (amount >= 0),
       record_id text not null,
       created_at timestamptz not null,
       primary key (tenant_id, subscription_id, period_start),
       foreign key (tenant_id, subscription_id) references subscriptions (tenant_id, id),
       foreign key (tenant_id, record_id) references billing_records (tenant_id, id),
       check (period_end > period_start)
     )`,
    ...insertOnly('subscription_periods'),

    `create table subscription_events (
       tenant_id text not null,
       subscription_id text not null,
       seq integer not null check (seq >= 1),
       kind text not null,
       from_status text,
       to_status text not null,
       plan_id text not null,
       billing_cycle text not null,
       record_id text,
       actor text not null,
       reason text,
       occurred_at timestamptz not null,
       primary key (tenant_id, subscription_id, seq),
       foreign key (tenant_id, subscription_id) references subscriptions (tenant_id, id)
     )`,
    ...insertOnly('subscription_events'),
  ]);
