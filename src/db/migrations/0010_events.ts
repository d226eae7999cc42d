import type { Kysely } from 'kysely';
import { executeStatements, insertOnly } from '../statements.js';

/**
 * Billing events: what changed for a client, written in the transaction of the change, never
 * edited. `data` is the changed object as the API shows it. Ids begin with their time, so id order
 * is time order; the indexes serve the listing newest first, whole or by type.
 */
export const up = (db: Kysely<unknown>): Promise<void> =>
  executeStatements(db, [
    `create table events (
       tenant_id text not null references tenants (id),
       id text not null check (id ~ '^evt_[a-z0-9]{25}$'),
       type text not null check (type ~ '^[a-z_]+\\.[a-z_]+$'),
       app_id text,
       created_at timestamptz not null,
       data jsonb not null check (jsonb_typeof(data) = 'object'),
       primary key (tenant_id, id)
     )`,
    `create index events_by_time on events (tenant_id, created_at desc, id desc)`,
    `create index events_by_type on events (tenant_id, type, created_at desc, id desc)`,
    ...insertOnly('events'),
  ]);

export const down = (db: Kysely<unknown>): Promise<void> => executeStatements(db, ['drop table events']);
