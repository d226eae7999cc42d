import type { Kysely } from 'kysely';
import { executeStatements, insertOnly } from '../statements.js';

/**
 * Webhook endpoints (a tenant's, or platform-wide with tenant_id null), one delivery per event
 * and matching endpoint, and the insert-only log of every attempt. The fan-out is a trigger on
 * `events`: every statement that inserts events (a request's, or a billing run batch's
 * multi-row insert) inserts their deliveries in the same transaction, so an event and its
 * deliveries commit or roll back together, and tells the delivery workers to look.
 */
export const up = (db: Kysely<unknown>): Promise<void> =>
  executeStatements(db, [
    `create table webhook_endpoints (
       id text primary key check (id ~ '^we_[a-z0-9]{16}$'),
       tenant_id text references tenants (id),
       url text not null check (length(url) between 1 and 2048),
       -- null: every event type; else exact types and object.* patterns
       event_types jsonb check (event_types is null or jsonb_typeof(event_types) = 'array'),
       description text check (length(description) <= 500),
       enabled boolean not null,
       disabled_reason text check (disabled_reason in ('manual', 'failing')),
       secret text not null check (secret ~ '^whsec_'),
       previous_secret text,
       previous_secret_expires_at timestamptz,
       -- the first failed attempt since the last successful one: 72 h of only failures disables the endpoint
       failing_since timestamptz,
       created_at timestamptz not null,
       updated_at timestamptz not null,
       deleted_at timestamptz,
       check (enabled = (disabled_reason is null)),
       check ((previous_secret is null) = (previous_secret_expires_at is null))
     )`,
    `create index webhook_endpoints_listing on webhook_endpoints (tenant_id, created_at desc, id desc)
       where deleted_at is null`,
    `create index webhook_endpoints_receiving on webhook_endpoints (tenant_id) where enabled and deleted_at is null`,

    `create table webhook_deliveries (
       id text primary key check (id ~ '^whd_[0-9a-f]{32}$'),
       endpoint_id text not null references webhook_endpoints (id),
       -- the event's tenant; for a test ping (no event row, its body in ping) the endpoint's: null
       -- only for a platform-wide endpoint's ping. Deleting a test clock's tenants finds their rows by it.
       -- (No foreign key to events: it would make TRUNCATE events fail before its refuse_mutation trigger.)
       tenant_id text,
       event_id text not null,
       event_type text not null,
       ping jsonb,
       status text not null check (status in ('pending', 'delivered', 'failed')),
       -- attempts claimed so far; a claim takes the next number, so a lost attempt leaves a gap in the log
       attempts integer not null default 0,
       -- pending: due then (null: at once)
       next_attempt_at timestamptz,
       -- while an attempt is in flight: the end of its claim; a process that dies leaves it to expire
       leased_until timestamptz,
       first_attempted_at timestamptz,
       last_attempted_at timestamptz,
       unique (endpoint_id, event_id),
       check (ping is not null or tenant_id is not null),
       check (status = 'pending' or next_attempt_at is null)
     )`,
    `create index webhook_deliveries_due on webhook_deliveries (next_attempt_at nulls first, id)
       where status = 'pending'`,

    `create table webhook_delivery_attempts (
       delivery_id text not null references webhook_deliveries (id),
       attempt integer not null check (attempt >= 1),
       -- the delivery's tenant: the insert-only trigger lets a test clock's deletion through by it
       tenant_id text,
       endpoint_id text not null references webhook_endpoints (id),
       kind text not null check (kind in ('scheduled', 'resend', 'test')),
       started_at timestamptz not null,
       latency_ms integer not null check (latency_ms >= 0),
       http_status integer,
       error text,
       response_body text check (octet_length(response_body) <= 1024),
       primary key (delivery_id, attempt),
       check (http_status is not null or error is not null)
     )`,
    ...insertOnly('webhook_delivery_attempts'),

    `create function webhook_fan_out() returns trigger language plpgsql as $$
     declare
       inserted integer;
     begin
       insert into webhook_deliveries (id, endpoint_id, tenant_id, event_id, event_type, status)
       select 'whd_' || replace(gen_random_uuid()::text, '-', ''), endpoint.id, event.tenant_id, event.id,
              event.type, 'pending'
         from new_events event
         join webhook_endpoints endpoint
           on endpoint.enabled and endpoint.deleted_at is null
          and (endpoint.tenant_id is null or endpoint.tenant_id = event.tenant_id)
          and (endpoint.event_types is null
               or endpoint.event_types ? event.type
               or endpoint.event_types ? (split_part(event.type, '.', 1) || '.*'));
       get diagnostics inserted = row_count;
       -- Delivered after commit, and not at all on rollback: the workers wake when there is work.
       if inserted > 0 then
         perform pg_notify('webhook_deliveries', '');
       end if;
       return null;
     end
     $$`,
    `create trigger events_webhook_fan_out after insert on events
       referencing new table as new_events
       for each statement execute function webhook_fan_out()`,
  ]);

export const down = (db: Kysely<unknown>): Promise<void> =>
  executeStatements(db, [
    'drop trigger events_webhook_fan_out on events',
    'drop function webhook_fan_out()',
    'drop table webhook_delivery_attempts',
    'drop table webhook_deliveries',
    'drop table webhook_endpoints',
  ]);
