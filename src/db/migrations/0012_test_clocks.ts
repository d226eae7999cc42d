import type { Kysely } from 'kysely';
import { executeStatements } from '../statements.js';

/**
 * Test clocks: a frozen instant that a platform admin moves forward, and the tenants attached to
 * one at creation, whose time-driven work runs at the clock's time instead of the wall clock's.
 * A clock is deleted with its tenants and all their rows, insert-only history included: the
 * immutability trigger lets a row's DELETE through only when the transaction names, in the
 * setting `billing.deleting_test_clock`, the test clock of the row's tenant. A tenant's clock is
 * fixed at creation (a trigger refuses any change), so no real tenant's history can be made
 * deletable by attaching it to a clock.
 */
export const up = (db: Kysely<unknown>): Promise<void> =>
  executeStatements(db, [
    `create table test_clocks (
       id text primary key check (id ~ '^clk_[a-z0-9]{16}$'),
       name text check (length(name) between 1 and 200),
       frozen_time timestamptz not null,
       status text not null check (status in ('ready', 'advancing')),
       advancing_to timestamptz,
       created_at timestamptz not null,
       updated_at timestamptz not null,
       check ((status = 'advancing') = (advancing_to is not null))
     )`,
    `create index test_clocks_created_at on test_clocks (created_at desc, id desc)`,
    `alter table tenants add column test_clock_id text references test_clocks (id)`,
    // Few tenants have a clock: a partial index serves "the tenants of this clock" and the foreign key.
    `create index tenants_by_test_clock on tenants (test_clock_id, id) where test_clock_id is not null`,
    `create function refuse_test_clock_change() returns trigger language plpgsql as $$
     begin
       raise exception 'the test clock of tenant % is fixed at its creation', old.id
         using errcode = 'restrict_violation';
     end $$`,
    `create trigger tenants_test_clock_fixed before update of test_clock_id on tenants
       for each row when (old.test_clock_id is distinct from new.test_clock_id)
       execute function refuse_test_clock_change()`,
    `create or replace function refuse_mutation() returns trigger language plpgsql as $$
     begin
       if tg_op = 'DELETE' and tg_level = 'ROW' and exists (
            select 1 from tenants
             where id = to_jsonb(old) ->> 'tenant_id'
               and test_clock_id = current_setting('billing.deleting_test_clock', true)) then
         return old;
       end if;
       raise exception '% on % is refused: its rows are immutable', tg_op, tg_table_name
         using errcode = 'restrict_violation';
     end $$`,
  ]);

export const down = (db: Kysely<unknown>): Promise<void> =>
  executeStatements(db, [
    `create or replace function refuse_mutation() returns trigger language plpgsql as $$
     begin
       raise exception '% on % is refused: its rows are immutable', tg_op, tg_table_name
         using errcode = 'restrict_violation';
     end $$`,
    `drop trigger tenants_test_clock_fixed on tenants`,
    `drop function refuse_test_clock_change()`,
    `alter table tenants drop column test_clock_id`,
    `drop table test_clocks`,
  ]);
