import fc from 'fast-check';
import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clockAt } from '../../core/clock.js';
import type { Db } from '../../db/database.js';
import { retryTransaction } from '../../db/retry.js';
import type { RecordStatus } from '../../db/schema.js';
import { createTestDatabase, type TestDatabase } from '../../testing/test-database.js';
import { writeRecord } from './create-record.js';
import { finalizeRecord } from './finalize-record.js';
import { moveRecord } from './move-record.js';
import { searchBillingRecords } from './search-records.js';
import type { RecordAction } from './status.js';

/*
 * Search totals for status, app and date filters are read from counters (migration 0016) that
 * triggers keep in the statement that changes the records. Random writes, several transactions at
 * once on a server database, each one statement or several: records created (drafts or
 * finalised) by the service, finalised, paid, failed, retried and refunded by it; and by hand
 * (SQL as any tool could send) multi-row inserts, deletes, status changes, moves between apps and
 * changes of creation time; and the tenant's time zone changed. Beside them and after them, the
 * search's total for random filters is compared with a plain count(*) of the same rows read in the
 * same snapshot, and the counters with a recount from the records.
 */

const onServer = process.env.DATABASE_URL !== undefined && process.env.DATABASE_URL !== '';
const tenantId = 'tnt_counts';
const scope = { tenantId };
const apps = ['app_counts_a', 'app_counts_b', 'app_counts_c'];
/** Zones whose midnights always exist (so SQL and the service agree on a day's first instant), odd offsets among them. */
const zones = [
  'UTC',
  'Asia/Shanghai',
  'America/New_York',
  'Europe/London',
  'Asia/Kolkata',
  'Asia/Kathmandu',
  'Pacific/Chatham',
  'America/St_Johns',
  'Australia/Lord_Howe',
  'Pacific/Kiritimati',
  'Pacific/Pago_Pago',
];
const statuses: Exclude<RecordStatus, 'draft'>[] = ['pending', 'paid', 'failed', 'refunded'];
const words = ['alpha', 'beta', 'gamma'];

/** Records are created from 2025-12-28 to 2026-03-05 (UTC), many a moment either side of some midnight. */
const windowStart = Date.parse('2025-12-28T00:00:00Z');
const windowDays = 68;
const dayMs = 86_400_000;
const arbInstant = fc.oneof(
  fc.integer({ min: 0, max: windowDays * dayMs - 1 }).map((offset) => new Date(windowStart + offset)),
  // Near a midnight of a UTC day or of one of the zones' (their offsets are whole quarter hours).
  fc
    .tuple(
      fc.integer({ min: 1, max: windowDays - 1 }),
      fc.integer({ min: -56, max: 56 }),
      fc.integer({ min: -2, max: 1 }),
    )
    .map(([day, quarters, ms]) => new Date(windowStart + day * dayMs + quarters * 15 * 60_000 + ms)),
);
const arbApp = fc.option(fc.constantFrom(...apps), { nil: null });
const arbPicks = fc.array(fc.nat(), { minLength: 1, maxLength: 4 });

type Op =
  | { kind: 'create'; at: Date; app: string | null; finalize: boolean; word: string }
  | { kind: 'finalize'; pick: number }
  | { kind: 'move'; pick: number; action: RecordAction }
  | { kind: 'moves'; picks: number[]; actions: RecordAction[] }
  | { kind: 'insert'; rows: { at: Date; app: string | null; status: RecordStatus }[] }
  | { kind: 'delete'; picks: number[] }
  | { kind: 'status'; picks: number[]; status: Exclude<RecordStatus, 'draft'> }
  | { kind: 'app'; picks: number[]; app: string | null }
  | { kind: 'retime'; picks: number[]; at: Date }
  | { kind: 'zone'; zone: string };

const arbAction = fc.constantFrom<RecordAction>('mark_paid', 'mark_failed', 'retry', 'refund');
const arbOp: fc.Arbitrary<Op> = fc.oneof(
  {
    arbitrary: fc.record({
      kind: fc.constant('create' as const),
      at: arbInstant,
      app: arbApp,
      finalize: fc.boolean(),
      word: fc.constantFrom(...words),
    }),
    weight: 4,
  },
  { arbitrary: fc.record({ kind: fc.constant('finalize' as const), pick: fc.nat() }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant('move' as const), pick: fc.nat(), action: arbAction }), weight: 3 },
  {
    arbitrary: fc.record({
      kind: fc.constant('moves' as const),
      picks: arbPicks,
      actions: fc.array(arbAction, { minLength: 4, maxLength: 4 }),
    }),
    weight: 1,
  },
  {
    arbitrary: fc.record({
      kind: fc.constant('insert' as const),
      rows: fc.array(
        fc.record({ at: arbInstant, app: arbApp, status: fc.constantFrom<RecordStatus>('draft', ...statuses) }),
        { minLength: 1, maxLength: 6 },
      ),
    }),
    weight: 2,
  },
  { arbitrary: fc.record({ kind: fc.constant('delete' as const), picks: arbPicks }), weight: 1 },
  {
    arbitrary: fc.record({
      kind: fc.constant('status' as const),
      picks: arbPicks,
      status: fc.constantFrom(...statuses),
    }),
    weight: 1,
  },
  { arbitrary: fc.record({ kind: fc.constant('app' as const), picks: arbPicks, app: arbApp }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('retime' as const), picks: arbPicks, at: arbInstant }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('zone' as const), zone: fc.constantFrom(...zones) }), weight: 1 },
);

interface Query {
  status?: Exclude<RecordStatus, 'draft'>;
  app_id?: string;
  date_from?: string;
  date_to?: string;
  search?: string;
  min_amount?: number;
}

const arbDay = fc.integer({ min: -4, max: windowDays + 4 }).map((day) => new Date(windowStart + day * dayMs));
/** Mostly the filters counters answer (status, app, dates); now and then a keyword or an amount, counted row by row. */
const arbQuery: fc.Arbitrary<Query> = fc
  .record({
    status: fc.option(fc.constantFrom(...statuses), { nil: undefined }),
    app_id: fc.option(fc.constantFrom(...apps, 'app_counts_none'), { nil: undefined }),
    days: fc.tuple(arbDay, arbDay),
    bounds: fc.constantFrom('both', 'both', 'both', 'from', 'to', 'none'),
    search: fc.option(fc.constantFrom(...words), { nil: undefined, freq: 8 }),
    min_amount: fc.option(fc.constantFrom(0, 5, 20), { nil: undefined, freq: 8 }),
  })
  .map(({ days, bounds, ...rest }) => {
    const query: Query = Object.fromEntries(Object.entries(rest).filter(([, value]) => value !== undefined));
    const [a, b] = days.map((day) => day.toISOString().slice(0, 10)).sort() as [string, string];
    if (bounds === 'both' || bounds === 'from') query.date_from = a;
    if (bounds === 'both' || bounds === 'to') query.date_to = b;
    return query;
  });

let database: TestDatabase;
let db: Db;
/** Every record ever created; deleted ones are picked too (their writes then change nothing). */
const records: string[] = [];
/** Records written by hand (no lines, no history): only these can be deleted. */
const bare: string[] = [];
let bareSeq = 0;

const pickFrom = (list: readonly string[], picks: readonly number[]): string[] =>
  list.length === 0 ? [] : [...new Set(picks.map((pick) => list[pick % list.length] as string))];
const later = clockAt(new Date('2026-03-10T00:00:00Z'));

const run = async (op: Op): Promise<void> => {
  switch (op.kind) {
    case 'create': {
      const written = await db.transaction().execute((trx) =>
        writeRecord({
          trx,
          clock: clockAt(op.at),
          scope,
          actor: 'usr_counts',
          draft: {
            appId: op.app,
            type: 'one_time',
            description: `${op.word} charge`,
            currency: 'USD',
            lines: [{ description: 'setup', resourceType: 'setup', quantity: 1n, unitPrice: '10', taxRate: '0' }],
            finalize: op.finalize,
          },
        }),
      );
      if (written.ok) records.push(written.value.recordId);
      return;
    }
    case 'finalize': {
      const [recordId] = pickFrom(records, [op.pick]);
      if (recordId === undefined) return;
      await db
        .transaction()
        .execute((trx) => finalizeRecord({ trx, clock: later, scope, recordId, actor: 'usr_counts' }));
      return;
    }
    case 'move': {
      const [recordId] = pickFrom(records, [op.pick]);
      if (recordId === undefined) return;
      await db
        .transaction()
        .execute((trx) => moveRecord({ trx, clock: later, scope, recordId, action: op.action, actor: 'usr_counts' }));
      return;
    }
    case 'moves':
      // Several records in one transaction, each its own statement: counters locked in no set order.
      await retryTransaction(() =>
        db.transaction().execute(async (trx) => {
          for (const [index, recordId] of pickFrom(records, op.picks).entries()) {
            const action = op.actions[index % op.actions.length] as RecordAction;
            await moveRecord({ trx, clock: later, scope, recordId, action, actor: 'usr_counts' });
          }
        }),
      );
      return;
    case 'insert': {
      const rows = op.rows.map((row) => {
        bareSeq += 1;
        return { ...row, id: `rec_bare${String(bareSeq).padStart(12, '0')}`, amount: 1000 + (bareSeq % 3000) };
      });
      const values = rows.map((row) => {
        const final = row.status === 'draft' ? null : row.at;
        return sql`(${tenantId}, ${row.id}, ${row.app}::text, 'one_time', ${row.status}, 'USD', 'by hand',
                    ${row.amount}, 0, ${row.amount}, ${final === null ? null : `BARE-${row.id}`}::text,
                    ${`${row.id} alpha by hand`}, ${row.at}::timestamptz, ${final}::timestamptz,
                    ${final}::timestamptz, ${row.at}::timestamptz)`;
      });
      await sql`insert into billing_records (tenant_id, id, app_id, type, status, currency, description, amount,
                                             tax_amount, total_amount, invoice_number, search_text, created_at,
                                             finalized_at, due_at, updated_at)
                values ${sql.join(values)}`.execute(db);
      bare.push(...rows.map((row) => row.id));
      records.push(...rows.map((row) => row.id));
      return;
    }
    case 'delete': {
      const ids = pickFrom(bare, op.picks);
      if (ids.length === 0) return;
      // Those the service has since given a history keep it (a race with such a write fails the delete: also fine).
      await sql`delete from billing_records r
                 where tenant_id = ${tenantId} and id in (${sql.join(ids)})
                   and not exists (select 1 from billing_record_events e
                                    where e.tenant_id = r.tenant_id and e.record_id = r.id)`
        .execute(db)
        .catch((error: unknown) => {
          if ((error as { code?: unknown }).code !== '23503') throw error;
        });
      return;
    }
    case 'status': {
      const ids = pickFrom(records, op.picks);
      if (ids.length > 0) {
        await sql`update billing_records set status = ${op.status}
                   where tenant_id = ${tenantId} and id in (${sql.join(ids)}) and status <> 'draft'`.execute(db);
      }
      return;
    }
    case 'app': {
      const ids = pickFrom(records, op.picks);
      if (ids.length > 0) {
        await sql`update billing_records set app_id = ${op.app}::text
                   where tenant_id = ${tenantId} and id in (${sql.join(ids)})`.execute(db);
      }
      return;
    }
    case 'retime': {
      const ids = pickFrom(records, op.picks);
      if (ids.length > 0) {
        await sql`update billing_records set created_at = ${op.at}::timestamptz
                   where tenant_id = ${tenantId} and id in (${sql.join(ids)})`.execute(db);
      }
      return;
    }
    case 'zone':
      await sql`update tenants set time_zone = ${op.zone} where id = ${tenantId}`.execute(db);
      return;
  }
};

/** The search's total and a plain count(*) of the same filter, both read in one snapshot. */
const totalsOf = (query: Query): Promise<{ search: number; counted: number }> =>
  db
    .transaction()
    .setIsolationLevel('repeatable read')
    .execute(async (trx) => {
      const found = await searchBillingRecords(trx, scope, { ...query, page: 1, page_size: 1 });
      if (!found.ok) throw new Error(`search refused ${JSON.stringify(query)}: ${found.error.message}`);
      // Day bounds by PostgreSQL, in the zone the tenant has in this snapshot: [date_from, date_to + 1 day).
      const local = (day: string | undefined, plus: number) =>
        sql`((${day ?? null}::date + ${plus}::int)::timestamp at time zone
             (select time_zone from tenants where id = ${tenantId}))`;
      const { rows } = await sql<{ n: bigint }>`
        select count(*) as n from billing_records
         where tenant_id = ${tenantId} and status <> 'draft'
           and (${query.status ?? null}::text is null or status = ${query.status ?? null})
           and (${query.app_id ?? null}::text is null or app_id = ${query.app_id ?? null})
           and (${query.date_from ?? null}::text is null or created_at >= ${local(query.date_from, 0)})
           and (${query.date_to ?? null}::text is null or created_at < ${local(query.date_to, 1)})
           and (${query.search ?? null}::text is null or search_text like '%' || ${query.search ?? ''} || '%')
           and (${query.min_amount ?? null}::int is null or amount >= ${(query.min_amount ?? 0) * 100})`.execute(trx);
      return { search: found.value.total, counted: Number(rows[0]?.n) };
    });

/** Once no writer is in flight: the counters are the records' recount, no zero kept, no note left behind. */
const expectCountersExact = async (): Promise<void> => {
  const stored = await sql<Record<string, unknown>>`
    select tenant_id, span, start, app_id, status, n from billing_record_counts
     order by tenant_id, span, start, app_id, status`.execute(db);
  const recounted = await sql<Record<string, unknown>>`
    select d.tenant_id, s.span, s.start, d.app_id, d.status, count(*) as n
      from (select tenant_id, coalesce(app_id, '') as app_id, status, created_at
              from billing_records where status <> 'draft') d
     cross join lateral (values ('day', (d.created_at at time zone 'UTC')::date),
                                ('month', date_trunc('month', d.created_at at time zone 'UTC')::date)) s (span, start)
     group by 1, 2, 3, 4, 5 order by 1, 2, 3, 4, 5`.execute(db);
  expect(stored.rows).toEqual(recounted.rows);
  const left = await sql`select 'delta' as what from billing_record_count_deltas
                         union all select 'flush' from billing_record_count_flushes`.execute(db);
  expect(left.rows).toEqual([]);
};

beforeAll(async () => {
  database = await createTestDatabase();
  db = database.db;
  await sql`insert into tenants (id, name, currency, time_zone, tax_rate, admin_user_id, status, created_at, updated_at)
            values (${tenantId}, 'Counts', 'USD', 'Asia/Kathmandu', 0, 'usr_counts', 'active', now(), now())`.execute(
    db,
  );
  await sql`insert into apps (tenant_id, id, name, status, created_at, updated_at)
            select ${tenantId}, id, id, 'active', now(), now() from unnest(${apps}::text[]) as id`.execute(db);
});
afterAll(() => database.destroy());

describe('search totals from counters', () => {
  it('equal count(*) for random filters, in random zones, while and after records change concurrently', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(arbOp, { minLength: 1, maxLength: 12 }),
        fc.array(arbOp, { minLength: 0, maxLength: 12 }),
        fc.array(arbQuery, { minLength: 1, maxLength: 10 }),
        async (laneA, laneB, queries) => {
          const during: { query: Query; search: number; counted: number }[] = [];
          await Promise.all([
            (async () => {
              for (const op of laneA) await run(op);
            })(),
            (async () => {
              for (const op of laneB) await run(op);
            })(),
            (async () => {
              for (const query of queries) during.push({ query, ...(await totalsOf(query)) });
            })(),
          ]);
          for (const { query, search, counted } of during)
            expect({ query, total: search }).toEqual({ query, total: counted });
          for (const query of queries) {
            const { search, counted } = await totalsOf(query);
            expect({ query, total: search }).toEqual({ query, total: counted });
          }
          await expectCountersExact();
        },
      ),
      { numRuns: 40 },
    );
    // The property saw records in every status and most days.
    const { rows } = await sql<{ statuses: bigint; days: bigint }>`
      select count(distinct status) as statuses, count(distinct (created_at at time zone 'UTC')::date) as days
        from billing_records`.execute(db);
    expect(Number(rows[0]?.statuses)).toBeGreaterThanOrEqual(5);
    expect(Number(rows[0]?.days)).toBeGreaterThan(30);
  }, 120_000);

  it('equal count(*) over the records left, for a grid of ranges in every zone', async () => {
    const ranges: [string | undefined, string | undefined][] = [
      ['2025-12-31', '2025-12-31'],
      ['2026-01-01', '2026-01-01'],
      ['2026-01-31', '2026-02-01'],
      ['2025-12-29', '2026-01-30'],
      ['2026-01-01', '2026-01-31'],
      ['2025-12-31', '2026-02-28'],
      ['2026-01-02', '2026-03-01'],
      ['2026-02-01', '2026-02-28'],
      ['2026-02-10', '2026-02-11'],
      ['2026-01-15', undefined],
      ['2026-02-01', undefined],
      [undefined, '2026-01-31'],
      [undefined, '2026-02-14'],
      [undefined, undefined],
    ];
    const filters: Query[] = [
      {},
      { status: 'paid' },
      { app_id: 'app_counts_b' },
      { status: 'pending', app_id: 'app_counts_a' },
    ];
    let nonZero = 0;
    for (const zone of zones) {
      await run({ kind: 'zone', zone });
      for (const [from, to] of ranges) {
        for (const filter of filters) {
          const query: Query = { ...filter };
          if (from !== undefined) query.date_from = from;
          if (to !== undefined) query.date_to = to;
          const { search, counted } = await totalsOf(query);
          expect({ zone, query, total: search }).toEqual({ zone, query, total: counted });
          if (counted > 0) nonZero += 1;
        }
      }
    }
    expect(nonZero).toBeGreaterThan(zones.length * ranges.length * 2);
  }, 60_000);
});

describe('counters after a transaction that does not commit', () => {
  const counters = () =>
    sql<Record<string, unknown>>`select * from billing_record_counts order by span, start, app_id, status`.execute(db);
  const finalised = async (): Promise<string[]> =>
    (
      await db
        .selectFrom('billing_records')
        .select('id')
        .where('tenant_id', '=', tenantId)
        .where('status', 'in', ['pending', 'paid'])
        .orderBy('id')
        .limit(3)
        .execute()
    ).map((row) => row.id);

  it('are as before when a statement fails after records were created, finalised and paid in it', async () => {
    await run({
      kind: 'create',
      at: new Date('2026-01-20T10:00:00Z'),
      app: 'app_counts_a',
      finalize: false,
      word: 'beta',
    });
    const draft = records.at(-1) as string;
    const before = await counters();
    const [paying] = await finalised();
    await expect(
      db.transaction().execute(async (trx) => {
        await writeRecord({
          trx,
          clock: clockAt(new Date('2026-01-21T10:00:00Z')),
          scope,
          actor: 'usr_counts',
          draft: {
            appId: 'app_counts_b',
            type: 'one_time',
            description: 'never committed',
            currency: 'USD',
            lines: [{ description: 'setup', resourceType: 'setup', quantity: 1n, unitPrice: '10', taxRate: '0' }],
            finalize: true,
          },
        });
        await finalizeRecord({ trx, clock: later, scope, recordId: draft, actor: 'usr_counts' });
        await sql`update billing_records set status = 'refunded', app_id = null where id = ${paying}`.execute(trx);
        // Not seen outside the transaction (another connection: the embedded database has only this one).
        if (onServer) expect((await counters()).rows).toEqual(before.rows);
        // Breaks a check (amount >= 0): the transaction fails here, after the counters changed in it.
        await sql`update billing_records set amount = -1 where id = ${draft}`.execute(trx);
      }),
    ).rejects.toThrow(/check constraint/);
    expect((await counters()).rows).toEqual(before.rows);
    await expectCountersExact();
  });

  it('are as before when a savepoint holding changes is rolled back and the rest commits', async () => {
    const [first, second] = await finalised();
    await db.transaction().execute(async (trx) => {
      await sql`update billing_records set status = 'failed' where id = ${first}`.execute(trx);
      await sql`savepoint undone`.execute(trx);
      await sql`update billing_records set status = 'refunded', created_at = created_at - interval '40 days'
                 where id = ${second}`.execute(trx);
      await sql`rollback to savepoint undone`.execute(trx);
    });
    expect(
      (await db.selectFrom('billing_records').select('status').where('id', '=', second!).executeTakeFirst())?.status,
    ).not.toBe('refunded');
    await expectCountersExact();
  });

  it.skipIf(!onServer)(
    'cost no deadlock between a writer that locks another row first and one that changes the same counter first',
    async () => {
      // Two records of one counter (day, app, status), both to be refunded.
      const [first, second] = ['rec_deadlock00000001', 'rec_deadlock00000002'];
      await sql`insert into billing_records (tenant_id, id, app_id, type, status, currency, description, amount,
                                             tax_amount, total_amount, invoice_number, search_text, created_at,
                                             finalized_at, due_at, updated_at)
                select ${tenantId}, id, 'app_counts_c', 'one_time', 'paid', 'USD', 'both', 100, 0, 100, 'DL-' || id, id,
                       at, at, at, at
                  from (values (${first}, timestamptz '2026-02-20T08:00:00Z'),
                               (${second}, timestamptz '2026-02-20T09:00:00Z')) as v (id, at)`.execute(db);
      const connect = async (name: string) => {
        const client = new pg.Client({ connectionString: database.url, application_name: name });
        await client.connect();
        await client.query('begin');
        return client;
      };
      const a = await connect('counts-a');
      const b = await connect('counts-b');
      try {
        // b changes the counter's records first; a holds the other lock (the tenant row, as a
        // payment holds the cash account) and then changes the same counter; b then wants a's
        // lock. Were counters locked as records change, a would wait for b and b for a.
        await b.query(`update billing_records set status = 'refunded' where id = $1`, [second]);
        await a.query(`select 1 from tenants where id = $1 for update`, [tenantId]);
        const aChangesAndCommits = a
          .query(`update billing_records set status = 'refunded' where id = $1`, [first])
          .then(() => a.query('commit'));
        await Promise.all([aChangesAndCommits, b.query(`select 1 from tenants where id = $1 for update`, [tenantId])]);
        await b.query('commit');
      } finally {
        await a.end();
        await b.end();
      }
      await expectCountersExact();
    },
  );

  it.skipIf(!onServer)(
    'are as before when the connection of a transaction that changed records dies, and a writer waiting on it goes on',
    async () => {
      const [first] = await finalised();
      const before = await counters();
      const doomed = new pg.Client({ connectionString: database.url, application_name: 'counts-doomed' });
      await doomed.connect();
      doomed.on('error', () => undefined);
      try {
        await doomed.query('begin');
        const { rows } = await doomed.query<{ pid: number }>('select pg_backend_pid() as pid');
        await doomed.query(`update billing_records set status = 'refunded', app_id = null where id = $1`, [first]);
        await doomed.query(
          `insert into billing_records (tenant_id, id, app_id, type, status, currency, description,
                              amount, tax_amount, total_amount, invoice_number, search_text, created_at, finalized_at,
                              due_at, updated_at)
                            values ($1, 'rec_doomed0000000001', null, 'one_time', 'paid', 'USD', 'doomed', 1, 0, 1,
                                    'DOOMED-1', 'doomed', now(), now(), now(), now())`,
          [tenantId],
        );
        // Another writer waits for the record the doomed transaction changed.
        const waiting = sql`update billing_records set status = 'failed' where id = ${first}`.execute(db);
        for (let tries = 0; ; tries += 1) {
          const blocked = await sql<{ n: bigint }>`
            select count(*) as n from pg_stat_activity
             where datname = current_database() and wait_event_type = 'Lock'`.execute(db);
          if (Number(blocked.rows[0]?.n) > 0) break;
          if (tries > 100) throw new Error('the second writer never waited');
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        await sql`select pg_terminate_backend(${rows[0]?.pid}::int)`.execute(db);
        await waiting;
      } finally {
        await doomed.end().catch(() => undefined);
      }
      expect((await counters()).rows).not.toEqual(before.rows); // the waiting writer's change counted
      await expectCountersExact();
    },
  );
});
