/**
 * Quickstart: the billing service driven through its typed client only, as an outside program
 * would. As platform admin it creates a test clock, a tenant living on it, a webhook endpoint
 * for the tenant (a receiver this program runs, verifying every signature), an app and a plan
 * with metered API calls; subscribes the tenant (paid by the sandbox payment method, which
 * always succeeds), ingests usage above what the plan includes, advances the clock past the end
 * of the month, then prints the tenant's invoices and the webhooks it received.
 *
 *   BILLING_URL=http://127.0.0.1:8080 \
 *   BILLING_TOKEN="$(npx billing token --role platform_admin service)" \
 *   npm run example:quickstart
 *
 * The token needs the platform_admin role, and the service role for usage ingestion. The webhook
 * receiver listens on 127.0.0.1: the service must allow internal addresses
 * (BILLING_WEBHOOK_ALLOW_PRIVATE, on by default on the embedded database).
 */
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createBillingClient, type Schema } from '../client/index.js';
import { verifyWebhook } from '../client/verify-webhook.js';

const required = (name: string): string => {
  const value = process.env[name];
  if (value === undefined || value === '') {
    console.error(`${name} is not set: see the comment at the top of examples/quickstart.ts`);
    process.exit(2);
  }
  return value;
};

const billing = createBillingClient({
  baseUrl: process.env.BILLING_URL ?? 'http://127.0.0.1:8080',
  token: required('BILLING_TOKEN'),
});

/** The data of a successful call; an error answer ends the example with its envelope. */
const ok = <Data>(step: string, result: { data?: Data; error?: unknown; response: Response }): Data => {
  if (result.data === undefined) {
    throw new Error(`${step}: ${result.response.status} ${JSON.stringify(result.error)}`);
  }
  return result.data;
};

// Fresh ids each run, so the example can run again on the same service.
const run = randomUUID().slice(0, 8);

// A test clock: the tenant lives at its time, and time passes only when the clock is advanced.
const start = '2026-01-01T00:00:00Z';
const clock = ok(
  'create the test clock',
  await billing.POST('/admin/test-clocks', { body: { frozen_time: start, name: `quickstart ${run}` } }),
).data;
console.log(`test clock ${clock.id} at ${clock.frozen_time}`);

const tenant = ok(
  'create the tenant',
  await billing.POST('/admin/tenants', {
    body: {
      name: `Quickstart ${run}`,
      admin_user_id: `usr_quickstart_${run}`,
      currency: 'CNY',
      time_zone: 'UTC',
      test_clock_id: clock.id,
    },
  }),
).data;
const tenantId = tenant.tenant_id;
console.log(`tenant ${tenantId} (${tenant.name}, ${tenant.currency}, tax rate ${tenant.tax_rate})`);

// The webhook receiver: every delivery's signature is checked before its event is believed.
const received = new Map<string, { type: string }>();
let secret = '';
const receiver = createServer((request, response) => {
  const chunks: Buffer[] = [];
  request.on('data', (chunk: Buffer) => chunks.push(chunk));
  request.on('end', () => {
    try {
      // Signed at the service's real time, not the test clock's.
      const event = verifyWebhook(secret, request.headers, Buffer.concat(chunks).toString('utf8')) as {
        id: string;
        type: string;
      };
      received.set(event.id, event);
      response.writeHead(204).end();
    } catch (error) {
      console.error(`webhook refused: ${String(error)}`);
      response.writeHead(400).end();
    }
  });
});
await new Promise<void>((listening) => receiver.listen(0, '127.0.0.1', listening));
const { port } = receiver.address() as AddressInfo;
const endpoint = ok(
  'create the webhook endpoint',
  await billing.POST('/billing/webhook-endpoints/{tenant_id}', {
    params: { path: { tenant_id: tenantId } },
    body: { url: `http://127.0.0.1:${port}/billing-webhooks`, description: 'quickstart receiver' },
  }),
).data;
if (endpoint.secret === undefined) throw new Error('the new endpoint came without its secret');
secret = endpoint.secret;
console.log(`webhook endpoint ${endpoint.id} -> ${endpoint.url}`);

const app = ok(
  'create the app',
  await billing.POST('/admin/tenants/{tenant_id}/apps', {
    params: { path: { tenant_id: tenantId } },
    body: { name: 'Customer portal' },
  }),
).data;
console.log(`app ${app.app_id} (${app.name})`);

const plan = ok(
  'create the plan',
  await billing.POST('/admin/plans', {
    body: {
      plan_id: `quickstart-${run}`,
      name: 'Quickstart Pro',
      currency: 'CNY',
      monthly_price: 99,
      trial_days: 0,
      resources: [{ resource_type: 'api_calls', included_units: 1000, overage_unit_price: '0.01' }],
    },
  }),
).data;
console.log(`plan ${plan.plan_id} (${plan.name})`);

const subscription = ok(
  'subscribe the tenant',
  await billing.POST('/billing/subscriptions/{tenant_id}', {
    params: { path: { tenant_id: tenantId }, header: { 'idempotency-key': randomUUID() } },
    body: { plan_id: plan.plan_id, billing_cycle: 'monthly', trial: false, payment_method: 'sandbox_success' },
  }),
).data;
console.log(`subscription ${subscription.status}, period ends ${subscription.current_period_end}`);

/** Moves the test clock on: everything due for its tenants by then happens, in order. */
const advanceClock = async (to: string): Promise<void> => {
  const advanced = ok(
    'advance the clock',
    await billing.POST('/admin/test-clocks/{clock_id}/advance', {
      params: { path: { clock_id: clock.id } },
      body: { to },
    }),
  ).data;
  console.log(
    `clock advanced ${advanced.from} -> ${advanced.to} in ${advanced.steps} steps: ` +
      `${advanced.subscriptions} subscription advances, ${advanced.failures.length} failures`,
  );
};

// Ten days into the month, its usage so far: 1,500 API calls against 1,000 included.
await advanceClock('2026-01-11T00:00:00Z');
const ingested = ok(
  'ingest usage',
  await billing.POST('/billing/usage/events', {
    body: {
      events: [
        {
          event_id: `evt_${randomUUID()}`,
          tenant_id: tenantId,
          app_id: app.app_id,
          resource_type: 'api_calls',
          quantity: 1500,
          // Within the tenant's first period, and not after its clock's time.
          timestamp: '2026-01-10T12:00:00Z',
        },
      ],
    },
  }),
).data;
console.log(`usage: ${ingested.accepted} accepted, ${ingested.duplicates} duplicates, ${ingested.rejected} rejected`);
for (const result of ingested.results)
  if (result.status === 'rejected') console.error(`  rejected: ${JSON.stringify(result)}`);

// A month and a few days on: the renewal, and the metered overage once its late-event window closed.
await advanceClock('2026-02-05T00:00:00Z');

const invoices = ok(
  'list the invoices',
  await billing.GET('/billing/records/{tenant_id}/search', {
    params: { path: { tenant_id: tenantId }, query: { page_size: 100 } },
  }),
);
const describe = (invoice: Schema<'BillingRecordResponse'>): string =>
  [
    invoice.invoice_number,
    invoice.status,
    `${invoice.total_amount} ${invoice.currency}`,
    `(net ${invoice.amount} + tax ${invoice.tax_amount})`,
    invoice.description,
  ].join('  ');
console.log(`invoices of ${tenantId}: ${invoices.total}`);
for (const invoice of invoices.items) console.log(`  ${describe(invoice)}`);

// Every event the tenant has should arrive as a webhook within seconds (one by one, each once).
const events = ok(
  'list the events',
  await billing.GET('/billing/events/{tenant_id}', {
    params: { path: { tenant_id: tenantId }, query: { page_size: 100 } },
  }),
);
for (let waited = 0; received.size < events.total && waited < 30_000; waited += 200) {
  await new Promise((resume) => setTimeout(resume, 200));
}
receiver.close();
const types = [...received.values()].map((event) => event.type);
console.log(`webhooks received: ${received.size} of ${events.total} events (${[...new Set(types)].join(', ')})`);
if (received.size < events.total) {
  console.error('not every event arrived as a webhook within 30 s');
  process.exit(1);
}
