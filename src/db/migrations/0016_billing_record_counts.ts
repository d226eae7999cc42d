import type { Kysely } from 'kysely';
import { executeStatements } from '../statements.js';

/**
 * Counts of the records search lists (every status but draft) per tenant, app, status and UTC day,
 * and per UTC month, so a search's exact `total` for status, app and date filters is a sum of a few
 * hundred rows instead of a count of up to every record of the tenant.
 *
 * The counts change in the statement that changes the records: statement-level triggers on
 * billing_records (insert, update, delete, truncate) add what each statement added and take away
 * what it removed, grouped per counter row, whatever code or hand wrote the rows. A transaction
 * that rolls back takes its counts with it.
 *
 * Buckets are UTC days and months, not the tenant's: a tenant-local day starts at some instant of
 * a UTC day whatever the zone (and after the zone changes), so a search counts the whole UTC days
 * and months of its range here and the part-days at either end from the records (repository.ts).
 */

/** One statement for each counter row a trigger's rows touch, in key order: concurrent writers take the rows' locks in the same order. */
const applyDeltas = (deltas: string): string => `
  insert into billing_record_counts as c (tenant_id, span, start, app_id, status, n)
  select d.tenant_id, s.span, s.start, d.app_id, d.status, sum(d.n)
    from (${deltas}) d
   cross join lateral (values ('day', (d.created_at at time zone 'UTC')::date),
                              ('month', date_trunc('month', d.created_at at time zone 'UTC')::date)) s (span, start)
   group by d.tenant_id, s.span, s.start, d.app_id, d.status
  having sum(d.n) <> 0
   order by d.tenant_id, s.span, s.start, d.app_id, d.status
      on conflict (tenant_id, span, start, app_id, status) do update set n = c.n + excluded.n`;

/** The rows of a transition table that search lists, each counting `sign`. */
const counted = (table: string, sign: 1 | -1): string =>
  `select tenant_id, coalesce(app_id, '') as app_id, status, created_at, ${sign} as n
     from ${table} where status <> 'draft'`;

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
       -- Never negative while the triggers keep it; zero once every record it counted has moved on.
       n bigint not null,
       primary key (tenant_id, span, start, app_id, status),
       check (span = 'day' or extract(day from start) = 1)
     ) with (fillfactor = 75)`,
    `create function billing_record_counts_apply() returns trigger language plpgsql as $$
     begin
       if tg_op = 'INSERT' then
         ${applyDeltas(counted('new_rows', 1))};
       elsif tg_op = 'UPDATE' then
         ${applyDeltas(`${counted('new_rows', 1)} union all ${counted('old_rows', -1)}`)};
       elsif tg_op = 'DELETE' then
         ${applyDeltas(counted('old_rows', -1))};
       else
         delete from billing_record_counts;
       end if;
       return null;
     end
     $$`,
    `create trigger billing_records_count_inserts after insert on billing_records
       referencing new table as new_rows for each statement execute function billing_record_counts_apply()`,
    // Every update, whatever columns it sets: a trigger with transition tables takes no column list.
    // Rows whose status, app and creation stay put cancel out and write nothing.
    `create trigger billing_records_count_updates after update on billing_records
       referencing old table as old_rows new table as new_rows
       for each statement execute function billing_record_counts_apply()`,
    `create trigger billing_records_count_deletes after delete on billing_records
       referencing old table as old_rows for each statement execute function billing_record_counts_apply()`,
    `create trigger billing_records_count_truncates after truncate on billing_records
       for each statement execute function billing_record_counts_apply()`,
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
    `drop trigger billing_records_count_truncates on billing_records`,
    `drop trigger billing_records_count_deletes on billing_records`,
    `drop trigger billing_records_count_updates on billing_records`,
    `drop trigger billing_records_count_inserts on billing_records`,
    `drop function billing_record_counts_apply()`,
    `drop table billing_record_counts`,
  ]);
