/**
 * Filtered search over one tenant holding 1,000,000 finalised billing records, at 32 connections:
 * through the real server (its own process, listening on 127.0.0.1) against the same SQL sent
 * straight to PostgreSQL over `pg`.
 *
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres npm run bench -- --only=search [--quick]
 *
 * Runs on the shared volume (bench/volume.ts; loads its own when run alone). For each filter the
 * SQL the app sends is captured once (compiled by Kysely, with its parameters, through an
 * in-process app), then, closed loop at 32 connections for a few seconds each:
 *   - http:   GET /billing/records/{tenant}/search?… with a tenant token, over 32 keep-alive
 *             sockets to `billing serve` (pool of 32 database connections, scheduler off)
 *   - direct: the captured statements, in the same order, on a `pg` pool of 32 connections
 * first per filter, then all filters round robin (the headline). Every HTTP answer must be 200.
 * Writes bench/results/records-search.json.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { Agent, request } from 'node:http';
import { createServer } from 'node:net';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type {
  KyselyPlugin,
  PluginTransformQueryArgs,
  PluginTransformResultArgs,
  QueryResult,
  UnknownRow,
} from 'kysely';
import pg from 'pg';
import { systemClock } from '../src/core/clock.js';
import { defaultPoolConfig, openDatabase, type DatabaseHandle } from '../src/db/database.js';
import { noRateLimits } from '../src/config.js';
import { buildApp } from '../src/http/app.js';
import { createTokenVerifier, mintToken } from '../src/modules/auth/tokens.js';
import { loadAverages, run, warmUp, writeResults, type RunStats, type Send } from './measure.js';
import type { TenantSpec } from './records-search-load.js';
import { fmt, quickMode, requireServerUrl, serverFacts, table } from './support.js';
import { openVolume } from './volume.js';

requireServerUrl('records-search');
const quick = quickMode();
const connections = 32;
const filterSeconds = Number(process.env.BENCH_FILTER_SECONDS ?? (quick ? 1 : 2));
const mixSeconds = Number(process.env.BENCH_MIX_SECONDS ?? (quick ? 2 : 10));
const secret = 'bench-secret-that-is-at-least-32-bytes-long';
const repoRoot = new URL('..', import.meta.url).pathname;

/** The customer reference the loader gives record n of a tenant: a keyword that hits one record. */
const tokenOf = (tenant: TenantSpec, n: number): string =>
  `ref-${createHash('md5').update(`ref:${tenant.key}:${n}`).digest('hex').slice(0, 10)}`;

interface Filter {
  name: string;
  what: string;
  query: string;
}

const filtersOf = (big: TenantSpec): Filter[] => [
  { name: 'status-rare', what: 'status=failed (8%)', query: 'status=failed' },
  { name: 'app+status', what: 'one app (1/21) + status=paid', query: 'app_id=app_big_07&status=paid' },
  { name: 'month+status', what: 'March 2025 + paid', query: 'date_from=2025-03-01&date_to=2025-03-31&status=paid' },
  { name: 'amount', what: 'amount 100..200 (~5%)', query: 'min_amount=100&max_amount=200' },
  { name: 'kw-token', what: 'keyword: one reference', query: `search=${tokenOf(big, Math.ceil(big.records / 2))}` },
  {
    name: 'all-filters',
    what: 'app+status+H1+amount+keyword',
    query:
      'app_id=app_big_07&status=paid&date_from=2025-01-01&date_to=2025-06-30&min_amount=100&max_amount=2000&search=subscription',
  },
  { name: 'no-filter', what: 'no filter, page 1', query: '' },
];

interface Statement {
  sql: string;
  parameters: readonly unknown[];
}

/** Records the SQL the app sends (exactly as compiled, with its parameters) while switched on. */
class QueryCapture implements KyselyPlugin {
  active = false;
  readonly queries: Statement[] = [];

  constructor(private readonly database: DatabaseHandle) {}

  transformQuery({ node, queryId }: PluginTransformQueryArgs): PluginTransformQueryArgs['node'] {
    if (this.active) this.queries.push(this.database.db.getExecutor().compileQuery(node, queryId));
    return node;
  }

  transformResult({ result }: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    return Promise.resolve(result);
  }
}

/** The statements the app runs for each filter, captured from an in-process app on the same database. */
const captureStatements = async (url: string, path: (f: Filter) => string, filters: Filter[], token: string) => {
  const database = await openDatabase({ kind: 'server', url, pool: defaultPoolConfig });
  const capture = new QueryCapture(database);
  const app = await buildApp({
    database: { ...database, db: database.db.withPlugin(capture) },
    clock: systemClock,
    tokens: createTokenVerifier({ secret, clock: systemClock }),
    logLevel: 'silent',
    version: 'bench',
    rateLimits: noRateLimits,
  });
  try {
    const captured = new Map<string, { statements: Statement[]; total: number }>();
    for (const filter of filters) {
      capture.queries.length = 0;
      capture.active = true;
      const response = await app.inject({
        method: 'GET',
        url: path(filter),
        headers: { authorization: `Bearer ${token}` },
      });
      capture.active = false;
      if (response.statusCode !== 200) throw new Error(`${filter.name}: ${response.statusCode} ${response.body}`);
      // Every statement the request sends (the tenant lookup too): the gap left is HTTP and Node.
      captured.set(filter.name, { statements: [...capture.queries], total: response.json<{ total: number }>().total });
    }
    return captured;
  } finally {
    await app.close();
    await database.close();
  }
};

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() =>
        typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no free port')),
      );
    });
  });

/** `billing serve` in its own process, as in production; resolves once /readyz answers. */
const startServer = async (url: string, port: number): Promise<ChildProcess> => {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'serve'], {
    cwd: repoRoot,
    stdio: ['ignore', 'ignore', 'inherit'],
    env: {
      ...process.env,
      DATABASE_URL: url,
      DATABASE_POOL_MAX: String(connections),
      PORT: String(port),
      HOST: '127.0.0.1',
      BILLING_JWT_SECRET: secret,
      BILLING_SCHEDULER_INTERVAL_SECONDS: '0',
      // The bench loads the API from one token: limits would measure the limiter, not the API.
      BILLING_RATE_LIMITS: 'off',
    },
  });
  for (let waited = 0; waited < 60_000; waited += 200) {
    if (child.exitCode !== null) throw new Error(`billing serve exited with ${child.exitCode}`);
    const ready = await fetch(`http://127.0.0.1:${port}/readyz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) return child;
    await sleep(200);
  }
  child.kill('SIGKILL');
  throw new Error('billing serve did not become ready in 60 s');
};

const get = (agent: Agent, port: number, path: string, token: string): Promise<{ status: number; body: string }> =>
  new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path, agent, headers: { authorization: `Bearer ${token}` } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });

/** Round robin over the items: each call of the returned function takes the next. */
const roundRobin = <T>(items: T[]): (() => T) => {
  let next = 0;
  return () => items[next++ % items.length] as T;
};

interface Comparison {
  name: string;
  what: string;
  total: number | null;
  http: RunStats;
  direct: RunStats;
}

const main = async (): Promise<void> => {
  const started = performance.now();
  const loadAtStart = loadAverages();
  const volume = await openVolume(quick);
  const { big } = volume.spec;
  const filters = filtersOf(big);
  const path = (filter: Filter) => `/billing/records/${big.id}/search?${filter.query}`;
  const token = await mintToken(
    secret,
    { userId: volume.spec.exportUserId, tenantId: big.id, roles: ['tenant_viewer'] },
    systemClock,
    3600,
  );
  const port = await freePort();
  const agent = new Agent({ keepAlive: true, maxSockets: connections });
  const pool = new pg.Pool({ connectionString: volume.url, max: connections, application_name: 'bench-direct' });
  let server: ChildProcess | undefined;
  try {
    const facts = await serverFacts(volume.url);
    const captured = await captureStatements(volume.url, path, filters, token);
    server = await startServer(volume.url, port);
    const capMs = (seconds: number) => seconds * 1000;
    const httpSend =
      (next: () => Filter): Send =>
      async () => {
        const filter = next();
        const response = await get(agent, port, path(filter), token);
        if (response.status !== 200)
          throw new Error(`${filter.name}: ${response.status} ${response.body.slice(0, 300)}`);
      };
    const directSend =
      (next: () => Filter): Send =>
      async () => {
        for (const statement of captured.get(next().name)?.statements ?? []) {
          await pool.query(statement.sql, statement.parameters as unknown[]);
        }
      };
    // Fill both pools and warm the caches before anything is timed.
    await warmUp(httpSend(roundRobin(filters)), connections * 2, 10_000);
    await warmUp(directSend(roundRobin(filters)), connections * 2, 10_000);

    const compare = async (name: string, what: string, chosen: Filter[], seconds: number): Promise<Comparison> => {
      const http = await run(httpSend(roundRobin(chosen)), Number.MAX_SAFE_INTEGER, connections, capMs(seconds));
      const direct = await run(directSend(roundRobin(chosen)), Number.MAX_SAFE_INTEGER, connections, capMs(seconds));
      const total = chosen.length === 1 ? (captured.get(chosen[0]?.name ?? '')?.total ?? null) : null;
      console.log(
        `  ${name.padEnd(13)} ${what.padEnd(30)} http ${fmt(http.rps)} req/s p50 ${fmt(http.p50Ms, 1)} p99 ${fmt(http.p99Ms, 1)} ms` +
          ` | direct ${fmt(direct.rps)} req/s p50 ${fmt(direct.p50Ms, 1)} p99 ${fmt(direct.p99Ms, 1)} ms`,
      );
      return { name, what, total, http, direct };
    };
    const perFilter: Comparison[] = [];
    for (const filter of filters) perFilter.push(await compare(filter.name, filter.what, [filter], filterSeconds));
    const mix = await compare('mix', `all ${filters.length} filters in turn`, filters, mixSeconds);

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
    ]);
    console.log(
      `\n${table(
        ['filter', 'what', 'total', 'http req/s', 'p50', 'p99', 'direct req/s', 'p50', 'p99', 'http/direct'],
        rows,
      )}\n(${connections} connections, closed loop; ms; ${big.records} records in the tenant)\n`,
    );
    const out = writeResults(
      'records-search',
      loadAtStart,
      [
        {
          measure: `search, ${connections} connections, ${filters.length} filters in turn`,
          value: mix.http.rps,
          unit: 'req/s',
          better: 'higher',
          note: `p50 ${fmt(mix.http.p50Ms, 1)} / p99 ${fmt(mix.http.p99Ms, 1)} ms`,
          baseline: {
            what: `the same SQL over pg (p50 ${fmt(mix.direct.p50Ms, 1)} / p99 ${fmt(mix.direct.p99Ms, 1)} ms)`,
            value: mix.direct.rps,
          },
        },
      ],
      { server: facts, records: big.records, connections, filterSeconds, mixSeconds, perFilter, mix },
    );
    console.log(`figures written to ${out}; ${((performance.now() - started) / 1000).toFixed(1)} s`);
  } finally {
    server?.kill('SIGTERM');
    agent.destroy();
    await pool.end();
    await volume.release();
  }
};

await main();
