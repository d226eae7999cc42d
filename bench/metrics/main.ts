/**
 * Ingestion into a unique_count metric (monthly_active_users: distinct `properties.user_id`)
 * against the same events into a sum metric, in process, 8 clients, batches of 1,000:
 *
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres npm run bench -- --only=metrics [--quick]
 *
 * One tenant (Asia/Shanghai) with 4 apps on a monthly plan pricing both metrics, made through the
 * service functions and kept as a template; each step runs on its own clone:
 *   - sum:          BENCH_EVENTS events of a `sum` metric, user ids in their properties;
 *   - unique_count: the same events as monthly_active_users (quantity 1), user ids drawn from
 *                   10 million, so nearly every one is new to its day and its period (the costly case);
 *   - unique_count on 10M: the same again after BENCH_PRELOAD_DISTINCT (default 10,000,000; 0 skips)
 *                   distinct users were loaded into the period by SQL, the month a tenant with 10
 *                   million monthly active users has behind it.
 * After each unique step the period's count (one counter row) must equal count(distinct) of the
 * stored events' user ids, and every day's counter the same per day; any difference throws. Prints
 * events/s, the ratio unique/sum, and the storage each distinct value costs (bytes of
 * usage_distinct_values and its index per distinct (period, value), its app row and all-apps row).
 * Knobs: BENCH_EVENTS=200000 (quick 20,000), BENCH_CLIENTS=8, BENCH_SEED=20261205.
 */
import { ManualClock } from '../../src/core/clock.js';
import { defaultPoolConfig, openDatabase } from '../../src/db/database.js';
import { createApp } from '../../src/modules/apps/create-app.js';
import { createMetric } from '../../src/modules/metrics/create-metric.js';
import { createTenant } from '../../src/modules/tenants/create-tenant.js';
import { createTenantClocks } from '../../src/modules/test-clocks/tenant-clocks.js';
import { ingestEvents } from '../../src/modules/usage/ingest-events.js';
import { maxBatchEvents } from '../../src/modules/usage/schemas.js';
import { run } from '../lib/closed-loop.js';
import { seededRandom } from '../lib/random.js';
import { writeResults, type Headline } from '../lib/results.js';
import { announce } from '../lib/scenario.js';
import { createServerDatabase, quickMode, requireServerUrl, withClient, withClone } from '../lib/server.js';
import { fmt, table } from '../lib/table.js';
import { stopwatch } from '../lib/timing.js';

const serverUrl = requireServerUrl('metrics');
const quick = quickMode();
const events = Number(process.env.BENCH_EVENTS ?? (quick ? 20_000 : 200_000));
const clients = Number(process.env.BENCH_CLIENTS ?? 8);
const seed = Number(process.env.BENCH_SEED ?? 20261205);
const preload = Number(process.env.BENCH_PRELOAD_DISTINCT ?? (quick ? 100_000 : 10_000_000));
const clock = new ManualClock('2026-03-20T12:00:00Z');
const tenantId = 'tnt_bench_mau';
const appIds = ['app_mau_1', 'app_mau_2', 'app_mau_3', 'app_mau_4'];
const userPool = 10_000_000;
const sumMetric = 'bench_user_actions';
const distinctMetric = 'monthly_active_users';

/** The events of a step: the same instants, apps and users whichever metric they go to. */
const batchesFor = (resourceType: string): unknown[][] => {
  const random = seededRandom(seed);
  const start = clock.now().getTime() - 2 * 86_400_000;
  const all = Array.from({ length: events }, (_, n) => ({
    event_id: `evt_${n}`,
    tenant_id: tenantId,
    app_id: appIds[Math.floor(random() * appIds.length)]!,
    resource_type: resourceType,
    quantity: resourceType === distinctMetric ? 1 : 1 + Math.floor(random() * 5),
    timestamp: new Date(start + Math.floor(random() * 2 * 86_400_000)).toISOString(),
    properties: { user_id: `usr_${Math.floor(random() * userPool)}` },
  }));
  return Array.from({ length: Math.ceil(events / maxBatchEvents) }, (_, i) =>
    all.slice(i * maxBatchEvents, (i + 1) * maxBatchEvents),
  );
};

interface Step {
  name: string;
  eventsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  bytesPerValue?: number;
}

/** Loads `count` distinct users into the tenant's current bucket, for one app and for all apps, as ingestion would. */
const preloadDistinct = async (url: string, count: number): Promise<void> => {
  if (count === 0) return;
  await withClient(url, async (client) => {
    const bucket = '(select period_from from usage_distinct_values limit 1)';
    await client.query(`
      insert into usage_distinct_values (tenant_id, metric, period_from, value, app_id, days)
      select '${tenantId}', '${distinctMetric}', ${bucket}, 'pre_' || n, app, set_bit(repeat('0', 384)::bit(384), 0, 1)
        from generate_series(1, ${count}) n, unnest(array['', '${appIds[0]}']) app`);
    await client.query(`
      update usage_distinct_counts set quantity = quantity + ${count}
       where tenant_id = '${tenantId}' and span = 'period' and app_id in ('', '${appIds[0]}')`);
    await client.query('vacuum analyze usage_distinct_values');
  });
};

/** The period's count must be the stored events' distinct users, and each day's counter that day's. */
const verifyDistinct = async (url: string, preloaded: number): Promise<number> =>
  withClient(url, async (client) => {
    const period = await client.query<{ counted: string; exact: string }>(`
      select (select sum(quantity) from usage_distinct_counts
               where tenant_id = '${tenantId}' and span = 'period' and app_id = '') as counted,
             (select count(distinct properties->>'user_id') from usage_events
               where tenant_id = '${tenantId}' and resource_type = '${distinctMetric}') + ${preloaded} as exact`);
    const { counted, exact } = period.rows[0]!;
    if (counted !== exact) throw new Error(`period count ${counted}, the events hold ${exact} distinct users`);
    const days = await client.query<{ usage_date: string; counted: string | null; exact: string }>(`
      select e.usage_date::text, c.quantity as counted, count(distinct e.properties->>'user_id') as exact
        from usage_events e
        left join usage_distinct_counts c on c.tenant_id = e.tenant_id and c.metric = e.resource_type
             and c.span = 'day' and c.app_id = '' and c.start = e.usage_date
       where e.tenant_id = '${tenantId}' and e.resource_type = '${distinctMetric}'
       group by e.usage_date, c.quantity`);
    for (const day of days.rows) {
      // Preloaded users were put on the bucket's first day's bit only: that day's counter does not hold them.
      if (day.counted !== day.exact)
        throw new Error(`day ${day.usage_date}: counted ${day.counted}, exact ${day.exact}`);
    }
    const size = await client.query<{ bytes: string; rows: string }>(`
      select pg_total_relation_size('usage_distinct_values') as bytes,
             (select count(*) from usage_distinct_values where app_id = '') as rows`);
    return Number(size.rows[0]!.bytes) / Number(size.rows[0]!.rows);
  });

const main = async (): Promise<void> => {
  const elapsed = stopwatch();
  const { loadAtStart } = await announce(
    serverUrl,
    `${events} events per step, ${clients} clients, preload ${preload}`,
  );
  const template = await createServerDatabase();
  const steps: Step[] = [];
  try {
    const db = template.database.db;
    const tenant = await createTenant(db, clock, {
      tenant_id: tenantId,
      name: 'Bench MAU',
      admin_user_id: 'usr_bench',
      time_zone: 'Asia/Shanghai',
    });
    if (!tenant.ok) throw tenant.error;
    for (const appId of appIds) {
      const app = await createApp({ db, clock, scope: { tenantId }, input: { app_id: appId, name: appId } });
      if (!app.ok) throw app.error;
    }
    const metric = await createMetric(db, clock, { code: sumMetric, name: 'User actions', aggregation: 'sum' });
    if (!metric.ok) throw metric.error;
    await template.database.close();

    const plan: [string, string, number][] = [
      ['sum', sumMetric, 0],
      ['unique_count', distinctMetric, 0],
      ...(preload > 0
        ? [[`unique_count on ${fmt(preload)} distinct`, distinctMetric, preload] as [string, string, number]]
        : []),
    ];
    for (const [name, resourceType, preloaded] of plan) {
      const batches = batchesFor(resourceType);
      const step = await withClone(serverUrl, template.name, `${template.name}_${steps.length}`, async (url) => {
        const handle = await openDatabase({ kind: 'server', url, pool: { ...defaultPoolConfig, max: clients } });
        try {
          const tenantClocks = createTenantClocks(handle.db, clock);
          const send = (batch: unknown[]) => async () => {
            const result = await ingestEvents(handle.db, { clock, tenantClocks }, batch);
            if (result.accepted !== batch.length) throw new Error(`${name}: ${JSON.stringify(result).slice(0, 300)}`);
          };
          if (preloaded > 0) {
            // A first batch opens the bucket the preload fills.
            await send(batches[0]!)();
            const loading = stopwatch();
            await preloadDistinct(url, preloaded);
            console.log(`  preloaded ${fmt(preloaded)} distinct users in ${fmt(loading.seconds(), 1)} s`);
          }
          let next = preloaded > 0 ? 1 : 0;
          const stats = await run(() => send(batches[next++]!)(), batches.length - next, clients, 600_000);
          const counted = (batches.length - (preloaded > 0 ? 1 : 0)) * maxBatchEvents;
          const result: Step = {
            name,
            eventsPerSecond: Math.round((counted * 1000) / stats.elapsedMs),
            p50Ms: stats.p50Ms,
            p99Ms: stats.p99Ms,
          };
          await handle.close();
          if (resourceType === distinctMetric) result.bytesPerValue = await verifyDistinct(url, preloaded);
          return result;
        } finally {
          await handle.close().catch(() => undefined);
        }
      });
      steps.push(step);
      console.log(
        `  ${name.padEnd(34)} ${fmt(step.eventsPerSecond).padStart(7)} events/s  batch p50 ${fmt(step.p50Ms)} p99 ${fmt(step.p99Ms)} ms`,
      );
    }
  } finally {
    await template.database.destroy();
  }
  const sum = steps[0]!;
  console.log(
    `\n${table(
      ['step', 'events/s', 'vs sum', 'batch p50 / p99 ms', 'bytes per distinct value'],
      steps.map((step) => [
        step.name,
        fmt(step.eventsPerSecond),
        `${fmt(step.eventsPerSecond / sum.eventsPerSecond, 2)}×`,
        `${fmt(step.p50Ms)} / ${fmt(step.p99Ms)}`,
        step.bytesPerValue === undefined ? '' : fmt(step.bytesPerValue),
      ]),
    )}`,
  );
  const headlines: Headline[] = steps.slice(1).map((step) => ({
    measure: `${step.name}, in process, ${clients} clients, batches of 1,000`,
    value: step.eventsPerSecond,
    unit: 'events/s',
    better: 'higher',
    note: `${fmt(step.bytesPerValue ?? 0)} bytes per distinct value`,
    baseline: { what: 'the same events into a sum metric', value: sum.eventsPerSecond },
  }));
  const out = writeResults('metrics-ingest', loadAtStart, headlines, { steps });
  console.log(`figures written to ${out}; total run time ${fmt(elapsed.seconds(), 1)} s`);
};

await main();
