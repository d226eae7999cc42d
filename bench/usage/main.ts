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
 * Prints a table (events/s, ratio to the baseline; report.ts), writes bench/results/usage-ingest.json
 * and drops every database it made. The workload is workload.ts and batches.ts, the paths paths.ts,
 * a step step.ts, the counts verify.ts.
 *
 * Knobs (optional): BENCH_EVENTS=200000 per step, BENCH_CLIENTS=1,4,8,16, BENCH_SEED=20260115,
 * BENCH_STEP_CAP_SECONDS=90 (a step stops early after that long; the table marks it),
 * BENCH_PATHS=in-process,http (the baseline always runs); --quick: 10,000 events at 4 clients.
 */
import { createApp } from '../../src/modules/apps/create-app.js';
import { createTenant } from '../../src/modules/tenants/create-tenant.js';
import { bearer } from '../lib/app.js';
import { seededRandom } from '../lib/random.js';
import { announce } from '../lib/scenario.js';
import { createServerDatabase, withClient } from '../lib/server.js';
import { fmt } from '../lib/table.js';
import { stopwatch } from '../lib/timing.js';
import { toBatches } from './batches.js';
import { batchSize, clientCounts, clock, eventsPerStep, paths, seed, serverUrl } from './config.js';
import { report } from './report.js';
import { runStep, type StepResult, type Workload } from './step.js';
import { generateEvents, tenants } from './workload.js';

const main = async (): Promise<void> => {
  const elapsed = stopwatch();
  const { facts, loadAtStart } = await announce(
    serverUrl,
    `${eventsPerStep} events per step in batches of ${batchSize}, clients ${clientCounts.join(', ')}, seed ${seed}`,
  );

  const generating = stopwatch();
  const random = seededRandom(seed);
  const workload: Workload = {
    measured: toBatches(generateEvents(random, eventsPerStep, '')),
    warmUp: toBatches(generateEvents(random, Math.max(...clientCounts) * batchSize, 'warm_')),
  };
  console.log(`workload generated in ${fmt(generating.seconds(), 1)} s`);

  const template = await createServerDatabase();
  const results: StepResult[] = [];
  try {
    for (const tenant of tenants) {
      const created = await createTenant(template.database.db, clock, {
        tenant_id: tenant.id,
        name: `Bench ${tenant.id}`,
        admin_user_id: 'usr_bench',
        time_zone: tenant.timeZone,
      });
      if (!created.ok) throw new Error(`tenant ${tenant.id}: ${created.error.message}`);
      for (const appId of tenant.appIds) {
        const app = await createApp({
          db: template.database.db,
          clock,
          scope: { tenantId: tenant.id },
          input: { app_id: appId, name: appId },
        });
        if (!app.ok) throw new Error(`app ${appId}: ${app.error.message}`);
      }
    }
    await withClient(template.url, (client) => client.query('vacuum analyze'));
    // A database is cloned only while nobody is connected to it.
    await template.database.close();

    const authorization = await bearer({ userId: 'svc_bench', roles: ['service'] }, clock);
    // Paths interleaved per client count, so a ratio compares figures taken minutes apart at most.
    for (const clients of clientCounts) {
      for (const path of paths) {
        const result = await runStep({ templateName: template.name, path, clients, workload, authorization });
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
    await template.database.destroy();
  }

  const out = report(results, loadAtStart, facts);
  console.log(`figures written to ${out}`);
  console.log(`total run time: ${fmt(elapsed.seconds(), 1)} s`);
};

await main();
