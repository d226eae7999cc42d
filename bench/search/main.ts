/**
 * Filtered search over one tenant holding 1,000,000 finalised billing records, at 32 connections:
 * through the real server (its own process, listening on 127.0.0.1) against the same SQL sent
 * straight to PostgreSQL over `pg`.
 *
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres npm run bench -- --only=search [--quick]
 *
 * Runs on the shared volume (bench/lib/volume.ts; loads its own when run alone). For each filter
 * (filters.ts) the SQL the app sends is captured once (capture.ts: compiled by Kysely, with its
 * parameters, through an in-process app), then, closed loop at 32 connections for a few seconds each:
 *   - http:   GET /billing/records/{tenant}/search?… with a tenant token, over 32 keep-alive
 *             sockets to `billing serve` (pool of 32 database connections, scheduler off)
 *   - direct: the captured statements, in the same order, on a `pg` pool of 32 connections
 *   - naive:  the same, with the total counted row by row (`count(*)` of the page's filter), as
 *             search did before its counters (migration 0016); checked once against the app's total
 * first per filter, then the first seven filters round robin (the headline). Every HTTP answer must be 200.
 * Writes bench/results/records-search.json.
 *
 * Knobs (optional): BENCH_FILTER_SECONDS=2 per filter, BENCH_MIX_SECONDS=10 for the mix;
 * --quick: 1 and 2 s.
 */
import type { ChildProcess } from 'node:child_process';
import { Agent } from 'node:http';
import pg from 'pg';
import { systemClock } from '../../src/core/clock.js';
import { bearer, freePort, startServer } from '../lib/app.js';
import { get } from '../lib/http.js';
import { roundRobin, run, warmUp, type RunStats, type Send } from '../lib/closed-loop.js';
import { loadAverages } from '../lib/cpu.js';
import { writeResults } from '../lib/results.js';
import { quickMode, requireServerUrl, serverFacts } from '../lib/server.js';
import { fmt, table } from '../lib/table.js';
import { stopwatch } from '../lib/timing.js';
import { openVolume } from '../lib/volume.js';
import { captureStatements } from './capture.js';
import { filtersOf, type Filter } from './filters.js';

requireServerUrl('records-search');
const quick = quickMode();
const connections = 32;
const filterSeconds = Number(process.env.BENCH_FILTER_SECONDS ?? (quick ? 1 : 2));
const mixSeconds = Number(process.env.BENCH_MIX_SECONDS ?? (quick ? 2 : 10));

interface Comparison {
  name: string;
  what: string;
  total: number | null;
  http: RunStats;
  direct: RunStats;
  naive: RunStats;
}

const main = async (): Promise<void> => {
  const elapsed = stopwatch();
  const loadAtStart = loadAverages();
  const volume = await openVolume(quick);
  const { big } = volume.spec;
  const filters = filtersOf(big);
  const path = (filter: Filter) => `/billing/records/${big.id}/search?${filter.query}`;
  const authorization = await bearer(
    { userId: volume.spec.exportUserId, tenantId: big.id, roles: ['tenant_viewer'] },
    systemClock,
  );
  const port = await freePort();
  const agent = new Agent({ keepAlive: true, maxSockets: connections });
  const pool = new pg.Pool({ connectionString: volume.url, max: connections, application_name: 'bench-direct' });
  let server: ChildProcess | undefined;
  try {
    const facts = await serverFacts(volume.url);
    const captured = await captureStatements(volume.url, path, filters, authorization);
    server = await startServer(volume.url, port, connections);
    const capMs = (seconds: number) => seconds * 1000;
    const httpSend =
      (next: () => Filter): Send =>
      async () => {
        const filter = next();
        const response = await get(agent, port, path(filter), { authorization });
        if (response.status !== 200)
          throw new Error(`${filter.name}: ${response.status} ${response.body.toString('utf8', 0, 300)}`);
      };
    const pgSend =
      (next: () => Filter, which: 'statements' | 'naive'): Send =>
      async () => {
        for (const statement of captured.get(next().name)?.[which] ?? []) {
          await pool.query(statement.sql, statement.parameters as unknown[]);
        }
      };
    const directSend = (next: () => Filter): Send => pgSend(next, 'statements');
    const naiveSend = (next: () => Filter): Send => pgSend(next, 'naive');
    // Fill both pools and warm the caches before anything is timed.
    await warmUp(httpSend(roundRobin(filters)), connections * 2, 10_000);
    await warmUp(directSend(roundRobin(filters)), connections * 2, 10_000);
    await warmUp(naiveSend(roundRobin(filters)), connections * 2, 10_000);

    const compare = async (name: string, what: string, chosen: Filter[], seconds: number): Promise<Comparison> => {
      const http = await run(httpSend(roundRobin(chosen)), Number.MAX_SAFE_INTEGER, connections, capMs(seconds));
      const direct = await run(directSend(roundRobin(chosen)), Number.MAX_SAFE_INTEGER, connections, capMs(seconds));
      const naive = await run(naiveSend(roundRobin(chosen)), Number.MAX_SAFE_INTEGER, connections, capMs(seconds));
      const total = chosen.length === 1 ? (captured.get(chosen[0]?.name ?? '')?.total ?? null) : null;
      console.log(
        `  ${name.padEnd(13)} ${what.padEnd(30)} http ${fmt(http.rps)} req/s p50 ${fmt(http.p50Ms, 1)} p99 ${fmt(http.p99Ms, 1)} ms` +
          ` | direct ${fmt(direct.rps)} req/s p99 ${fmt(direct.p99Ms, 1)} ms | naive ${fmt(naive.rps)} req/s p99 ${fmt(naive.p99Ms, 1)} ms`,
      );
      return { name, what, total, http, direct, naive };
    };
    const perFilter: Comparison[] = [];
    for (const filter of filters) perFilter.push(await compare(filter.name, filter.what, [filter], filterSeconds));
    const mixed = filters.filter((filter) => filter.aloneOnly !== true);
    const mix = await compare('mix', `the first ${mixed.length} filters in turn`, mixed, mixSeconds);

    const rows = [...perFilter, mix].map((c) => [
      c.name,
      c.what,
      c.total === null ? '-' : String(c.total),
      fmt(c.http.rps),
      fmt(c.http.p50Ms, 1),
      fmt(c.http.p99Ms, 1),
      fmt(c.direct.rps),
      fmt(c.direct.p50Ms, 1),
      fmt(c.direct.p99Ms, 1),
      `${(c.http.rps / c.direct.rps).toFixed(2)}x`,
      fmt(c.naive.rps),
      fmt(c.naive.p50Ms, 1),
      fmt(c.naive.p99Ms, 1),
    ]);
    console.log(
      `\n${table(
        [
          'filter',
          'what',
          'total',
          'http req/s',
          'p50',
          'p99',
          'direct req/s',
          'p50',
          'p99',
          'http/direct',
          'naive req/s',
          'p50',
          'p99',
        ],
        rows,
      )}\n(${connections} connections, closed loop; ms; ${big.records} records in the tenant; naive: the total by count(*), sent directly)\n`,
    );
    const out = writeResults(
      'records-search',
      loadAtStart,
      [
        {
          measure: `search, ${connections} connections, ${mixed.length} filters in turn`,
          value: mix.http.rps,
          unit: 'req/s',
          better: 'higher',
          note: `p50 ${fmt(mix.http.p50Ms, 1)} / p99 ${fmt(mix.http.p99Ms, 1)} ms; totals by count(*) sent directly: ${fmt(mix.naive.rps)} req/s, p99 ${fmt(mix.naive.p99Ms, 1)} ms`,
          baseline: {
            what: `the same SQL over pg (p50 ${fmt(mix.direct.p50Ms, 1)} / p99 ${fmt(mix.direct.p99Ms, 1)} ms)`,
            value: mix.direct.rps,
          },
        },
      ],
      { server: facts, records: big.records, connections, filterSeconds, mixSeconds, perFilter, mix },
    );
    console.log(`figures written to ${out}; ${elapsed.seconds().toFixed(1)} s`);
  } finally {
    server?.kill('SIGTERM');
    agent.destroy();
    await pool.end();
    await volume.release();
  }
};

await main();
