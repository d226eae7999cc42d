import type { Kysely } from 'kysely';
import { executeStatements, insertOnly } from '../statements.js';

/**
 * The audit log of compliance exports: who asked for whose data, when, and how many rows of each
 * kind left. A platform table: one export may span several tenants. Insert-only: a start and an
 * end are two rows.
 */
export const up = (db: Kysely<unknown>): Promise<void> =>
  executeStatements(db, [
    `create table export_audit_log (
       id text not null,
       event text not null check (event in ('started', 'completed', 'failed')),
       requested_by text not null,
       user_id text not null,
       tenant_filter text,
       tenant_ids text[] not null,
       row_counts jsonb,
       error text,
       occurred_at timestamptz not null,
       primary key (id, event)
     )`,
    `create index export_audit_log_by_user on export_audit_log (user_id, occurred_at desc)`,
    ...insertOnly('export_audit_log'),
  ]);
