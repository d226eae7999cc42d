/**
 * Credit-ledger write throughput: postings per second, against pgbench's tpcb-like on the same server.
 *
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres npm run bench -- --only=ledger [--quick]
 *
 * Runs on the shared volume (bench/volume.ts; loads its own when run alone), whose ledger already
 * holds hundreds of thousands of transactions. Adds 100 tenants and one hot tenant through the
 * API, each funded, and measures closed-loop postings at 1, 8 and 32 clients for ~10 s each:
 *   - service: postCreditTransaction in db.transaction() (a pool of as many connections as clients)
 *   - http:    POST /admin/credits/… through app.inject with a fresh Idempotency-Key (same pool)
 * each spread over the 100 tenants and on the one hot tenant. Two postings in three are a promo
 * credit of 1.00, one in three a manual debit of 1.00. The baseline is pgbench's built-in
 * tpcb-like script (`pgbench -i -s 10`, then `-c N -j 2 -T 10`) on a scratch database. Prints a
 * table with the ratio of each figure to pgbench at the same client count, checks the books of the
 * whole ledger, writes bench/results/ledger-throughput.json and drops the scratch database.
 *
 * Knobs (optional): BENCH_SECONDS=10 per run, BENCH_CLIENTS=1,8,32, BENCH_PATHS=service,http;
 * --quick: 2 s at 4 clients.
 */
import { execFile } from 'node:child_process';
import { cpus } from 'node:os';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { sql } from 'kysely';
import { ManualClock } from '../src/core/clock.js';
import { randomToken } from '../src/core/ids.js';
import { defaultPoolConfig, openDatabase, type DatabaseHandle } from '../src/db/database.js';
import { noRateLimits } from '../src/config.js';
import { buildApp, type Api } from '../src/http/app.js';
import { createTokenVerifier, mintToken } from '../src/modules/auth/tokens.js';
import { postCreditTransaction, type CreditMovement } from '../src/modules/credit-ledger/post-credit-transaction.js';
import { loadAverages, run, warmUp, writeResults, type Headline, type RunStats } from './measure.js';
import { databaseUrl, fmt, quickMode, requireServerUrl, serverFacts, table, withClient } from './support.js';
import { openVolume } from './volume.js';

const serverUrl = requireServerUrl('ledger-throughput');
const quick = quickMode();
const runSeconds = Number(process.env.BENCH_SECONDS ?? (quick ? 2 : 10));
const clientCounts = (process.env.BENCH_CLIENTS ?? (quick ? '4' : '1,8,32')).split(',').map((n) => Number(n.trim()));
const paths = (process.env.BENCH_PATHS ?? 'service,http').split(',').map((p) => p.trim()) as Path[];
const warmUpCapMs = 1_000;
const spreadTenants = 100;
const secret = 'bench-secret-that-is-at-least-32-bytes-long';
const hotTenant = 'tnt_bench_hot';
const tenantIds = Array.from({ length: spreadTenants }, (_, i) => `tnt_bench_${String(i).padStart(3, '0')}`);

const execFileAsync = promisify(execFile);

interface PgbenchResult {
  clients: number;
  threads: number;
  tps: number;
  transactions: number;
  latencyMs: number;
  failed: number;
}

/** pgbench's tpcb-like at each client count on a scratch database of scale 10, dropped afterwards. */
const runPgbench = async (): Promise<{ initMs: number; results: PgbenchResult[] }> => {
  const name = `ledger_bench_pgbench_${randomToken(8)}`;
  await withClient(serverUrl, (client) => client.query(`create database ${name}`));
  const url = databaseUrl(serverUrl, name);
  try {
    const t0 = performance.now();
    await execFileAsync('pgbench', ['-i', '-s', '10', '-q', url]);
    const initMs = performance.now() - t0;
    console.log(`pgbench -i -s 10: ${fmt(initMs / 1000, 1)} s`);
    const results: PgbenchResult[] = [];
    for (const clients of clientCounts) {
      const { stdout } = await execFileAsync('pgbench', [
        '-c',
        String(clients),
        '-j',
        '2',
        '-T',
        String(runSeconds),
        '-b',
        'tpcb-like',
        url,
      ]);
      const number = (pattern: RegExp) => Number(pattern.exec(stdout)?.[1] ?? Number.NaN);
      const result: PgbenchResult = {
        clients,
        // pgbench runs no more threads than clients: -c 1 -j 2 is one thread.
        threads: number(/number of threads: (\d+)/),
        tps: number(/tps = ([\d.]+)/),
        transactions: number(/number of transactions actually processed: (\d+)/),
        latencyMs: number(/latency average = ([\d.]+) ms/),
        failed: number(/number of failed transactions: (\d+)/) || 0,
      };
      if (!Number.isFinite(result.tps)) throw new Error(`could not read pgbench's tps from:\n${stdout}`);
      results.push(result);
      console.log(`  pgbench tpcb-like -c ${clients} -j 2 (${result.threads} threads): ${fmt(result.tps)} tps`);
    }
    return { initMs, results };
  } finally {
    await withClient(serverUrl, (client) => client.query(`drop database if exists ${name} with (force)`));
  }
};

type Path = 'service' | 'http';
type Spread = 'spread' | 'hot';

interface LedgerResult {
  path: Path;
  spread: Spread;
  clients: number;
  /** Committed postings per second (refusals and errors excluded). */
  tps: number;
  postings: number;
  refused: number;
  errors: number;
  errorSamples: string[];
  stats: RunStats;
}

/** Chain, zero-sum and cached-head checks over the whole ledger, as the concurrency test makes them. */
const checkBooks = (url: string) =>
  withClient(url, async (client) => {
    const count = async (text: string) => Number((await client.query<{ n: string }>(text)).rows[0]?.n ?? Number.NaN);
    return {
      transactions: await count(`select count(*) as n from ledger_transactions`),
      unbalanced: await count(`select count(*) as n from (select 1 from ledger_entries
        group by tenant_id, transaction_id having sum(amount) <> 0 or count(*) <> 2) x`),
      chainBreaks: await count(`select count(*) as n from (
        select account_version, amount, balance_after,
               row_number() over w as position, lag(balance_after, 1, 0::bigint) over w as previous_balance
          from ledger_entries window w as (partition by tenant_id, account_id order by account_version)) c
        where account_version <> position or balance_after <> previous_balance + amount`),
      staleHeads: await count(`select count(*) as n from ledger_accounts a
        left join lateral (select account_version, balance_after from ledger_entries e
          where e.tenant_id = a.tenant_id and e.account_id = a.id order by account_version desc limit 1) h on true
        where a.version <> coalesce(h.account_version, 0) or a.balance <> coalesce(h.balance_after, 0)`),
      deadlocks: await count(`select deadlocks as n from pg_stat_database where datname = current_database()`),
    };
  });

const main = async (): Promise<void> => {
  const started = performance.now();
  const loadAtStart = loadAverages();
  const facts = await serverFacts(serverUrl);
  console.log(`PostgreSQL ${facts.server_version}, ${cpus().length} CPUs, ${runSeconds} s per run`);

  const pgbench = await runPgbench();

  // On the shared volume: a large ledger is already there, and the books are checked over all of it.
  const volume = await openVolume(quick);
  const url = volume.url;
  const created = await openDatabase({ kind: 'server', url, pool: defaultPoolConfig });
  const clock = new ManualClock('2026-01-15T00:00:00Z');
  const tokens = createTokenVerifier({ secret, clock });
  const admin = {
    authorization: `Bearer ${await mintToken(secret, { userId: 'usr_bench', roles: ['platform_admin'] }, clock)}`,
  };
  const results: LedgerResult[] = [];
  let books: Awaited<ReturnType<typeof checkBooks>> | undefined;
  try {
    // Tenants through the API; each funded with 1,000,000.00 so the debits always go through.
    const setupApp = await buildApp({
      database: created,
      clock,
      tokens,
      logLevel: 'silent',
      version: 'bench',
      rateLimits: noRateLimits,
    });
    await setupApp.ready();
    for (const tenantId of [...tenantIds, hotTenant]) {
      const response = await setupApp.inject({
        method: 'POST',
        url: '/admin/tenants',
        headers: admin,
        payload: { tenant_id: tenantId, name: `Bench ${tenantId}`, admin_user_id: 'usr_bench', currency: 'CNY' },
      });
      if (response.statusCode !== 201) throw new Error(`tenant ${tenantId}: ${response.statusCode} ${response.body}`);
      const funded = await created.db.transaction().execute((trx) =>
        postCreditTransaction(
          trx,
          clock,
          { tenantId },
          {
            type: 'credit',
            amount: 100_000_000n,
            source: 'top_up',
            sourceId: 'bench_funding',
            remark: 'bench funding',
            currency: 'CNY',
          },
        ),
      );
      if (!funded.ok) throw new Error(`funding ${tenantId}: ${funded.error.message}`);
    }
    await setupApp.close();
    await sql`vacuum analyze`.execute(created.db);

    for (const clients of clientCounts) {
      const handle: DatabaseHandle = await openDatabase({
        kind: 'server',
        url,
        pool: { ...defaultPoolConfig, max: clients },
      });
      const app: Api = await buildApp({
        database: handle,
        clock,
        tokens,
        logLevel: 'silent',
        version: 'bench',
        rateLimits: noRateLimits,
      });
      await app.ready();
      try {
        for (const path of paths) {
          for (const spread of ['spread', 'hot'] as const) {
            let seq = 0;
            let refused = 0;
            let errors = 0;
            const errorSamples: string[] = [];
            const noteError = (what: string) => {
              errors += 1;
              if (errorSamples.length < 5) errorSamples.push(what);
            };
            const send = async (): Promise<void> => {
              seq += 1;
              const n = seq;
              const tenantId = spread === 'hot' ? hotTenant : tenantIds[n % spreadTenants]!;
              const debit = n % 3 === 0;
              if (path === 'service') {
                const movement: CreditMovement = debit
                  ? {
                      type: 'debit',
                      amount: 100n,
                      source: 'manual_adjust',
                      sourceId: null,
                      remark: 'bench debit',
                      currency: 'CNY',
                    }
                  : {
                      type: 'credit',
                      amount: 100n,
                      source: 'promo',
                      sourceId: null,
                      remark: 'bench credit',
                      currency: 'CNY',
                    };
                try {
                  const result = await handle.db
                    .transaction()
                    .execute((trx) => postCreditTransaction(trx, clock, { tenantId }, movement));
                  if (!result.ok) refused += 1;
                } catch (error) {
                  noteError(`${(error as { code?: string }).code ?? ''} ${(error as Error).message}`);
                }
                return;
              }
              const response = await app.inject({
                method: 'POST',
                url: `/admin/credits/${tenantId}/${debit ? 'adjust' : 'promo'}`,
                headers: { ...admin, 'idempotency-key': `bench-${path}-${spread}-${clients}-${n}` },
                payload: debit ? { type: 'debit', amount: 1, remark: 'bench debit' } : { amount: 1, remark: 'bench' },
              });
              if (response.statusCode === 422) refused += 1;
              else if (response.statusCode !== 201) noteError(`${response.statusCode} ${response.body.slice(0, 200)}`);
            };
            await warmUp(send, 50, warmUpCapMs);
            refused = 0;
            errors = 0;
            errorSamples.length = 0;
            const stats = await run(send, Number.MAX_SAFE_INTEGER, clients, runSeconds * 1000);
            const postings = stats.requests - refused - errors;
            const result: LedgerResult = {
              path,
              spread,
              clients,
              tps: Number(((postings * 1000) / stats.elapsedMs).toFixed(1)),
              postings,
              refused,
              errors,
              errorSamples,
              stats,
            };
            results.push(result);
            console.log(
              `  ${path.padEnd(7)} ${spread.padEnd(6)} c${String(clients).padEnd(2)} ${fmt(result.tps).padStart(7)} tps` +
                `  p50 ${fmt(stats.p50Ms, 1)} p99 ${fmt(stats.p99Ms, 1)} ms` +
                (refused + errors > 0 ? `  refused ${refused} errors ${errors} ${errorSamples.join(' | ')}` : ''),
            );
          }
        }
      } finally {
        await app.close();
        await handle.close();
      }
    }
    books = await checkBooks(url);
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
  console.log(`books after the runs: ${JSON.stringify(books)}`);
  // A posting that errored is not a figure: the run is wrong, not slow.
  const failed = results.filter((r) => r.errors > 0);
  if (failed.length > 0) throw new Error(`postings failed: ${failed.map((r) => r.errorSamples[0]).join(' | ')}`);
  if (books !== undefined && (books.unbalanced > 0 || books.chainBreaks > 0 || books.staleHeads > 0)) {
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
  console.log(`total run time: ${((performance.now() - started) / 1000).toFixed(1)} s`);
};

await main();
