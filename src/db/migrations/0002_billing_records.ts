import type { Kysely } from 'kysely';
import { executeStatements, insertOnly } from '../statements.js';

/**
 * Billing records (invoices), their lines, their status history, gapless invoice numbering and
 * stored idempotent responses.
 */
export const up = (db: Kysely<unknown>): Promise<void> =>
  executeStatements(db, [
    `create extension if not exists pg_trgm`,

    `create table billing_records (
       tenant_id text not null references tenants (id),
       id text not null check (id ~ '^rec_[a-z0-9]{16}$'),
       app_id text,
       type text not null check (type in ('subscription', 'usage', 'proration', 'payg', 'top_up', 'one_time')),
       status text not null check (status in ('draft', 'pending', 'paid', 'failed', 'refunded')),
       currency char(3) not null,
       description text not null,
       amount bigint not null check (amount >= 0),
       tax_amount bigint not null check (tax_amount >= 0),
       total_amount bigint not null,
       invoice_number text,
       -- Lower-cased id, invoice number, description and line descriptions, for substring search.
       search_text text not null,
       created_at timestamptz not null,
       finalized_at timestamptz,
       updated_at timestamptz not null,
       primary key (tenant_id, id),
       foreign key (tenant_id, app_id) references apps (tenant_id, id),
       check (total_amount = amount + tax_amount),
       check ((status = 'draft') = (invoice_number is null)),
       check ((status = 'draft') = (finalized_at is null))
     )`,
    `create unique index billing_records_invoice_number on billing_records (tenant_id, invoice_number)`,
    // Every listing is newest first, ties by id, optionally narrowed to an app or a status. Every
    // search also excludes drafts, so the indexes carry status: the exact `total` count is then an
    // index-only scan (1M records of one tenant: ~110 ms → ~6–11 ms; bench/search/main.ts).
    `create index billing_records_by_created on billing_records (tenant_id, created_at desc, id desc) include (status)`,
    `create index billing_records_by_app on billing_records (tenant_id, app_id, created_at desc, id desc)
       include (status)`,
    `create index billing_records_by_status on billing_records (tenant_id, status, created_at desc, id desc)`,
    `create index billing_records_by_amount on billing_records (tenant_id, amount) include (status)`,
    // Counting only: a whole tenant's or one status's total, narrow thanks to b-tree deduplication.
    `create index billing_records_status_count on billing_records (tenant_id, status)`,
    `create index billing_records_search on billing_records using gin (search_text gin_trgm_ops)`,

    `create table billing_record_lines (
       tenant_id text not null,
       record_id text not null,
       line_no integer not null check (line_no >= 1),
       description text not null,
       resource_type text not null,
       quantity bigint not null check (quantity >= 0),
       unit_price numeric not null check (unit_price >= 0),
       amount bigint not null check (amount >= 0),
       tax_rate numeric(7, 6) not null check (tax_rate >= 0 and tax_rate < 1),
       tax_amount bigint not null check (tax_amount >= 0),
       primary key (tenant_id, record_id, line_no),
       foreign key (tenant_id, record_id) references billing_records (tenant_id, id)
     )`,
    // Lines are what was billed: never edited once written.
    ...insertOnly('billing_record_lines'),

    `create table billing_record_events (
       tenant_id text not null,
       record_id text not null,
       seq integer not null check (seq >= 1),
       from_status text,
       to_status text not null,
       actor text not null,
       reason text,
       occurred_at timestamptz not null,
       primary key (tenant_id, record_id, seq),
       foreign key (tenant_id, record_id) references billing_records (tenant_id, id)
     )`,
    ...insertOnly('billing_record_events'),

    // The last invoice number handed out per tenant and year; its row lock serialises finalisation.
    `create table invoice_sequences (
       tenant_id text not null references tenants (id),
       year integer not null,
       last_seq integer not null check (last_seq >= 1),
       primary key (tenant_id, year)
     )`,

    // No foreign key: a refusal for a tenant that does not exist is replayed like any other answer.
    `create table idempotency_keys (
       tenant_id text not null,
       key text not null,
       fingerprint text not null,
       response_status integer not null,
       response_body jsonb not null,
       created_at timestamptz not null,
       expires_at timestamptz not null,
       primary key (tenant_id, key)
     )`,
    `create index idempotency_keys_expiry on idempotency_keys (expires_at)`,
  ]);
