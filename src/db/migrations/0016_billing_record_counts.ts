import type { Kysely } from 'kysely';
import { executeStatements } from '../statements.js';

/**
 * Counts of the records search lists (every status but draft) per tenant, app, status and UTC day,
 * and per UTC month, so a search's exact `total` for status, app and date filters is a sum of a few
 * hundred rows instead of a count of up to every record of the tenant.
 *
 * Every statement that changes billing_records (whatever code, or hand, sends it) has its
 * statement-level trigger note what it added and took away, per counter row, in
 * billing_record_count_deltas under its transaction's id. At commit a deferred trigger moves the
 * transaction's notes into billing_record_counts in one statement, in key order, and deletes the
 * counters left at zero. A transaction that rolls back (or a savepoint) takes its notes with it.
 *
 * Why at commit: a counter row is shared by every record of its tenant, day, app and status. Taken
 * when the record changes, its lock would be held while the transaction goes on to lock other rows
 * (a payment from the credit balance locks the cash account before the record, a new invoice
 * collected at once the other way round), and two such transactions deadlock. Taken last, in key
 * order, the counters only make committing transactions of the same buckets queue one behind the
 * other.
 *
 * Buckets are UTC days and months, not the tenant's: a tenant-local day starts at some instant of
 * a UTC day whatever the zone (and after the zone changes), so a search counts the whole UTC days
 * and months of its range here and the part-days at either end from the records (repository.ts).
 */

/** The rows of a transition table that search lists, each counting `sign`. */
const counted = (table: string, sign: 1 | -1): string =>
  `select tenant_id, coalesce(app_id, '') as app_id, status, created_at, ${sign} as n
     from ${table} where status <> 'draft'`;

/** Notes a statement's changes per counter row under the transaction's id, and asks for the move at commit. */
const note = (deltas: string): string => `
  insert into billing_record_count_deltas as d (tenant_id, txid, span, start, app_id, status, n)
  select c.tenant_id, pg_current_xact_id(), s.span, s.start, c.app_id, c.status, sum(c.n)
    from (${deltas}) c
   cross join lateral (values ('day', (c.created_at at time zone 'UTC')::date),
                              ('month', date_trunc('month', c.created_at at time zone 'UTC')::date)) s (span, start)
   group by c.tenant_id, s.span, s.start, c.app_id, c.status
  having sum(c.n) <> 0
      on conflict (tenant_id, txid, span, start, app_id, status) do update set n = d.n + excluded.n;
  if found then
    insert into billing_record_count_flushes (txid) values (pg_current_xact_id()) on conflict do nothing;
  end if`;

export const up = (db: Kysely<unknown>): Promise<void> =>
  executeStatements(db, [
    // No writer may change a record between the backfill's read and the triggers' start.
    `lock table billing_records in share row exclusive mode`,
    // Keys compared byte by byte (collate "C"), as every lookup is by equality or a range of dates.
    // Room left in each page (fillfactor) keeps a counter's updates on its page (HOT), so the rows
    // stay in the key order they were written in.
    `create table billing_record_counts (
       tenant_id text collate "C" not null references tenants (id),
       -- 'day': records created on UTC day \`start\`; 'month': in the UTC month starting at \`start\`.
       span text collate "C" not null check (span in ('day', 'month')),
       start date not null,
       -- '' for records without an app.
       app_id text collate "C" not null,
       status text collate "C" not null check (status in ('pending', 'paid', 'failed', 'refunded')),
       -- Above zero: a counter that reaches zero is deleted, so the rows are the same whatever way
       -- the records got where they are. (No CHECK: an upsert checks its proposed row, a decrement.)
       n bigint not null,
       primary key (tenant_id, span, start, app_id, status),
       check (span = 'day' or extract(day from start) = 1)
     ) with (fillfactor = 75)`,
    // What transactions still in flight changed, by counter row; empty once they have ended. No
    // foreign key: a test clock's deletion removes its tenants in the transaction that notes.
    `create table billing_record_count_deltas (
       tenant_id text collate "C" not null,
       txid xid8 not null,
       span text collate "C" not null,
       start date not null,
       app_id text collate "C" not null,
       status text collate "C" not null,
       n bigint not null,
       primary key (tenant_id, txid, span, start, app_id, status)
     )`,
    `create index billing_record_count_deltas_txid on billing_record_count_deltas (txid)`,
    // One row per transaction with notes, until its commit moves them: the deferred trigger's hook.
    `create table billing_record_count_flushes (txid xid8 primary key)`,
    `create function billing_record_counts_note() returns trigger language plpgsql as $$
     begin
       if tg_op = 'INSERT' then
         ${note(counted('new_rows', 1))};
       elsif tg_op = 'UPDATE' then
         -- Rows whose status, app and creation stay put cancel out and note nothing.
         ${note(`${counted('new_rows', 1)} union all ${counted('old_rows', -1)}`)};
       elsif tg_op = 'DELETE' then
         ${note(counted('old_rows', -1))};
       else
         delete from billing_record_counts;
         delete from billing_record_count_deltas;
       end if;
       return null;
     end
     $$`,
    `create trigger billing_records_count_inserts after insert on billing_records
       referencing new table as new_rows for each statement execute function billing_record_counts_note()`,
    // Every update, whatever columns it sets: a trigger with transition tables takes no column list.
    `create trigger billing_records_count_updates after update on billing_records
       referencing old table as old_rows new table as new_rows
       for each statement execute function billing_record_counts_note()`,
    `create trigger billing_records_count_deletes after delete on billing_records
       referencing old table as old_rows for each statement execute function billing_record_counts_note()`,
    `create trigger billing_records_count_truncates after truncate on billing_records
       for each statement execute function billing_record_counts_note()`,
    // At commit: the transaction's notes into the counters, in key order (so committing writers of
    // the same counters queue without deadlocking), zeros deleted. A tenant deleted by the same
    // transaction (a test clock's) has no counters left to move its notes into.
    `create function billing_record_counts_move() returns trigger language plpgsql as $$
     begin
       insert into billing_record_counts as c (tenant_id, span, start, app_id, status, n)
       select d.tenant_id, d.span, d.start, d.app_id, d.status, d.n
         from billing_record_count_deltas d
        where d.txid = new.txid and d.n <> 0 and exists (select from tenants t where t.id = d.tenant_id)
        order by d.tenant_id, d.span, d.start, d.app_id, d.status
           on conflict (tenant_id, span, start, app_id, status) do update set n = c.n + excluded.n;
       -- The counters this move took to zero (locked by it until the commit).
       delete from billing_record_counts c
        using billing_record_count_deltas d
        where d.txid = new.txid and c.tenant_id = d.tenant_id and c.span = d.span and c.start = d.start
          and c.app_id = d.app_id and c.status = d.status and c.n = 0;
       delete from billing_record_count_deltas where txid = new.txid;
       delete from billing_record_count_flushes where txid = new.txid;
       return null;
     end
     $$`,
    `create constraint trigger billing_record_count_flushes_move after insert on billing_record_count_flushes
       deferrable initially deferred for each row execute function billing_record_counts_move()`,
    `insert into billing_record_counts (tenant_id, span, start, app_id, status, n)
     select d.tenant_id, s.span, s.start, d.app_id, d.status, count(*)
       from (select tenant_id, coalesce(app_id, '') as app_id, status, created_at
               from billing_records where status <> 'draft') d
      cross join lateral (values ('day', (d.created_at at time zone 'UTC')::date),
                                 ('month', date_trunc('month', d.created_at at time zone 'UTC')::date)) s (span, start)
      group by d.tenant_id, s.span, s.start, d.app_id, d.status
      -- Stored in key order: a tenant's month rows share a few pages, as do a range of its days.
      order by d.tenant_id, s.span, s.start, d.app_id, d.status`,
  ]);

export const down = (db: Kysely<unknown>): Promise<void> =>
  executeStatements(db, [
    `drop trigger billing_record_count_flushes_move on billing_record_count_flushes`,
    `drop function billing_record_counts_move()`,
    `drop trigger billing_records_count_truncates on billing_records`,
    `drop trigger billing_records_count_deletes on billing_records`,
    `drop trigger billing_records_count_updates on billing_records`,
    `drop trigger billing_records_count_inserts on billing_records`,
    `drop function billing_record_counts_note()`,
    `drop table billing_record_count_flushes`,
    `drop table billing_record_count_deltas`,
    `drop table billing_record_counts`,
  ]);
