/**
 * Credit-ledger write throughput: postings per second, against pgbench's tpcb-like on the same server.
 *
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres npm run bench -- --only=ledger [--quick]
 *
 * Runs on the shared volume (bench/lib/volume.ts; loads its own when run alone), whose ledger already
 * holds hundreds of thousands of transactions. Adds 100 tenants and one hot tenant through the
 * API, each funded (setup.ts), and measures closed-loop postings at 1, 8 and 32 clients for ~10 s
 * each (postings.ts):
 *   - service: postCreditTransaction in db.transaction() (a pool of as many connections as clients)
 *   - http:    POST /admin/credits/… through app.inject with a fresh Idempotency-Key (same pool)
 * each spread over the 100 tenants and on the one hot tenant. Two postings in three are a promo
 * credit of 1.00, one in three a manual debit of 1.00. The baseline is pgbench's built-in
 * tpcb-like script (`pgbench -i -s 10`, then `-c N -j 2 -T 10`) on a scratch database (pgbench.ts).
 * Prints a table with the ratio of each figure to pgbench at the same client count, checks the
 * books of the whole ledger, writes bench/results/ledger-throughput.json and drops the scratch database.
 *
 * Knobs (optional): BENCH_SECONDS=10 per run, BENCH_CLIENTS=1,8,32, BENCH_PATHS=service,http;
 * --quick: 2 s at 4 clients.
 */
import { ManualClock } from '../../src/core/clock.js';
import { defaultPoolConfig, openDatabase } from '../../src/db/database.js';
import { bearer, buildBenchApp } from '../lib/app.js';
import { writeResults, type Headline } from '../lib/results.js';
import { announce } from '../lib/scenario.js';
import { numbersFromEnv, quickMode, requireServerUrl } from '../lib/server.js';
import { fmt, table } from '../lib/table.js';
import { stopwatch } from '../lib/timing.js';
import { openVolume } from '../lib/volume.js';
import { runPgbench } from './pgbench.js';
import { measurePostings, spreadTenants, type LedgerResult, type Path } from './postings.js';
import { checkBooks, createFundedTenants } from './setup.js';

const serverUrl = requireServerUrl('ledger-throughput');
const quick = quickMode();
const runSeconds = Number(process.env.BENCH_SECONDS ?? (quick ? 2 : 10));
const clientCounts = numbersFromEnv('BENCH_CLIENTS', quick ? '4' : '1,8,32');
const paths = (process.env.BENCH_PATHS ?? 'service,http').split(',').map((p) => p.trim()) as Path[];

const main = async (): Promise<void> => {
  const elapsed = stopwatch();
  const { facts, loadAtStart } = await announce(serverUrl, `${runSeconds} s per run`);

  const pgbench = await runPgbench(serverUrl, clientCounts, runSeconds);

  // On the shared volume: a large ledger is already there, and the books are checked over all of it.
  const volume = await openVolume(quick);
  const url = volume.url;
  const created = await openDatabase({ kind: 'server', url, pool: defaultPoolConfig });
  const clock = new ManualClock('2026-01-15T00:00:00Z');
  const admin = { authorization: await bearer({ userId: 'usr_bench', roles: ['platform_admin'] }, clock) };
  const results: LedgerResult[] = [];
  let checked: Awaited<ReturnType<typeof checkBooks>> | undefined;
  try {
    await createFundedTenants(created, clock, admin);
    for (const clients of clientCounts) {
      const handle = await openDatabase({ kind: 'server', url, pool: { ...defaultPoolConfig, max: clients } });
      const app = await buildBenchApp(handle, clock);
      await app.ready();
      try {
        for (const path of paths) {
          for (const spread of ['spread', 'hot'] as const) {
            results.push(await measurePostings({ handle, app, clock, admin, path, spread, clients, runSeconds }));
          }
        }
      } finally {
        await app.close();
        await handle.close();
      }
    }
    checked = await checkBooks(url);
  } finally {
    await created.close();
    await volume.release();
  }

  const baseline = new Map(pgbench.results.map((r) => [r.clients, r.tps]));
  const ratio = (tps: number, clients: number) => `${fmt(tps / (baseline.get(clients) ?? Number.NaN), 2)}x`;
  const header = ['path', 'tenants', ...clientCounts.flatMap((c) => [`c${c} tps`, `c${c} vs pgbench`])];
  const rows: string[][] = [
    ['pgbench', 'tpcb-like -s 10', ...clientCounts.flatMap((c) => [fmt(baseline.get(c) ?? Number.NaN), '1.00x'])],
  ];
  for (const path of paths) {
    for (const spread of ['spread', 'hot'] as const) {
      rows.push([
        path === 'service' ? 'service (db.transaction)' : 'http (app.inject + idempotency)',
        spread === 'spread' ? `${spreadTenants} tenants` : '1 hot tenant',
        ...clientCounts.flatMap((c) => {
          const r = results.find((x) => x.path === path && x.spread === spread && x.clients === c);
          return r === undefined ? ['-', '-'] : [fmt(r.tps), ratio(r.tps, c)];
        }),
      ]);
    }
  }
  console.log(`\n${table(header, rows)}\n(committed transactions per second; ${runSeconds} s per run, closed loop)\n`);
  const books = checked?.books;
  console.log(`books after the runs: ${JSON.stringify(books)}`);
  // A posting that errored is not a figure: the run is wrong, not slow.
  const failed = results.filter((r) => r.errors > 0);
  if (failed.length > 0) throw new Error(`postings failed: ${failed.map((r) => r.errorSamples[0]).join(' | ')}`);
  if ((checked?.broken.length ?? 0) > 0) {
    throw new Error(`the books do not hold after the runs: ${JSON.stringify(books)}`);
  }

  const headlines: Headline[] = results.map((r) => ({
    measure: `${r.path === 'service' ? 'postings in process' : 'postings over HTTP'}, ${
      r.spread === 'spread' ? `${spreadTenants} tenants` : 'one hot tenant'
    }, ${r.clients} clients`,
    value: r.tps,
    unit: 'tx/s',
    better: 'higher',
    note: `p50 ${fmt(r.stats.p50Ms, 1)} / p99 ${fmt(r.stats.p99Ms, 1)} ms`,
    baseline: { what: `pgbench tpcb-like -c ${r.clients}`, value: baseline.get(r.clients) ?? Number.NaN },
  }));
  const out = writeResults('ledger-throughput', loadAtStart, headlines, {
    server: facts,
    runSeconds,
    clientCounts,
    workload: 'two in three postings a promo credit of 1.00, one in three a manual debit of 1.00',
    pgbench,
    ledger: results,
    books,
  });
  console.log(`figures written to ${out}`);
  console.log(`total run time: ${elapsed.seconds().toFixed(1)} s`);
};

await main();
