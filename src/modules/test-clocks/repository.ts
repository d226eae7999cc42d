import type { Insertable, Selectable } from 'kysely';
import type { PageRequest } from '../../core/pagination.js';
import type { Db } from '../../db/database.js';
import { fetchPage } from '../../db/paginate.js';
import type { TestClocksTable } from '../../db/schema.js';

export type TestClockRow = Selectable<TestClocksTable>;

/**
 * An advance whose clock has not moved for this long is taken to have died with its process
 * (each step moves the clock): another advance, or the deletion, may then take the clock over.
 */
export const staleAdvanceMs = 10 * 60 * 1000;

export const insertTestClock = (db: Db, row: Insertable<TestClocksTable>): Promise<TestClockRow> =>
  db.insertInto('test_clocks').values(row).returningAll().executeTakeFirstOrThrow();

export const findTestClock = (db: Db, id: string): Promise<TestClockRow | undefined> =>
  db.selectFrom('test_clocks').selectAll().where('id', '=', id).executeTakeFirst();

/** Newest first, ties by id. */
export const listTestClocks = (db: Db, page: PageRequest): Promise<{ rows: TestClockRow[]; total: number }> =>
  fetchPage(
    db.selectFrom('test_clocks'),
    (query) => query.selectAll().orderBy('created_at', 'desc').orderBy('id', 'desc'),
    page,
  );

/**
 * Marks the clock advancing towards `to`, if it still stands at `from` and no live advance holds
 * it. One UPDATE: of two concurrent claims the row lock lets one through, and the other finds
 * the clock advancing (or moved) and gets nothing.
 */
export const claimAdvance = (
  db: Db,
  { id, from, to, at }: { id: string; from: Date; to: Date; at: Date },
): Promise<TestClockRow | undefined> =>
  db
    .updateTable('test_clocks')
    .set({ status: 'advancing', advancing_to: to, updated_at: at })
    .where('id', '=', id)
    .where('frozen_time', '=', from)
    .where((eb) => eb.or([eb('status', '=', 'ready'), eb('updated_at', '<', new Date(at.getTime() - staleAdvanceMs))]))
    .returningAll()
    .executeTakeFirst();

/** The advance has done everything up to `frozenTime`: the clock's tenants now live there. */
export const moveFrozenTime = async (db: Db, { id, frozenTime, at }: { id: string; frozenTime: Date; at: Date }) => {
  await db.updateTable('test_clocks').set({ frozen_time: frozenTime, updated_at: at }).where('id', '=', id).execute();
};

export const finishAdvance = (db: Db, id: string, at: Date): Promise<TestClockRow | undefined> =>
  db
    .updateTable('test_clocks')
    .set({ status: 'ready', advancing_to: null, updated_at: at })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirst();

/** The time zones the clock's tenants live in: their days end at each one's midnight. */
export const timeZonesOnClock = async (db: Db, id: string): Promise<string[]> =>
  (await db.selectFrom('tenants').select('time_zone').distinct().where('test_clock_id', '=', id).execute()).map(
    (row) => row.time_zone,
  );
