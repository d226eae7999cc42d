/**
 * Billing events: how fast their webhooks reach receivers, and what writing them costs the
 * billing run.
 *
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres npm run bench -- --only=events [--quick]
 *
 *   - delivery:    a fresh migrated database, one tenant with BENCH_ENDPOINTS (4) webhook endpoints,
 *                  each a local receiver (node:http in this process, answering 204), and
 *                  BENCH_EVENTS (5,000; --quick 1,000) events written through recordEvents, 1,000 a
 *                  transaction, so the fan-out trigger makes one delivery per event and endpoint.
 *                  Then the delivery loop the server's worker runs (deliverDueWebhooks: leases,
 *                  8 in flight, each outcome recorded) until none is pending: deliveries per
 *                  second. Baseline: the same number of signed requests sent by the same sender
 *                  to the same receivers, 8 at a time, with no database: what HTTP alone allows.
 *   - billing run: the billing-run scenario's template (BENCH_SUBSCRIPTIONS, 10,000; --quick 500
 *                  renewals), its renewal run (one runner) on three clones: events turned off (a
 *                  rule rewrites their INSERT into nothing, so the run still builds each event's
 *                  data but the database writes none), as built, and as built with the tenants'
 *                  events sent to BENCH_ENDPOINTS platform-wide endpoints (the trigger's fan-out).
 * Checks every delivery arrived once and every run advanced every subscription, and throws if not.
 * Prints a table, writes bench/results/events.json and drops every database it made.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { systemClock } from '../../src/core/clock.js';
import { defaultPoolConfig, openDatabase, type Db } from '../../src/db/database.js';
import { runBilling } from '../../src/modules/billing-run/billing-run.js';
import { recordEvents } from '../../src/modules/events/record-event.js';
import { createTenant } from '../../src/modules/tenants/create-tenant.js';
import { createEndpoint } from '../../src/modules/webhooks/create-endpoint.js';
import { deliverDueWebhooks, deliveryConcurrency } from '../../src/modules/webhooks/deliver-webhooks.js';
import { signWebhook } from '../../src/modules/notifications/webhook-signature.js';
import { createWebhookSender, type WebhookSender } from '../../src/modules/webhooks/send-webhook.js';
import { prepareTemplate } from '../billing-run/load.js';
import { generateTenants, minuteMs } from '../billing-run/workload.js';
import type { Headline } from '../lib/results.js';
import { writeResults } from '../lib/results.js';
import { announce } from '../lib/scenario.js';
import { createServerDatabase, quickMode, requireServerUrl, withClient, withClone } from '../lib/server.js';
import { fmt, table } from '../lib/table.js';
import { stopwatch } from '../lib/timing.js';

const serverUrl = requireServerUrl('events');
const quick = quickMode();
const eventCount = Number(process.env.BENCH_EVENTS ?? (quick ? 1_000 : 5_000));
const endpointCount = Number(process.env.BENCH_ENDPOINTS ?? 4);
const subscriptionCount = Number(process.env.BENCH_SUBSCRIPTIONS ?? (quick ? 500 : 10_000));
const eventsPerTransaction = 1_000;

interface Receivers {
  urls: string[];
  /** webhook-id → how many times it arrived, per receiver. */
  seen: Map<string, number>[];
  close(): Promise<void>;
}

const startReceivers = async (count: number): Promise<Receivers> => {
  const servers: Server[] = [];
  const seen: Map<string, number>[] = [];
  const urls: string[] = [];
  for (let i = 0; i < count; i += 1) {
    const arrivals = new Map<string, number>();
    const server = createServer((request, response) => {
      request.resume();
      request.on('end', () => {
        const id = String(request.headers['webhook-id']);
        arrivals.set(id, (arrivals.get(id) ?? 0) + 1);
        response.writeHead(204).end();
      });
    });
    await new Promise<void>((listening) => server.listen(0, '127.0.0.1', listening));
    servers.push(server);
    seen.push(arrivals);
    urls.push(`http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/${i}`);
  }
  const close = () =>
    Promise.all(servers.map((server) => new Promise<void>((closed) => server.close(() => closed())))).then(() => {});
  return { urls, seen, close };
};

/** Every receiver saw every one of `ids` exactly once. */
const checkArrivals = (receivers: Receivers, expected: number, what: string): void => {
  for (const [i, arrivals] of receivers.seen.entries()) {
    const twice = [...arrivals.values()].filter((n) => n !== 1).length;
    if (arrivals.size !== expected || twice > 0) {
      throw new Error(`${what}: receiver ${i} saw ${arrivals.size} of ${expected} ids, ${twice} more than once`);
    }
  }
};

const sampleData = (n: number) => ({
  record_id: `rec_bench${n.toString(36).padStart(8, '0')}`,
  invoice_number: `INV-2026-${String(n).padStart(6, '0')}`,
  status: 'paid',
  type: 'subscription',
  amount: 99,
  tax_amount: 5.94,
  total_amount: 104.94,
  currency: 'CNY',
  description: 'Professional Monthly Subscription',
  line_items: [
    { description: 'Professional plan, monthly', quantity: 1, unit_price: 99, amount: 99, tax_amount: 5.94 },
  ],
  created_at: '2026-04-01T00:00:00Z',
});

const deliveryStep = async (): Promise<{ ours: Record<string, number>; baseline: Record<string, number> }> => {
  const { database } = await createServerDatabase();
  const receivers = await startReceivers(endpointCount);
  const send: WebhookSender = createWebhookSender({ allowInternalAddresses: true });
  try {
    const db: Db = database.db;
    const tenant = await createTenant(db, systemClock, { name: 'Events bench', admin_user_id: 'usr_events_bench' });
    if (!tenant.ok) throw new Error(tenant.error.message);
    const scope = { tenantId: tenant.value.id };
    for (const url of receivers.urls) {
      const made = await createEndpoint({
        db,
        clock: systemClock,
        owner: scope,
        input: { url },
        allowInternalAddresses: true,
      });
      if (!made.ok) throw new Error(made.error.message);
    }
    const writing = stopwatch();
    for (let from = 0; from < eventCount; from += eventsPerTransaction) {
      const at = systemClock.now();
      const batch = Array.from({ length: Math.min(eventsPerTransaction, eventCount - from) }, (_, i) => ({
        type: 'billing_record.paid' as const,
        at,
        data: sampleData(from + i),
      }));
      await db.transaction().execute((trx) => recordEvents(trx, scope, batch));
    }
    const writeSeconds = writing.seconds();
    const deliveries = eventCount * endpointCount;
    const delivering = stopwatch();
    let delivered = 0;
    while (delivered < deliveries) {
      const counts = await deliverDueWebhooks({ db, clock: systemClock, send }, { limit: 10_000 });
      if (counts.failed + counts.errors + counts.pending > 0)
        throw new Error(`deliveries went wrong: ${JSON.stringify(counts)}`);
      if (counts.delivered === 0) throw new Error(`only ${delivered} of ${deliveries} deliveries were due`);
      delivered += counts.delivered;
    }
    const deliverSeconds = delivering.seconds();
    checkArrivals(receivers, eventCount, 'delivery');

    // The baseline: the same signed requests, the same sender and concurrency, no database.
    for (const arrivals of receivers.seen) arrivals.clear();
    const requests = receivers.urls.flatMap((url) =>
      Array.from({ length: eventCount }, (_, n) => {
        const body = JSON.stringify({ id: `evt_baseline${n}`, type: 'billing_record.paid', data: sampleData(n) });
        const timestamp = Math.floor(systemClock.now().getTime() / 1000);
        return {
          url,
          body,
          headers: {
            'content-type': 'application/json',
            'webhook-id': `evt_baseline${n}`,
            'webhook-timestamp': String(timestamp),
            'webhook-signature': signWebhook(
              'whsec_YmVuY2htYXJrIHNlY3JldCBieXRlcw==',
              `evt_baseline${n}`,
              timestamp,
              body,
            ),
          },
        };
      }),
    );
    const sending = stopwatch();
    let next = 0;
    await Promise.all(
      Array.from({ length: deliveryConcurrency }, async () => {
        for (let i = next++; i < requests.length; i = next++) {
          const outcome = await send(requests[i]!);
          if (!outcome.ok) throw new Error(`baseline request failed: ${outcome.error}`);
        }
      }),
    );
    const baselineSeconds = sending.seconds();
    checkArrivals(receivers, eventCount, 'baseline');
    return {
      ours: {
        events: eventCount,
        endpoints: endpointCount,
        deliveries,
        writeSeconds,
        deliverSeconds,
        deliveriesPerSecond: deliveries / deliverSeconds,
      },
      baseline: {
        requests: requests.length,
        seconds: baselineSeconds,
        requestsPerSecond: requests.length / baselineSeconds,
      },
    };
  } finally {
    await receivers.close();
    await database.destroy();
  }
};

type Variant = 'events off' | 'events' | 'events + fan-out';

const billingRunStep = async (): Promise<Record<Variant, number>> => {
  const tenants = generateTenants(subscriptionCount);
  const asOf = new Date(Math.max(...tenants.map((t) => t.calendar.end.getTime())) + minuteMs);
  const template = await createServerDatabase();
  const seconds = {} as Record<Variant, number>;
  const receivers = await startReceivers(endpointCount);
  try {
    await prepareTemplate(template.database, template.url, tenants);
    const variants: Variant[] = ['events off', 'events', 'events + fan-out'];
    for (const [i, variant] of variants.entries()) {
      await withClone(serverUrl, template.name, `${template.name}_v${i}`, async (url) => {
        await withClient(url, async (client) => {
          if (variant === 'events off')
            await client.query('create rule events_off as on insert to events do instead nothing');
          if (variant === 'events + fan-out') {
            for (const [n, hook] of receivers.urls.entries()) {
              await client.query(
                `insert into webhook_endpoints (id, tenant_id, url, enabled, secret, created_at, updated_at)
                 values ($1, null, $2, true, 'whsec_YmVuY2htYXJrIHNlY3JldCBieXRlcw==', now(), now())`,
                [`we_bench${String(n).padStart(11, '0')}`, hook],
              );
            }
          }
          await client.query('vacuum analyze');
        });
        const handle = await openDatabase({ kind: 'server', url, pool: { ...defaultPoolConfig, max: 1 } });
        try {
          const t0 = performance.now();
          const summary = await runBilling(handle.db, asOf);
          seconds[variant] = (performance.now() - t0) / 1000;
          if (summary.subscriptions !== subscriptionCount || summary.failures.length > 0) {
            throw new Error(
              `${variant}: advanced ${summary.subscriptions} of ${subscriptionCount}, ${summary.failures.length} failures`,
            );
          }
          const { rows } = await withClient(url, (client) =>
            client.query<{ events: number; deliveries: number }>(
              'select (select count(*)::int from events) as events, (select count(*)::int from webhook_deliveries) as deliveries',
            ),
          );
          console.log(
            `  ${variant.padEnd(16)} ${fmt(seconds[variant], 1).padStart(6)} s  ` +
              `(${fmt(subscriptionCount / seconds[variant])} renewals/s; ${rows[0]?.events} events, ${rows[0]?.deliveries} deliveries)`,
          );
        } finally {
          await handle.close();
        }
      });
    }
  } finally {
    await receivers.close();
    await template.database.destroy();
  }
  return seconds;
};

const main = async (): Promise<void> => {
  const elapsed = stopwatch();
  const { facts, loadAtStart } = await announce(
    serverUrl,
    `${eventCount} events to ${endpointCount} endpoints; billing run of ${subscriptionCount} renewals` +
      (quick ? ' (--quick)' : ''),
  );
  const delivery = await deliveryStep();
  console.log(
    table(
      ['measure', 'count', 'seconds', 'per second'],
      [
        [
          'events written (1,000 a transaction, fanned out)',
          fmt(delivery.ours.events),
          fmt(delivery.ours.writeSeconds, 2),
          fmt(delivery.ours.events! / delivery.ours.writeSeconds!),
        ],
        [
          'deliveries, through the database',
          fmt(delivery.ours.deliveries),
          fmt(delivery.ours.deliverSeconds, 2),
          fmt(delivery.ours.deliveriesPerSecond),
        ],
        [
          'signed requests alone (baseline)',
          fmt(delivery.baseline.requests),
          fmt(delivery.baseline.seconds, 2),
          fmt(delivery.baseline.requestsPerSecond),
        ],
      ],
    ),
  );
  const run = await billingRunStep();
  const headlines: Headline[] = [
    {
      measure: `webhook deliveries, ${endpointCount} local receivers`,
      value: delivery.ours.deliveriesPerSecond!,
      unit: '/s',
      better: 'higher',
      baseline: { what: 'the same requests, no database', value: delivery.baseline.requestsPerSecond! },
    },
    {
      measure: `billing run with events, ${subscriptionCount} renewals`,
      value: run.events,
      unit: 's',
      better: 'lower',
      baseline: { what: 'events turned off', value: run['events off'] },
    },
    {
      measure: `billing run with events to ${endpointCount} endpoints`,
      value: run['events + fan-out'],
      unit: 's',
      better: 'lower',
      baseline: { what: 'events turned off', value: run['events off'] },
    },
  ];
  const out = writeResults(quick ? 'events-quick' : 'events', loadAtStart, headlines, {
    facts,
    delivery,
    billingRun: run,
  });
  console.log(`figures written to ${out}`);
  console.log(`total run time: ${fmt(elapsed.seconds(), 1)} s`);
};

await main();
