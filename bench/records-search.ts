/**
 * Filtered search over one tenant holding 1,000,000 finalised billing records, through the real app.
 *
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres npm run bench:records
 *
 * Creates a fresh migrated database on that server (as the tests do), loads it, measures every
 * scenario sequentially and at concurrency 8, EXPLAINs the slowest, prints a table, writes
 * bench/results/records-search.json and drops the database.
 *
 * Knobs for working on the indexes (all optional):
 *   BENCH_KEEP_DATABASE=1         keep the loaded database and print its URL
 *   BENCH_REUSE_DATABASE=<url>    measure a database kept earlier: no load, pending migrations run, never dropped
 *   BENCH_SCENARIOS=a,b           only these scenarios
 *   BENCH_REQUESTS=200            requests per run
 */
import { createHash } from 'node:crypto';
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import type {
  KyselyPlugin,
  PluginTransformQueryArgs,
  PluginTransformResultArgs,
  QueryResult,
  UnknownRow,
} from 'kysely';
import pg from 'pg';
import { ManualClock } from '../src/core/clock.js';
import { defaultPoolConfig, openDatabase, type DatabaseHandle } from '../src/db/database.js';
import { migrateToLatest } from '../src/db/migrate.js';
import { buildApp, type Api } from '../src/http/app.js';
import { createTokenVerifier, mintToken } from '../src/modules/auth/tokens.js';
import { createTestDatabase } from '../src/testing/test-database.js';
import { loadAverages, run, warmUp, writeResults, type RunStats } from './measure.js';
import { loadBenchData, type LoadTimings, type TenantSpec } from './records-search-load.js';

const serverUrl = process.env.DATABASE_URL;
if (serverUrl === undefined || serverUrl === '') {
  console.error(
    'records-search bench: DATABASE_URL is not set.\n' +
      'It needs a PostgreSQL server it may create and drop a database on, e.g.\n' +
      '  DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres npm run bench:records',
  );
  process.exit(2);
}

const requestsPerRun = Number(process.env.BENCH_REQUESTS ?? 200);
const concurrency = 8;
const runCapMs = 10_000;
const warmUpRequests = 10;
const warmUpCapMs = 4_000;
const slowestToExplain = 5;
const secret = 'bench-secret-that-is-at-least-32-bytes-long';

const big: TenantSpec = {
  key: 'big',
  id: 'tnt_bench_big',
  records: 1_000_000,
  apps: 20,
  appPrefix: 'app_big_',
  timeZone: 'Asia/Shanghai',
  currency: 'CNY',
  taxRate: '0.06',
};
const small: TenantSpec = {
  ...big,
  key: 'small',
  id: 'tnt_bench_small',
  records: 10_000,
  apps: 5,
  appPrefix: 'app_small_',
};

/** The customer reference the loader gives record n of a tenant: a keyword that hits one record. */
const tokenOf = (tenant: TenantSpec, n: number): string =>
  `ref-${createHash('md5').update(`ref:${tenant.key}:${n}`).digest('hex').slice(0, 10)}`;

interface Scenario {
  name: string;
  what: string;
  url: string;
  tenant: TenantSpec;
}

const search = (tenant: TenantSpec, query: string): string => `/billing/records/${tenant.id}/search?${query}`;

const scenarios: Scenario[] = [
  { name: 'status', what: 'status=paid (70%)', url: search(big, 'status=paid'), tenant: big },
  { name: 'status-rare', what: 'status=failed (8%)', url: search(big, 'status=failed'), tenant: big },
  {
    name: 'app+status',
    what: 'one app (1/21) + status=paid',
    url: search(big, 'app_id=app_big_07&status=paid'),
    tenant: big,
  },
  {
    name: 'month+status',
    what: 'March 2025 + status=paid',
    url: search(big, 'date_from=2025-03-01&date_to=2025-03-31&status=paid'),
    tenant: big,
  },
  {
    name: 'amount',
    what: 'amount 100..200 CNY (~5%)',
    url: search(big, 'min_amount=100&max_amount=200'),
    tenant: big,
  },
  {
    name: 'kw-token',
    what: 'keyword: one customer reference',
    url: search(big, `search=${tokenOf(big, 424_242)}`),
    tenant: big,
  },
  {
    name: 'kw-invoice',
    what: 'keyword: INV-2025-1234 (111 hits)',
    url: search(big, 'search=INV-2025-1234'),
    tenant: big,
  },
  { name: 'kw-common', what: 'keyword: subscription (30%)', url: search(big, 'search=subscription'), tenant: big },
  { name: 'kw-2char', what: 'keyword: gb (2 chars, 53%)', url: search(big, 'search=gb'), tenant: big },
  {
    name: 'all-filters',
    what: 'app+status+H1 2025+amount+keyword',
    url: search(
      big,
      'app_id=app_big_07&status=paid&date_from=2025-01-01&date_to=2025-06-30&min_amount=100&max_amount=2000&search=subscription',
    ),
    tenant: big,
  },
  { name: 'no-filter', what: 'no filter, page 1', url: search(big, ''), tenant: big },
  { name: 'deep-page', what: 'no filter, page 500 x 20', url: search(big, 'page=500&page_size=20'), tenant: big },
  { name: 'app-listing', what: 'GET /apps/app_big_07', url: `/billing/records/${big.id}/apps/app_big_07`, tenant: big },
  { name: 'small-tenant', what: '10k tenant: status=paid', url: search(small, 'status=paid'), tenant: small },
];

/** Records the SQL the app sends (exactly as compiled, with its parameters) while switched on. */
class QueryCapture implements KyselyPlugin {
  active = false;
  readonly queries: { sql: string; parameters: readonly unknown[] }[] = [];

  constructor(private readonly database: DatabaseHandle) {}

  transformQuery({ node, queryId }: PluginTransformQueryArgs): PluginTransformQueryArgs['node'] {
    if (this.active) {
      const compiled = this.database.db.getExecutor().compileQuery(node, queryId);
      this.queries.push({ sql: compiled.sql, parameters: compiled.parameters });
    }
    return node;
  }

  transformResult({ result }: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    return Promise.resolve(result);
  }
}

interface ScenarioResult {
  name: string;
  what: string;
  url: string;
  total: number;
  sequential: RunStats;
  concurrent: RunStats;
}

interface ExplainedQuery {
  sql: string;
  parameters: string[];
  /** The query alone, without EXPLAIN, as the app sends it. */
  bareMs: number;
  executionMs: number;
  planningMs: number;
  plan: string;
}

const fmt = (value: number): string => (Number.isFinite(value) ? value.toFixed(1) : '-');

const table = (header: string[], rows: string[][]): string => {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join(' | ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('-|-'), ...rows.map(line)].join('\n');
};

const explain = async (url: string, queries: { sql: string; parameters: readonly unknown[] }[]) => {
  const client = new pg.Client({ connectionString: url, application_name: 'bench-explain' });
  await client.connect();
  try {
    const explained: ExplainedQuery[] = [];
    for (const query of queries) {
      // Run twice, keep the second: the first may pay for cold pages the benchmark had warm.
      let plan = '';
      for (let i = 0; i < 2; i += 1) {
        const result = await client.query<{ 'QUERY PLAN': string }>(
          `explain (analyze, buffers) ${query.sql}`,
          query.parameters as unknown[],
        );
        plan = result.rows.map((row) => row['QUERY PLAN']).join('\n');
      }
      // EXPLAIN ANALYZE times every row of every node, which inflates scans of many rows; the bare
      // query, timed from here (median of 3), is what the app pays.
      const bare: number[] = [];
      for (let i = 0; i < 3; i += 1) {
        const t0 = performance.now();
        await client.query(query.sql, query.parameters as unknown[]);
        bare.push(performance.now() - t0);
      }
      bare.sort((x, y) => x - y);
      const ms = (label: string) => Number(new RegExp(`${label} Time: ([\\d.]+) ms`).exec(plan)?.[1] ?? Number.NaN);
      explained.push({
        sql: query.sql,
        parameters: query.parameters.map((p) => (p instanceof Date ? p.toISOString() : String(p))),
        bareMs: Number((bare[1] ?? Number.NaN).toFixed(1)),
        executionMs: ms('Execution'),
        planningMs: ms('Planning'),
        plan,
      });
    }
    return explained;
  } finally {
    await client.end();
  }
};

const serverFacts = async (url: string) => {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const settings = await client.query<{ name: string; setting: string }>(
      `select name, current_setting(name) as setting from unnest(array['server_version', 'shared_buffers', 'work_mem',
         'effective_cache_size', 'random_page_cost', 'jit', 'max_parallel_workers_per_gather', 'autovacuum']) as name`,
    );
    const sizes = await client.query<{ relation: string; size: string }>(
      `select c.relname as relation, pg_size_pretty(pg_relation_size(c.oid)) as size
       from pg_class c
       where c.relname in ('billing_records', 'billing_record_lines')
          or c.oid in (select indexrelid from pg_index where indrelid = 'billing_records'::regclass)
       order by c.relkind desc, c.relname`,
    );
    const counts = await client.query<{ tenant_id: string; records: string }>(
      `select tenant_id, count(*)::text as records from billing_records group by tenant_id order by tenant_id`,
    );
    return {
      settings: Object.fromEntries(settings.rows.map((row) => [row.name, row.setting])),
      sizes: Object.fromEntries(sizes.rows.map((row) => [row.relation, row.size])),
      records: Object.fromEntries(counts.rows.map((row) => [row.tenant_id, Number(row.records)])),
    };
  } finally {
    await client.end();
  }
};

const main = async (): Promise<void> => {
  const started = performance.now();
  const loadAtStart = loadAverages();
  const reuseUrl = process.env.BENCH_REUSE_DATABASE;
  const keep = process.env.BENCH_KEEP_DATABASE === '1';
  const only = process.env.BENCH_SCENARIOS?.split(',').map((name) => name.trim());

  let database: DatabaseHandle;
  let url: string;
  let destroy: () => Promise<void>;
  let load: LoadTimings | undefined;
  if (reuseUrl !== undefined && reuseUrl !== '') {
    database = await openDatabase({ kind: 'server', url: reuseUrl, pool: defaultPoolConfig });
    await migrateToLatest(database.db);
    url = reuseUrl;
    destroy = () => database.close();
    console.log(`reusing ${url} (no load)`);
  } else {
    const created = await createTestDatabase();
    if (created.url === undefined) throw new Error('expected a server database');
    database = created;
    url = created.url;
    destroy = keep ? () => created.close() : () => created.destroy();
    console.log(`database ${url}: loading ${big.records} + ${small.records} records…`);
    load = await loadBenchData(url, [big, small]);
    for (const step of load.steps) console.log(`  ${step.step.padEnd(52)} ${(step.ms / 1000).toFixed(1)} s`);
    console.log(`load time: ${(load.totalMs / 1000).toFixed(1)} s`);
  }

  let app: Api | undefined;
  try {
    const facts = await serverFacts(url);
    const capture = new QueryCapture(database);
    const clock = new ManualClock('2026-01-15T00:00:00Z');
    app = await buildApp({
      database: { ...database, db: database.db.withPlugin(capture) },
      clock,
      tokens: createTokenVerifier({ secret, clock }),
      logLevel: 'silent',
      version: 'bench',
    });
    await app.ready();
    const headers = new Map<string, Record<string, string>>();
    const headersOf = (tenant: TenantSpec): Record<string, string> => {
      const found = headers.get(tenant.id);
      if (found === undefined) throw new Error(`no token for ${tenant.id}`);
      return found;
    };
    for (const tenant of [big, small]) {
      const token = await mintToken(
        secret,
        { userId: 'usr_bench', tenantId: tenant.id, roles: ['tenant_viewer'] },
        clock,
      );
      headers.set(tenant.id, { authorization: `Bearer ${token}` });
    }

    const results: ScenarioResult[] = [];
    for (const scenario of scenarios.filter((s) => only === undefined || only.includes(s.name))) {
      const api = app;
      let total = Number.NaN;
      const send = async (): Promise<void> => {
        const response = await api.inject({
          method: 'GET',
          url: scenario.url,
          headers: headersOf(scenario.tenant),
        });
        if (response.statusCode !== 200) {
          throw new Error(`${scenario.name}: ${response.statusCode} ${response.body.slice(0, 300)}`);
        }
        if (Number.isNaN(total)) total = response.json<{ total: number }>().total;
      };
      await warmUp(send, warmUpRequests, warmUpCapMs);
      const sequential = await run(send, requestsPerRun, 1, runCapMs);
      const concurrent = await run(send, requestsPerRun, concurrency, runCapMs);
      results.push({ name: scenario.name, what: scenario.what, url: scenario.url, total, sequential, concurrent });
      console.log(
        `  ${scenario.name.padEnd(13)} total ${String(total).padStart(7)}  seq p50 ${fmt(sequential.p50Ms)} p99 ${fmt(sequential.p99Ms)} ms` +
          `  c${concurrency} p50 ${fmt(concurrent.p50Ms)} p99 ${fmt(concurrent.p99Ms)} ms ${fmt(concurrent.rps)} req/s`,
      );
    }

    const rows = results.map((r) => [
      r.name,
      r.what,
      String(r.total),
      fmt(r.sequential.p50Ms),
      fmt(r.sequential.p99Ms),
      fmt(r.sequential.rps),
      `${r.sequential.requests}${r.sequential.capped ? '*' : ''}`,
      fmt(r.concurrent.p50Ms),
      fmt(r.concurrent.p99Ms),
      fmt(r.concurrent.rps),
      `${r.concurrent.requests}${r.concurrent.capped ? '*' : ''}`,
    ]);
    console.log(
      `\n${table(
        [
          'scenario',
          'filter',
          'total',
          'seq p50',
          'seq p99',
          'seq rps',
          'n',
          `c${concurrency} p50`,
          `c${concurrency} p99`,
          `c${concurrency} rps`,
          'n',
        ],
        rows,
      )}\n(ms; rps = requests/s; n* = stopped by the ${runCapMs / 1000} s cap)\n`,
    );

    // The slowest scenarios, query by query, with the parameters the app bound.
    const slowest = [...results].sort((x, y) => y.sequential.p99Ms - x.sequential.p99Ms).slice(0, slowestToExplain);
    const plans: Record<string, ExplainedQuery[]> = {};
    for (const result of slowest) {
      const scenario = scenarios.find((s) => s.name === result.name);
      if (scenario === undefined) continue;
      capture.queries.length = 0;
      capture.active = true;
      await app.inject({ method: 'GET', url: scenario.url, headers: headersOf(scenario.tenant) });
      capture.active = false;
      const queries = capture.queries.filter((q) => /"billing_record/.test(q.sql));
      plans[result.name] = await explain(url, queries);
      console.log(`=== EXPLAIN (ANALYZE, BUFFERS): ${result.name} (${result.what})`);
      for (const query of plans[result.name] ?? []) {
        console.log(
          `--- ${fmt(query.bareMs)} ms bare; under EXPLAIN ${fmt(query.executionMs)} ms execution, ${fmt(query.planningMs)} ms planning`,
        );
        console.log(query.sql);
        console.log(`    parameters: ${JSON.stringify(query.parameters)}`);
        console.log(query.plan);
      }
      console.log('');
    }

    const out = writeResults('records-search', loadAtStart, {
      server: facts.settings,
      records: facts.records,
      sizes: facts.sizes,
      load: load ?? null,
      requestsPerRun,
      concurrency,
      runCapMs,
      scenarios: results,
      plans,
    });
    console.log(`figures written to ${out}`);
    console.log(
      `load average (1/5/15 min) at start ${loadAtStart.join(' ')}, at end ${loadavg()
        .map((x) => x.toFixed(2))
        .join(' ')}`,
    );
  } finally {
    await app?.close();
    await destroy();
    if (keep || reuseUrl !== undefined) console.log(`database kept: ${url}`);
    console.log(`total run time: ${((performance.now() - started) / 1000).toFixed(1)} s`);
  }
};

await main();
