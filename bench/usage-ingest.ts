/**
 * Usage ingestion throughput: events per second counted exactly once and rolled up, against a bare
 * multi-row INSERT of the same rows.
 *
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres npm run bench -- --only=usage [--quick]
 *
 * Creates a fresh migrated database on that server (as the tests do) with 50 tenants × 4 apps,
 * made through the service functions, and keeps it as a template. Every step then runs on its own
 * clone of it, so each starts from the same empty tables whatever ran before. Per client count
 * (1, 4, 8, 16 by default), closed loop, batches of 1,000 events, the same events in every step:
 *   - baseline:   INSERT INTO usage_events … ON CONFLICT DO NOTHING over `pg`, one statement per
 *                 batch, no rollup (tenant day and fingerprint computed beforehand, untimed)
 *   - in-process: ingestEvents (a pool of as many connections as clients)
 *   - http:       POST /billing/usage/events on the real app listening on 127.0.0.1, with a service
 *                 token, through Node's fetch over keep-alive connections
 * The events are seeded: tenants Zipf-skewed, apps skewed within a tenant, a weighted mix of the 8
 * resource types, timestamps over the 3-day late-event window in 8 time zones. After each step the
 * first batch is sent again (timed; it must count nothing), then the step's database must hold every
 * event sent exactly once: count(*) and sum(quantity) of usage_events, sum(event_count) of
 * usage_daily, and each rollup row recomputed from the stored events. Any difference throws.
 * Prints a table (events/s, ratio to the baseline), writes bench/results/usage-ingest.json and
 * drops every database it made.
 *
 * Knobs (optional): BENCH_EVENTS=200000 per step, BENCH_CLIENTS=1,4,8,16, BENCH_SEED=20260115,
 * BENCH_STEP_CAP_SECONDS=90 (a step stops early after that long; the table marks it),
 * BENCH_PATHS=in-process,http (the baseline always runs); --quick: 10,000 events at 4 clients.
 */
import { createHash } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { cpus } from 'node:os';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { calendarDateIn } from '../src/core/billing-calendar.js';
import { ManualClock } from '../src/core/clock.js';
import type { ResourceType } from '../src/core/resources.js';
import { defaultPoolConfig, openDatabase, type DatabaseHandle } from '../src/db/database.js';
import { noRateLimits } from '../src/config.js';
import { buildApp, type Api } from '../src/http/app.js';
import { createApp } from '../src/modules/apps/create-app.js';
import { createTokenVerifier, mintToken } from '../src/modules/auth/tokens.js';
import { canonicalJson } from '../src/modules/idempotency/fingerprint.js';
import { createTenant } from '../src/modules/tenants/create-tenant.js';
import { ingestEvents } from '../src/modules/usage/ingest-events.js';
import { maxBatchEvents } from '../src/modules/usage/schemas.js';
import { lateEventWindowMs } from '../src/modules/usage/usage-event.js';
import { createTestDatabase } from '../src/testing/test-database.js';
import { loadAverages, run, writeResults, type Headline, type RunStats, type Send } from './measure.js';
import {
  cloneDatabase,
  dropDatabase,
  fmt,
  quickMode,
  requireServerUrl,
  serverFacts,
  table,
  watchCpu,
  withClient,
} from './support.js';

const serverUrl = requireServerUrl('usage-ingest');
const quick = quickMode();
const eventsPerStep = Number(process.env.BENCH_EVENTS ?? (quick ? 10_000 : 200_000));
const clientCounts = (process.env.BENCH_CLIENTS ?? (quick ? '4' : '1,4,8,16')).split(',').map((n) => Number(n.trim()));
const seed = Number(process.env.BENCH_SEED ?? 20260115);
const stepCapMs = Number(process.env.BENCH_STEP_CAP_SECONDS ?? 90) * 1000;
const batchSize = maxBatchEvents;
const tenantCount = 50;
const appsPerTenant = 4;
const secret = 'bench-secret-that-is-at-least-32-bytes-long';
const clock = new ManualClock('2026-01-15T12:00:00Z');

const measuredPaths = ['in-process', 'http'] as const;
type Path = 'baseline' | (typeof measuredPaths)[number];
/** The baseline always runs: every figure is a ratio to it. */
const paths: Path[] = [
  'baseline',
  ...(process.env.BENCH_PATHS ?? measuredPaths.join(','))
    .split(',')
    .map((p) => p.trim())
    .filter((p): p is (typeof measuredPaths)[number] => (measuredPaths as readonly string[]).includes(p)),
];
const pathLabels: Record<Path, string> = {
  baseline: 'baseline: INSERT … ON CONFLICT DO NOTHING',
  'in-process': 'in-process: ingestEvents',
  http: 'http: POST /billing/usage/events',
};

// ---------------------------------------------------------------------------------------------
// Workload

/** mulberry32: a small seeded generator, so every run (and every step) sends the same events. */
const seededRandom = (start: number): (() => number) => {
  let state = start >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
};

type Random = () => number;

/** Picks one of `items` with probability proportional to its weight. */
const weightedPicker = <T>(items: readonly { item: T; weight: number }[]): ((random: Random) => T) => {
  const total = items.reduce((sum, { weight }) => sum + weight, 0);
  return (random) => {
    let left = random() * total;
    for (const { item, weight } of items) {
      left -= weight;
      if (left < 0) return item;
    }
    return items[items.length - 1]!.item;
  };
};

const oneOf = <T>(random: Random, items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
const between = (random: Random, low: number, high: number): number => low + Math.floor(random() * (high - low + 1));
/** Sizes (bytes) spread over orders of magnitude, as real bandwidth and storage figures are. */
const logUniform = (random: Random, low: number, high: number): number =>
  Math.floor(Math.exp(Math.log(low) + random() * (Math.log(high) - Math.log(low))));

interface BenchTenant {
  id: string;
  timeZone: string;
  appIds: string[];
}

// Mostly the default zone, some on either side of UTC so tenants' days begin at different instants.
const timeZones = [
  'Asia/Shanghai',
  'Asia/Shanghai',
  'Asia/Shanghai',
  'UTC',
  'America/New_York',
  'Europe/Berlin',
  'Asia/Tokyo',
  'America/Los_Angeles',
];
const tenants: BenchTenant[] = Array.from({ length: tenantCount }, (_, t) => {
  const id = `tnt_bench_${String(t).padStart(3, '0')}`;
  return {
    id,
    timeZone: timeZones[t % timeZones.length]!,
    appIds: Array.from({ length: appsPerTenant }, (_, a) => `app_bench_${String(t).padStart(3, '0')}_${a}`),
  };
});
const timeZoneOf = new Map(tenants.map((tenant) => [tenant.id, tenant.timeZone]));

// A few tenants send most of the traffic (Zipf), and a tenant's main app most of its own.
const pickTenant = weightedPicker(tenants.map((tenant, rank) => ({ item: tenant, weight: 1 / (rank + 1) })));
const pickAppIndex = weightedPicker([55, 25, 12, 8].map((weight, index) => ({ item: index, weight })));

/** An event as a producer sends it: the wire format of POST /billing/usage/events. */
interface WireEvent {
  event_id: string;
  tenant_id: string;
  app_id: string;
  resource_type: ResourceType;
  quantity: number;
  timestamp: string;
  properties?: Record<string, unknown>;
}

type Measurement = Pick<WireEvent, 'quantity' | 'properties'>;

const endpoints = ['/v1/orders', '/v1/users', '/v1/search', '/v1/files', '/v1/reports', '/v1/webhooks'];
const regions = ['cn-east-1', 'cn-north-2', 'ap-southeast-1'];

const pickResource = weightedPicker<{ type: ResourceType; measure: (random: Random) => Measurement }>([
  {
    weight: 40,
    item: {
      type: 'api_requests',
      measure: (random) => ({
        quantity: random() < 0.8 ? 1 : between(random, 2, 50),
        properties: {
          endpoint: oneOf(random, endpoints),
          method: random() < 0.7 ? 'GET' : 'POST',
          status: random() < 0.97 ? 200 : 500,
        },
      }),
    },
  },
  {
    weight: 20,
    item: {
      type: 'api_calls',
      measure: (random) => ({ quantity: between(random, 1, 10), properties: { endpoint: oneOf(random, endpoints) } }),
    },
  },
  {
    weight: 15,
    item: {
      type: 'bandwidth_used',
      measure: (random) => ({
        quantity: logUniform(random, 1_000, 5_000_000),
        properties: { region: oneOf(random, regions), direction: random() < 0.8 ? 'egress' : 'ingress' },
      }),
    },
  },
  {
    weight: 8,
    item: {
      type: 'login_attempts',
      measure: (random) => ({ quantity: 1, properties: { method: random() < 0.6 ? 'password' : 'sso' } }),
    },
  },
  { weight: 3, item: { type: 'failed_logins', measure: () => ({ quantity: 1 }) } },
  {
    weight: 4,
    item: { type: 'mfa_verifications', measure: () => ({ quantity: 1, properties: { factor: 'totp' } }) },
  },
  {
    weight: 5,
    item: {
      type: 'storage_used',
      measure: (random) => ({
        quantity: logUniform(random, 1_000_000, 10_000_000_000),
        properties: { region: oneOf(random, regions) },
      }),
    },
  },
  { weight: 5, item: { type: 'user_count', measure: (random) => ({ quantity: between(random, 1, 50_000) }) } },
]);

const hourMs = 60 * 60 * 1000;

/** How long ago an event happened: mostly today, a tail reaching back almost to the window's edge. */
const ageMs = (random: Random): number => {
  const roll = random();
  if (roll < 0.7) return random() * 24 * hourMs;
  if (roll < 0.9) return (24 + random() * 24) * hourMs;
  return 48 * hourMs + random() * (lateEventWindowMs - 48 * hourMs - 10 * 60 * 1000);
};

const hex32 = (random: Random): string =>
  Math.floor(random() * 0x100000000)
    .toString(16)
    .padStart(8, '0');

const generateEvents = (random: Random, count: number, idPrefix: string): WireEvent[] => {
  const now = clock.now().getTime();
  return Array.from({ length: count }, (_, n) => {
    const tenant = pickTenant(random);
    const resource = pickResource(random);
    const { quantity, properties } = resource.measure(random);
    return {
      // Random first (ids land all over the primary key, as UUIDs do), the sequence last keeps them unique.
      event_id: `evt_${idPrefix}${hex32(random)}${hex32(random)}_${n.toString(36)}`,
      tenant_id: tenant.id,
      app_id: tenant.appIds[pickAppIndex(random)]!,
      resource_type: resource.type,
      quantity,
      timestamp: new Date(now - Math.floor(ageMs(random))).toISOString(),
      ...(properties === undefined ? {} : { properties }),
    };
  });
};

/** One batch in every form a path sends it, all built before any timing starts. */
interface Batch {
  events: WireEvent[];
  httpBody: string;
  /** The usage_events rows the baseline inserts, flattened into the statement's parameters. */
  baselineParameters: string[];
  quantity: bigint;
}

const baselineColumns = [
  'tenant_id',
  'event_id',
  'app_id',
  'resource_type',
  'quantity',
  'occurred_at',
  'usage_date',
  'properties',
  'fingerprint',
  'received_at',
];

const baselineStatements = new Map<number, string>();
const baselineStatement = (rows: number): string => {
  let text = baselineStatements.get(rows);
  if (text === undefined) {
    const width = baselineColumns.length;
    const values = Array.from(
      { length: rows },
      (_, r) => `(${baselineColumns.map((_, c) => `$${r * width + c + 1}`).join(', ')})`,
    );
    text = `insert into usage_events (${baselineColumns.join(', ')}) values ${values.join(', ')}
            on conflict (tenant_id, event_id) do nothing`;
    baselineStatements.set(rows, text);
  }
  return text;
};

const toBatches = (events: WireEvent[]): Batch[] => {
  const receivedAt = clock.now().toISOString();
  const batches: Batch[] = [];
  for (let start = 0; start < events.length; start += batchSize) {
    const slice = events.slice(start, start + batchSize);
    batches.push({
      events: slice,
      httpBody: JSON.stringify({ events: slice }),
      baselineParameters: slice.flatMap((event) => {
        const properties = event.properties ?? {};
        return [
          event.tenant_id,
          event.event_id,
          event.app_id,
          event.resource_type,
          String(event.quantity),
          event.timestamp,
          calendarDateIn(new Date(event.timestamp), timeZoneOf.get(event.tenant_id)!),
          JSON.stringify(properties),
          // A sha-256 of the event, so the rows are as wide as the ones the service stores.
          createHash('sha256')
            .update(canonicalJson({ ...event, properties }))
            .digest('hex'),
          receivedAt,
        ];
      }),
      quantity: slice.reduce((sum, event) => sum + BigInt(event.quantity), 0n),
    });
  }
  return batches;
};

// ---------------------------------------------------------------------------------------------
// Measuring

interface Outcome {
  accepted: number;
  duplicates: number;
  rejected: number;
}

/** What one batch sent on one path counted; sends it the way that path does. */
type SendBatch = (batch: Batch) => Promise<Outcome>;

interface Counts {
  events: number;
  quantity: string;
  rolledUpEvents: number;
  rollupRows: number;
  rollupMismatches: number;
  /** Deadlocks the server detected in the step's database (each one is a retried batch). */
  deadlocks: number;
}

/**
 * Each (tenant, app, resource, day) of the stored events recomputed and compared with its rollup
 * row: the event count, sum / max of the quantities, the latest timestamp and, for `latest`, a
 * quantity measured at that timestamp (ties may go either way). Rows on one side only count too.
 */
const rollupMismatchesQuery = `
  with groups as (
         select tenant_id, app_id, resource_type, usage_date, count(*) as events, sum(quantity) as total,
                max(quantity) as highest, max(occurred_at) as latest_at
           from usage_events group by 1, 2, 3, 4),
       latest as (
         select e.tenant_id, e.app_id, e.resource_type, e.usage_date, array_agg(e.quantity) as quantities
           from usage_events e
           join groups g using (tenant_id, app_id, resource_type, usage_date)
          where e.occurred_at = g.latest_at
          group by 1, 2, 3, 4)
  select count(*)::int as mismatches
    from groups g
    full join usage_daily d using (tenant_id, app_id, resource_type, usage_date)
    left join latest l using (tenant_id, app_id, resource_type, usage_date)
   where g.events is distinct from d.event_count
      or g.latest_at is distinct from d.latest_at
      or case d.aggregation
           when 'sum' then d.quantity <> g.total
           when 'max' then d.quantity <> g.highest
           else not d.quantity = any (l.quantities)
         end`;

const countStored = (url: string, rolledUp: boolean): Promise<Counts> =>
  withClient(url, async (client) => {
    const { rows } = await client.query<{
      events: number;
      quantity: string;
      rolled_up_events: string;
      rollup_rows: number;
    }>(
      `select (select count(*)::int from usage_events) as events,
              (select coalesce(sum(quantity), 0)::text from usage_events) as quantity,
              (select coalesce(sum(event_count), 0)::text from usage_daily) as rolled_up_events,
              (select count(*)::int from usage_daily) as rollup_rows`,
    );
    const { rows: database } = await client.query<{ deadlocks: number }>(
      `select deadlocks::int from pg_stat_database where datname = current_database()`,
    );
    const counts = rows[0]!;
    const mismatches = rolledUp
      ? ((await client.query<{ mismatches: number }>(rollupMismatchesQuery)).rows[0]?.mismatches ?? -1)
      : 0;
    return {
      events: counts.events,
      quantity: counts.quantity,
      rolledUpEvents: Number(counts.rolled_up_events),
      rollupRows: counts.rollup_rows,
      rollupMismatches: mismatches,
      deadlocks: database[0]?.deadlocks ?? Number.NaN,
    };
  });

interface StepResult {
  path: Path;
  clients: number;
  /** Events counted in the timed part (warm-up and the replay check excluded). */
  events: number;
  eventsPerSecond: number;
  batches: RunStats;
  /** How long the replay of one batch of 1,000 already counted events took. */
  replayMs: number;
  nodeCores: number;
  machineBusy: number;
  loadAverage: number[];
  stored: Counts;
}

interface Workload {
  warmUp: Batch[];
  measured: Batch[];
}

/**
 * One path at one client count on a fresh clone of the template: warm-up (one batch per client,
 * which also opens every connection), the timed run, a replay of the first batch, then the counts.
 */
const runStep = async (
  templateName: string,
  path: Path,
  clients: number,
  workload: Workload,
  authorization: string,
): Promise<StepResult> => {
  const name = `${templateName}_${path.replace('-', '_')}_c${clients}`;
  const url = await cloneDatabase(serverUrl, templateName, name);
  const closers: (() => Promise<void>)[] = [];
  try {
    let sendBatch: SendBatch;
    if (path === 'baseline') {
      const pool = new pg.Pool({ connectionString: url, max: clients, application_name: 'bench-usage-baseline' });
      closers.push(() => pool.end());
      sendBatch = async (batch) => {
        const { rowCount } = await pool.query(baselineStatement(batch.events.length), batch.baselineParameters);
        const accepted = rowCount ?? 0;
        return { accepted, duplicates: batch.events.length - accepted, rejected: 0 };
      };
    } else {
      const handle: DatabaseHandle = await openDatabase({
        kind: 'server',
        url,
        pool: { ...defaultPoolConfig, max: clients },
      });
      closers.push(() => handle.close());
      if (path === 'in-process') {
        sendBatch = async (batch) => ingestEvents(handle.db, clock, batch.events);
      } else {
        const app: Api = await buildApp({
          database: handle,
          clock,
          tokens: createTokenVerifier({ secret, clock }),
          logLevel: 'silent',
          version: 'bench',
          rateLimits: noRateLimits,
        });
        closers.unshift(() => app.close());
        await app.listen({ host: '127.0.0.1', port: 0 });
        const { port } = app.server.address() as AddressInfo;
        const endpoint = `http://127.0.0.1:${port}/billing/usage/events`;
        sendBatch = async (batch) => {
          const response = await fetch(endpoint, {
            method: 'POST',
            headers: { authorization, 'content-type': 'application/json' },
            body: batch.httpBody,
          });
          const text = await response.text();
          if (response.status !== 200) throw new Error(`http c${clients}: ${response.status} ${text.slice(0, 300)}`);
          return (JSON.parse(text) as { data: Outcome }).data;
        };
      }
    }

    let quantitySent = 0n;
    let eventsSent = 0;
    /** Sends `batches` in order, one per call, and throws unless every event of each counts. */
    const sender = (batches: Batch[]): { send: Send; sent: () => number } => {
      let next = 0;
      return {
        send: async () => {
          const batch = batches[next]!;
          next += 1;
          const outcome = await sendBatch(batch);
          if (outcome.accepted !== batch.events.length || outcome.duplicates !== 0 || outcome.rejected !== 0) {
            throw new Error(
              `${path} c${clients}: a batch of ${batch.events.length} new events counted ${JSON.stringify(outcome)}`,
            );
          }
          eventsSent += batch.events.length;
          quantitySent += batch.quantity;
        },
        sent: () => next,
      };
    };

    const warmUp = sender(workload.warmUp.slice(0, clients));
    await run(warmUp.send, clients, clients, stepCapMs);
    const measured = sender(workload.measured);
    const cpu = watchCpu();
    const batches = await run(measured.send, workload.measured.length, clients, stepCapMs);
    const { nodeCores, machineBusy } = cpu();
    const loadAverage = loadAverages();
    const events = workload.measured.slice(0, measured.sent()).reduce((sum, batch) => sum + batch.events.length, 0);

    // Exactly once: the first batch again must count nothing.
    const first = workload.measured[0]!;
    const replayStarted = performance.now();
    const replay = await sendBatch(first);
    const replayMs = Number((performance.now() - replayStarted).toFixed(1));
    if (replay.accepted !== 0 || replay.duplicates !== first.events.length || replay.rejected !== 0) {
      throw new Error(`${path} c${clients}: a replayed batch counted ${JSON.stringify(replay)}`);
    }

    for (const close of closers.splice(0)) await close();
    const rolledUp = path !== 'baseline';
    const stored = await countStored(url, rolledUp);
    const wrong = [
      stored.events !== eventsSent && `usage_events holds ${stored.events} events, ${eventsSent} were sent`,
      stored.quantity !== quantitySent.toString() &&
        `usage_events sums to ${stored.quantity}, the events sent to ${quantitySent}`,
      stored.rolledUpEvents !== (rolledUp ? eventsSent : 0) &&
        `usage_daily counts ${stored.rolledUpEvents} events, expected ${rolledUp ? eventsSent : 0}`,
      stored.rollupMismatches !== 0 && `${stored.rollupMismatches} rollup rows differ from their events`,
    ].filter((problem): problem is string => typeof problem === 'string');
    if (wrong.length > 0) throw new Error(`${path} c${clients} counted wrong:\n  ${wrong.join('\n  ')}`);

    return {
      path,
      clients,
      events,
      eventsPerSecond: Math.round((events * 1000) / batches.elapsedMs),
      batches,
      replayMs,
      nodeCores,
      machineBusy,
      loadAverage,
      stored,
    };
  } finally {
    for (const close of closers) await close();
    await dropDatabase(serverUrl, name);
  }
};

// ---------------------------------------------------------------------------------------------
// Report

const main = async (): Promise<void> => {
  const started = performance.now();
  const loadAtStart = loadAverages();
  const facts = await serverFacts(serverUrl);
  console.log(
    `PostgreSQL ${facts.server_version}, ${cpus().length} CPUs, load ${loadAtStart.join(' ')}; ` +
      `${eventsPerStep} events per step in batches of ${batchSize}, clients ${clientCounts.join(', ')}, seed ${seed}`,
  );

  const generating = performance.now();
  const random = seededRandom(seed);
  const workload: Workload = {
    measured: toBatches(generateEvents(random, eventsPerStep, '')),
    warmUp: toBatches(generateEvents(random, Math.max(...clientCounts) * batchSize, 'warm_')),
  };
  console.log(`workload generated in ${fmt((performance.now() - generating) / 1000, 1)} s`);

  const template = await createTestDatabase();
  if (template.url === undefined) throw new Error('expected a server database');
  const templateName = new URL(template.url).pathname.slice(1);
  const results: StepResult[] = [];
  try {
    for (const tenant of tenants) {
      const created = await createTenant(template.db, clock, {
        tenant_id: tenant.id,
        name: `Bench ${tenant.id}`,
        admin_user_id: 'usr_bench',
        time_zone: tenant.timeZone,
      });
      if (!created.ok) throw new Error(`tenant ${tenant.id}: ${created.error.message}`);
      for (const appId of tenant.appIds) {
        const app = await createApp(template.db, clock, { tenantId: tenant.id }, { app_id: appId, name: appId });
        if (!app.ok) throw new Error(`app ${appId}: ${app.error.message}`);
      }
    }
    await withClient(template.url, (client) => client.query('vacuum analyze'));
    // A database is cloned only while nobody is connected to it.
    await template.close();

    const authorization = `Bearer ${await mintToken(secret, { userId: 'svc_bench', roles: ['service'] }, clock)}`;
    // Paths interleaved per client count, so a ratio compares figures taken minutes apart at most.
    for (const clients of clientCounts) {
      for (const path of paths) {
        const result = await runStep(templateName, path, clients, workload, authorization);
        results.push(result);
        console.log(
          `  ${path.padEnd(10)} c${String(clients).padEnd(2)} ${fmt(result.eventsPerSecond).padStart(7)} events/s` +
            `  batch p50 ${fmt(result.batches.p50Ms, 1)} p99 ${fmt(result.batches.p99Ms, 1)} ms` +
            `  node ${fmt(result.nodeCores, 2)} cores, machine ${fmt(result.machineBusy * 100)}% busy` +
            `, load ${result.loadAverage[0]}${result.batches.capped ? `  CAPPED after ${result.events} events` : ''}` +
            `  (replay ${fmt(result.replayMs)} ms, ${result.stored.rollupRows} rollup rows, ` +
            `${result.stored.deadlocks} deadlocks, all counts match)`,
        );
      }
    }
  } finally {
    await template.destroy();
  }

  const find = (path: Path, clients: number) => results.find((r) => r.path === path && r.clients === clients);
  const ratio = (path: Path, clients: number): string => {
    const of = find(path, clients)?.eventsPerSecond ?? Number.NaN;
    return `${fmt(of / (find('baseline', clients)?.eventsPerSecond ?? Number.NaN), 2)}x`;
  };
  const summary = paths.map((path) => [
    pathLabels[path],
    ...clientCounts.flatMap((clients) => {
      const result = find(path, clients);
      return [
        `${fmt(result?.eventsPerSecond ?? Number.NaN)}${result?.batches.capped ? '*' : ''}`,
        ratio(path, clients),
      ];
    }),
  ]);
  console.log(
    `\n${table(['path', ...clientCounts.flatMap((c) => [`c${c} events/s`, `c${c} vs baseline`])], summary)}\n` +
      `(events counted per second, closed loop, batches of ${batchSize}; * = stopped by the ${stepCapMs / 1000} s cap)\n`,
  );
  const details = results.map((r) => [
    r.path,
    String(r.clients),
    fmt(r.eventsPerSecond),
    ratio(r.path, r.clients),
    fmt(r.batches.p50Ms, 1),
    fmt(r.batches.p99Ms, 1),
    fmt(r.replayMs),
    fmt(r.nodeCores, 2),
    `${fmt(r.machineBusy * 100)}%`,
    String(r.loadAverage[0]),
  ]);
  console.log(
    `${table(
      [
        'path',
        'clients',
        'events/s',
        'vs baseline',
        'batch p50 ms',
        'batch p99 ms',
        'replay ms',
        'node cores',
        'machine busy',
        'load 1m',
      ],
      details,
    )}\n`,
  );

  const headlines: Headline[] = results
    .filter((r) => r.path !== 'baseline')
    .map((r) => ({
      measure: `${r.path === 'http' ? 'over HTTP' : 'in process'}, ${r.clients} clients, batches of ${batchSize}`,
      value: r.eventsPerSecond,
      unit: 'events/s',
      better: 'higher',
      note: `batch p50 ${fmt(r.batches.p50Ms)} / p99 ${fmt(r.batches.p99Ms)} ms`,
      baseline: {
        what: 'multi-row INSERT … ON CONFLICT DO NOTHING over pg',
        value: find('baseline', r.clients)?.eventsPerSecond ?? Number.NaN,
      },
    }));
  const out = writeResults('usage-ingest', loadAtStart, headlines, {
    server: facts,
    eventsPerStep,
    batchSize,
    clientCounts,
    seed,
    stepCapMs,
    tenants: tenantCount,
    appsPerTenant,
    steps: results,
  });
  console.log(`figures written to ${out}`);
  console.log(`total run time: ${fmt((performance.now() - started) / 1000, 1)} s`);
};

await main();
