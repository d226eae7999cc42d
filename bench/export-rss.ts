/**
 * Compliance export of one user holding ~1,000,000 rows: time, bytes, rows/s and the process's
 * peak RSS while the body streams, against the RSS before it and the body size (what a buffered
 * body would add at the least).
 *
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres npm run bench:export
 *
 * Creates a fresh migrated database on that server (as the tests do). One user administers
 * BENCH_TENANTS tenants; each gets, set-based in SQL: billing records with one line each,
 * credit transactions posted through ledger_post (so the chain and balance triggers run for
 * every one; a credit in four, a debit in five, a promo with and without source id), and usage
 * days (one export item per day; every third day a second resource). Then the app listens on
 * 127.0.0.1 and POST /internal/billing/export-user-data is read to the end with a service token,
 * counting bytes and discarding them, while process.memoryUsage().rss is sampled every 50 ms.
 * The export's completed audit row must count every row loaded. Last, an export whose client
 * goes away after the first megabyte shows what the audit log keeps of it. Writes
 * bench/results/export-rss.json and drops the database.
 *
 * Knobs (optional): BENCH_TENANTS=4, BENCH_RECORDS=100000, BENCH_TRANSACTIONS=100000,
 * BENCH_USAGE_DAYS=50000 (each per tenant), BENCH_LOAD_CONCURRENCY=2. V8 collects lazily when it
 * may grow, so the peak RSS of a default run overstates what the stream holds; under
 * NODE_OPTIONS=--max-old-space-size=64 a body that were kept would fail, and the figures go to
 * bench/results/export-rss-old-space-64.json instead.
 */
import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { ManualClock } from '../src/core/clock.js';
import { defaultPoolConfig, openDatabase } from '../src/db/database.js';
import { buildApp } from '../src/http/app.js';
import { createTokenVerifier, mintToken } from '../src/modules/auth/tokens.js';
import { createTestDatabase } from '../src/testing/test-database.js';
import { loadAverages, writeResults } from './measure.js';

const serverUrl = process.env.DATABASE_URL;
if (serverUrl === undefined || serverUrl === '') {
  console.error(
    'export-rss bench: DATABASE_URL is not set.\n' +
      'It needs a PostgreSQL server it may create and drop a database on, e.g.\n' +
      '  DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres npm run bench:export',
  );
  process.exit(2);
}

const knob = (name: string, fallback: number): number => Number(process.env[name] ?? fallback);
const tenantCount = knob('BENCH_TENANTS', 4);
const recordsPerTenant = knob('BENCH_RECORDS', 100_000);
const transactionsPerTenant = knob('BENCH_TRANSACTIONS', 100_000);
const usageDaysPerTenant = knob('BENCH_USAGE_DAYS', 50_000);
const loadConcurrency = knob('BENCH_LOAD_CONCURRENCY', 2);
/**
 * Postings per statement (each its own transaction). Every posting writes new versions of both
 * account rows, which cannot be pruned before the transaction ends, so one huge statement would
 * slow as it went; a statement per posting would pay a round trip each.
 */
const postingsPerStatement = 500;
const sampleEveryMs = 50;
/** The heap cap this run was given (--max-old-space-size), in MB. */
const oldSpaceMb: string | null =
  /--max-old-space-size=(\d+)/.exec([...process.execArgv, process.env.NODE_OPTIONS ?? ''].join(' '))?.[1] ?? null;
const abortAfterBytes = 1_000_000;

const secret = 'bench-secret-that-is-at-least-32-bytes-long';
const userId = 'usr_bench_export';
const loadedAt = '2026-01-01T00:00:00Z';
const tenantIds = Array.from({ length: tenantCount }, (_, i) => `tnt_bench_export_${i + 1}`);
/** App ids are unique across tenants. */
const appOf = (tenantId: string): string => tenantId.replace(/^tnt_bench_export_/, 'app_bench_');

const mb = (bytes: number): number => Number((bytes / 2 ** 20).toFixed(1));

const connect = async (url: string): Promise<pg.Client> => {
  const client = new pg.Client({ connectionString: url, application_name: 'bench-export-loader' });
  await client.connect();
  // Bulk-load session setting only: nothing here outlives the connection.
  await client.query(`set synchronous_commit = off`);
  return client;
};

/** Runs `work` over the items with at most `limit` at a time. */
const inParallel = async <T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> => {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next];
      next += 1;
      if (item !== undefined) await work(item);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, limit) }, worker));
};

const insertRecordsSql = `
insert into billing_records (tenant_id, id, app_id, type, status, currency, description, amount, tax_amount,
                             total_amount, invoice_number, search_text, created_at, finalized_at, updated_at)
select $1::text, 'rec_' || substr(md5($1::text || ':' || n), 1, 16), case when n % 3 = 0 then $2::text end,
       'one_time', case when n % 10 = 0 then 'pending' else 'paid' end, 'CNY', 'Bench record ' || n,
       1000 + n % 100000, (1000 + n % 100000) * 6 / 100, (1000 + n % 100000) * 106 / 100,
       'INV-B-' || lpad(n::text, 7, '0'),
       lower('inv-b-' || lpad(n::text, 7, '0') || E'\\n' || 'rec_' || substr(md5($1::text || ':' || n), 1, 16)
             || E'\\nbench record ' || n),
       $3::timestamptz + n * interval '1 minute', $3::timestamptz + n * interval '1 minute',
       $3::timestamptz + n * interval '1 minute'
from generate_series(1, $4::int) as n`;

const insertLinesSql = `
insert into billing_record_lines (tenant_id, record_id, line_no, description, resource_type, quantity, unit_price,
                                  amount, tax_rate, tax_amount)
select $1::text, 'rec_' || substr(md5($1::text || ':' || n), 1, 16), 1, 'Bench service ' || n, 'service', 1,
       ((1000 + n % 100000) / 100.0)::numeric, 1000 + n % 100000, 0.06, (1000 + n % 100000) * 6 / 100
from generate_series(1, $2::int) as n`;

/** Four credits then a debit; the debits are small, so none overdraws and every posting is written. */
const postSql = `
select count(*) filter (where balance is not null) as posted from (
  select case when n % 5 = 0
           then ledger_post($1::text, 'ctr_' || substr(md5('ctr:' || $1::text || ':' || n), 1, 16), 'debit',
                            (1 + n % 50)::bigint, 'manual_adjust', null, 'bench debit ' || n,
                            $2::timestamptz + n * interval '1 second', 'CNY', 'cash', 'source:manual_adjust')
           else ledger_post($1::text, 'ctr_' || substr(md5('ctr:' || $1::text || ':' || n), 1, 16), 'credit',
                            (100 + n % 1000)::bigint, 'promo', case when n % 2 = 0 then 'campaign-' || n % 97 end,
                            'bench credit ' || n, $2::timestamptz + n * interval '1 second', 'CNY', 'cash',
                            'source:promo')
         end as balance
  from generate_series($3::int, $4::int) as n
) posted`;

const insertUsageSql = `
insert into usage_daily (tenant_id, app_id, resource_type, usage_date, aggregation, quantity, latest_at, event_count,
                         updated_at)
select $1::text, $2::text, r.resource_type, date '1900-01-01' + n, r.aggregation, r.quantity, $3::timestamptz, 1,
       $3::timestamptz
from generate_series(0, $4::int - 1) as n
cross join lateral (values ('api_requests', 'sum', (1 + n % 5000)::bigint), ('storage_used', 'max', (n % 700)::bigint))
  as r (resource_type, aggregation, quantity)
where r.resource_type = 'api_requests' or n % 3 = 0`;

interface LoadStep {
  step: string;
  ms: number;
}

const load = async (url: string): Promise<LoadStep[]> => {
  const steps: LoadStep[] = [];
  const timed = async (step: string, work: () => Promise<unknown>) => {
    const t0 = performance.now();
    await work();
    const ms = Math.round(performance.now() - t0);
    steps.push({ step, ms });
    console.log(`  ${step}: ${(ms / 1000).toFixed(1)} s`);
  };
  const setup = await connect(url);
  try {
    await timed('tenants and apps', async () => {
      for (const tenantId of tenantIds) {
        await setup.query(
          `insert into tenants (id, name, currency, time_zone, tax_rate, admin_user_id, status, created_at, updated_at)
           values ($1, $2, 'CNY', 'Asia/Shanghai', 0.06, $3, 'active', $4, $4)`,
          [tenantId, `Bench ${tenantId}`, userId, loadedAt],
        );
        await setup.query(
          `insert into apps (tenant_id, id, name, status, created_at, updated_at) values ($1, $2, 'Bench', 'active', $3, $3)`,
          [tenantId, appOf(tenantId), loadedAt],
        );
      }
    });
  } finally {
    await setup.end();
  }
  await timed(`records and lines (${tenantCount} x ${recordsPerTenant})`, () =>
    inParallel(tenantIds, loadConcurrency, async (tenantId) => {
      const client = await connect(url);
      try {
        await client.query(insertRecordsSql, [tenantId, appOf(tenantId), loadedAt, recordsPerTenant]);
        await client.query(insertLinesSql, [tenantId, recordsPerTenant]);
      } finally {
        await client.end();
      }
    }),
  );
  await timed(`credit transactions via ledger_post (${tenantCount} x ${transactionsPerTenant})`, () =>
    inParallel(tenantIds, loadConcurrency, async (tenantId) => {
      const client = await connect(url);
      try {
        for (let from = 1; from <= transactionsPerTenant; from += postingsPerStatement) {
          const to = Math.min(transactionsPerTenant, from + postingsPerStatement - 1);
          const { rows } = await client.query<{ posted: string }>(postSql, [tenantId, loadedAt, from, to]);
          if (Number(rows[0]?.posted) !== to - from + 1) throw new Error(`${tenantId}: a posting was refused`);
        }
      } finally {
        await client.end();
      }
    }),
  );
  await timed(`usage days (${tenantCount} x ${usageDaysPerTenant})`, () =>
    inParallel(tenantIds, loadConcurrency, async (tenantId) => {
      const client = await connect(url);
      try {
        await client.query(insertUsageSql, [tenantId, appOf(tenantId), loadedAt, usageDaysPerTenant]);
      } finally {
        await client.end();
      }
    }),
  );
  // This server runs without autovacuum: without it every scan would visit the heap.
  await timed('vacuum (analyze)', async () => {
    const client = await connect(url);
    try {
      await client.query(`vacuum (analyze) billing_records, billing_record_lines, ledger_transactions, ledger_entries,
                            ledger_accounts, usage_daily, tenants`);
    } finally {
      await client.end();
    }
  });
  return steps;
};

/**
 * Peak RSS and heap over a stretch of work, sampled on a timer, with a point a second (and the
 * bytes read by then): a bounded stream plateaus, a leak climbs with the bytes.
 */
const sampleMemory = (bytesSoFar: () => number) => {
  const startedAt = performance.now();
  let peakRss = process.memoryUsage().rss;
  let peakHeap = process.memoryUsage().heapUsed;
  let samples = 0;
  const timeline: { s: number; rssMb: number; heapMb: number; readMb: number }[] = [];
  const take = () => {
    const usage = process.memoryUsage();
    peakRss = Math.max(peakRss, usage.rss);
    peakHeap = Math.max(peakHeap, usage.heapUsed);
    samples += 1;
    const s = Math.floor((performance.now() - startedAt) / 1000);
    if (timeline.length <= s)
      timeline.push({ s, rssMb: mb(usage.rss), heapMb: mb(usage.heapUsed), readMb: mb(bytesSoFar()) });
  };
  const timer = setInterval(take, sampleEveryMs);
  return {
    stop: () => {
      clearInterval(timer);
      take();
      return { peakRss, peakHeap, samples, timeline };
    },
  };
};

interface Download {
  status: number;
  bytes: number;
  chunks: number;
  head: string;
  tail: string;
  ms: number;
  aborted: boolean;
}

/** Bytes read so far by the download under way, for the memory timeline. */
let bytesRead = 0;

/** POSTs the export and reads the body to its end (or `abortAfter` bytes), keeping only its ends. */
const download = (port: number, token: string, abortAfter = Number.POSITIVE_INFINITY): Promise<Download> =>
  new Promise((resolve, reject) => {
    const started = performance.now();
    const body = JSON.stringify({ user_id: userId });
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/internal/billing/export-user-data',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      },
      (res) => {
        let bytes = 0;
        let chunks = 0;
        let head = '';
        let tail = '';
        const finish = (aborted: boolean) =>
          resolve({
            status: res.statusCode ?? 0,
            bytes,
            chunks,
            head,
            tail,
            ms: performance.now() - started,
            aborted,
          });
        res.on('data', (chunk: Buffer) => {
          bytes += chunk.length;
          bytesRead = bytes;
          chunks += 1;
          if (head.length < 200) head += chunk.toString('utf8', 0, Math.min(chunk.length, 200));
          tail = (tail + chunk.toString('utf8', Math.max(0, chunk.length - 200))).slice(-200);
          if (bytes >= abortAfter) {
            req.destroy();
            finish(true);
          }
        });
        res.on('end', () => finish(false));
        res.on('error', (error) => (bytes >= abortAfter ? undefined : reject(error)));
      },
    );
    req.on('error', (error) => (abortAfter < Number.POSITIVE_INFINITY ? undefined : reject(error)));
    req.end(body);
  });

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const main = async (): Promise<void> => {
  const started = performance.now();
  const loadAtStart = loadAverages();
  const created = await createTestDatabase();
  if (created.url === undefined) throw new Error('expected a server database');
  const url = created.url;
  try {
    console.log(`loading ${tenantCount} tenants of ${userId}:`);
    const loadSteps = await load(url);
    const loadMs = loadSteps.reduce((sum, step) => sum + step.ms, 0);
    const expected = {
      billing_records: tenantCount * recordsPerTenant,
      credit_transactions: tenantCount * transactionsPerTenant,
      usage_stats: tenantCount * usageDaysPerTenant,
      credit_balance: tenantCount,
    };
    const tableRows = await created.db
      .selectNoFrom((eb) => [
        eb.selectFrom('billing_records').select(eb.fn.countAll<string>().as('n')).as('records'),
        eb.selectFrom('billing_record_lines').select(eb.fn.countAll<string>().as('n')).as('lines'),
        eb.selectFrom('ledger_transactions').select(eb.fn.countAll<string>().as('n')).as('transactions'),
        eb.selectFrom('ledger_entries').select(eb.fn.countAll<string>().as('n')).as('entries'),
        eb.selectFrom('usage_daily').select(eb.fn.countAll<string>().as('n')).as('usage_daily'),
      ])
      .executeTakeFirstOrThrow();
    await created.close();

    const clock = new ManualClock('2026-02-01T00:00:00Z');
    const handle = await openDatabase({ kind: 'server', url, pool: defaultPoolConfig });
    const app = await buildApp({
      database: handle,
      clock,
      tokens: createTokenVerifier({ secret, clock }),
      logLevel: 'silent',
      version: 'bench',
    });
    try {
      await app.listen({ host: '127.0.0.1', port: 0 });
      const { port } = app.server.address() as AddressInfo;
      const token = await mintToken(secret, { userId: 'svc_bench_export', roles: ['service'] }, clock);

      // Settle before measuring: the load's garbage is collected, and the RSS read is the idle one.
      await sleep(1_000);
      const before = process.memoryUsage();
      const sampler = sampleMemory(() => bytesRead);
      const result = await download(port, token);
      const memory = sampler.stop();
      if (result.status !== 200) throw new Error(`export: ${result.status} ${result.head}`);
      if (!result.head.startsWith('{"code":200') || !result.tail.endsWith('}')) {
        throw new Error(`the body does not look complete: ${result.head.slice(0, 80)} … ${result.tail.slice(-80)}`);
      }

      const audit = await handle.db
        .selectFrom('export_audit_log')
        .select(['id', 'event', 'row_counts'])
        .where('requested_by', '=', 'svc_bench_export')
        .execute();
      const completed = audit.find((row) => row.event === 'completed');
      const counts = (completed?.row_counts ?? {}) as Record<string, number>;
      for (const [kind, n] of Object.entries(expected)) {
        if (counts[kind] !== n) throw new Error(`exported ${counts[kind]} ${kind}, expected ${n}`);
      }
      const items = Object.values(counts).reduce((sum, n) => sum + n, 0);
      const lines = Number(tableRows.lines);
      const seconds = result.ms / 1000;

      // A client that goes away after the first megabyte: what does the audit log keep of it?
      const abortToken = await mintToken(secret, { userId: 'svc_bench_abort', roles: ['service'] }, clock);
      const aborted = await download(port, abortToken, abortAfterBytes);
      await sleep(2_000);
      const abortedEvents = (
        await handle.db
          .selectFrom('export_audit_log')
          .select('event')
          .where('requested_by', '=', 'svc_bench_abort')
          .orderBy('event')
          .execute()
      ).map((row) => row.event);

      const figures = {
        maxOldSpaceSizeMb: oldSpaceMb === null ? null : Number(oldSpaceMb),
        seconds: Number(seconds.toFixed(1)),
        bytes: result.bytes,
        mb: mb(result.bytes),
        chunks: result.chunks,
        items,
        itemsPerSecond: Math.round(items / seconds),
        rowsWithLinesPerSecond: Math.round((items + lines) / seconds),
        mbPerSecond: Number((mb(result.bytes) / seconds).toFixed(1)),
        rssBeforeMb: mb(before.rss),
        peakRssMb: mb(memory.peakRss),
        rssGrowthMb: mb(memory.peakRss - before.rss),
        heapBeforeMb: mb(before.heapUsed),
        peakHeapMb: mb(memory.peakHeap),
        samples: memory.samples,
        // Holding the body whole costs at least its bytes on top of the idle RSS (as one Buffer;
        // a JS string of it, or the objects it was built from, cost more).
        bufferedRssAtLeastMb: mb(before.rss + result.bytes),
      };
      console.log(
        `\nexport of ${items.toLocaleString('en')} items (+${lines.toLocaleString('en')} lines): ` +
          `${figures.seconds} s, ${figures.mb} MB, ${figures.itemsPerSecond.toLocaleString('en')} items/s, ` +
          `${figures.mbPerSecond} MB/s`,
      );
      console.log(
        `RSS before ${figures.rssBeforeMb} MB, peak ${figures.peakRssMb} MB (+${figures.rssGrowthMb} MB; ` +
          `heap ${figures.heapBeforeMb} → peak ${figures.peakHeapMb} MB); ` +
          `a buffered body would need ≥ ${figures.bufferedRssAtLeastMb} MB`,
      );
      console.log(
        `client gone after ${mb(aborted.bytes)} MB: audit events ${JSON.stringify(abortedEvents)}` +
          (abortedEvents.length < 2 ? ' (no end row: the export is left open in the log)' : ''),
      );

      const name = oldSpaceMb === null ? 'export-rss' : `export-rss-old-space-${oldSpaceMb}`;
      const out = writeResults(name, loadAtStart, {
        scale: {
          tenants: tenantCount,
          recordsPerTenant,
          transactionsPerTenant,
          usageDaysPerTenant,
          tableRows: Object.fromEntries(Object.entries(tableRows).map(([table, n]) => [table, Number(n)])),
        },
        loadMs,
        loadSteps,
        rowCounts: counts,
        export: figures,
        clientGoneAfterBytes: { bytes: aborted.bytes, auditEvents: abortedEvents },
        memoryTimeline: memory.timeline,
      });
      console.log(`figures written to ${out}`);
    } finally {
      await app.close();
      await handle.close();
    }
  } finally {
    await created.destroy();
  }
  console.log(`total run time: ${((performance.now() - started) / 1000).toFixed(1)} s`);
};

await main();
