/**
 * Quickstart: the billing service driven through its typed client only, as an outside program
 * would. As platform admin it creates a tenant, an app and a plan with metered API calls,
 * subscribes the tenant (paid by the sandbox payment method, which always succeeds), ingests some
 * usage, runs billing and prints the tenant's invoices.
 *
 *   BILLING_URL=http://127.0.0.1:8080 \
 *   BILLING_TOKEN="$(npx billing token --role platform_admin service)" \
 *   npm run example:quickstart
 *
 * The token needs the platform_admin role, and the service role for usage ingestion.
 */
import { randomUUID } from 'node:crypto';
import { createBillingClient, type Schema } from '../client/index.js';

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

const tenant = ok(
  'create the tenant',
  await billing.POST('/admin/tenants', {
    body: { name: `Quickstart ${run}`, admin_user_id: `usr_quickstart_${run}`, currency: 'CNY' },
  }),
).data;
const tenantId = tenant.tenant_id;
console.log(`tenant ${tenantId} (${tenant.name}, ${tenant.currency}, tax rate ${tenant.tax_rate})`);

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
          timestamp: new Date().toISOString(),
        },
      ],
    },
  }),
).data;
console.log(`usage: ${ingested.accepted} accepted, ${ingested.duplicates} duplicates, ${ingested.rejected} rejected`);

// A run as of now: the service refuses runs in the future, so renewals and the metered overage of
// this period are billed when the period ends (the first month's invoice exists already).
const billingRun = ok('run billing', await billing.POST('/admin/billing-run', { body: {} })).data;
console.log(`billing run as of ${billingRun.as_of}: ${billingRun.subscriptions} subscriptions advanced`);

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
