import type { Kysely } from 'kysely';
import { executeStatements, insertOnly } from '../statements.js';

/**
 * Tenants, their apps, versioned plans and API keys. Tenant-owned tables lead their primary key
 * with tenant_id so a Citus cluster can co-locate them by tenant.
 */
export const up = (db: Kysely<unknown>): Promise<void> =>
  executeStatements(db, [
    `create function refuse_mutation() returns trigger language plpgsql as $$
     begin
       raise exception '% on % is refused: its rows are immutable', tg_op, tg_table_name
         using errcode = 'restrict_violation';
     end $$`,

    `create table tenants (
       id text primary key check (id ~ '^tnt_[A-Za-z0-9_-]{1,64}$'),
       name text not null check (length(name) between 1 and 200),
       currency char(3) not null,
       time_zone text not null,
       tax_rate numeric(7, 6) not null check (tax_rate >= 0 and tax_rate < 1),
       admin_user_id text not null,
       status text not null check (status in ('active', 'suspended', 'closed')),
       created_at timestamptz not null,
       updated_at timestamptz not null
     )`,
    `create index tenants_admin_user_id on tenants (admin_user_id)`,
    `create index tenants_created_at on tenants (created_at desc, id desc)`,

    `create table apps (
       tenant_id text not null references tenants (id),
       id text not null check (id ~ '^app_[A-Za-z0-9_-]{1,64}$'),
       name text not null check (length(name) between 1 and 200),
       status text not null check (status in ('active', 'disabled')),
       created_at timestamptz not null,
       updated_at timestamptz not null,
       primary key (tenant_id, id)
     )`,
    `create unique index apps_id on apps (id)`,

    `create table plans (
       id text primary key check (id ~ '^[a-z0-9][a-z0-9_-]{0,63}$'),
       name text not null check (length(name) between 1 and 200),
       description text not null default '',
       status text not null check (status in ('active', 'archived')),
       current_version integer not null,
       created_at timestamptz not null,
       updated_at timestamptz not null
     )`,
    `create table plan_versions (
       plan_id text not null references plans (id),
       version integer not null check (version >= 1),
       currency char(3) not null,
       monthly_price bigint check (monthly_price >= 0),
       yearly_price bigint check (yearly_price >= 0),
       trial_days integer not null check (trial_days between 0 and 365),
       grace_period_days integer not null check (grace_period_days between 0 and 90),
       downgrade_policy text not null check (downgrade_policy in ('at_period_end', 'immediate')),
       created_at timestamptz not null,
       primary key (plan_id, version),
       check (monthly_price is not null or yearly_price is not null)
     )`,
    `create table plan_version_resources (
       plan_id text not null,
       version integer not null,
       resource_type text not null,
       included_units bigint not null check (included_units >= 0),
       overage_unit_price numeric not null check (overage_unit_price >= 0),
       primary key (plan_id, version, resource_type),
       foreign key (plan_id, version) references plan_versions (plan_id, version)
     )`,
    // A plan version is a price list someone may have been billed from: it never changes.
    ...insertOnly('plan_versions'),
    ...insertOnly('plan_version_resources'),

    `create table api_keys (
       tenant_id text not null references tenants (id),
       id text not null,
       name text not null check (length(name) between 1 and 200),
       app_id text,
       key_prefix text not null,
       secret_hash text not null,
       created_by text not null,
       created_at timestamptz not null,
       revoked_at timestamptz,
       revoked_by text,
       primary key (tenant_id, id),
       foreign key (tenant_id, app_id) references apps (tenant_id, id)
     )`,
    `create unique index api_keys_secret_hash on api_keys (secret_hash)`,
    `create index api_keys_listing on api_keys (tenant_id, created_at desc, id desc)`,
  ]);
