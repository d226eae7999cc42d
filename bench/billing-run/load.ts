import type pg from 'pg';
import { ManualClock } from '../../src/core/clock.js';
import { resourceAggregation } from '../../src/core/resources.js';
import { createPlan } from '../../src/modules/plans/create-plan.js';
import type { TestDatabase } from '../../src/testing/test-database.js';
import { postAll, type Posting } from '../lib/ledger.js';
import { withClient } from '../lib/server.js';
import { unnestInsert } from '../lib/sql.js';
import { stepTimer, stopwatch } from '../lib/timing.js';
import { loadInvoices, loadSubscriptions } from './load-subscriptions.js';
import {
  anchorBase,
  balanceOf,
  base36,
  currency,
  dayMs,
  iso,
  meteredResources,
  plans,
  type BenchTenant,
} from './workload.js';

/**
 * The template's data, loaded in bulk with unnest INSERTs that go through every constraint and
 * trigger of the schema (the plans are made through the service before).
 */

const loadTenants = async (client: pg.Client, tenants: BenchTenant[]): Promise<void> => {
  const createdAt = new Date(anchorBase - 30 * dayMs);
  await unnestInsert({
    client,
    table: 'tenants',
    columns: [
      ['id', 'text'],
      ['name', 'text'],
      ['currency', 'text'],
      ['time_zone', 'text'],
      ['tax_rate', 'numeric'],
      ['admin_user_id', 'text'],
      ['status', 'text'],
      ['created_at', 'timestamptz'],
      ['updated_at', 'timestamptz'],
    ],
    rows: tenants.map((t) => [
      t.id,
      `Bench ${t.id}`,
      currency,
      t.timeZone,
      t.taxRate,
      `usr_${t.id}`,
      'active',
      iso(createdAt),
      iso(createdAt),
    ]),
  });
  await unnestInsert({
    client,
    table: 'apps',
    columns: [
      ['tenant_id', 'text'],
      ['id', 'text'],
      ['name', 'text'],
      ['status', 'text'],
      ['created_at', 'timestamptz'],
      ['updated_at', 'timestamptz'],
    ],
    rows: tenants.map((t) => [t.id, t.appId, `App ${t.id}`, 'active', iso(createdAt), iso(createdAt)]),
  });
};

/** The credit balances of the tenants that pay from one, posted with ledger_post a day into the period. */
const loadBalances = (client: pg.Client, tenants: BenchTenant[]): Promise<void> =>
  postAll(
    client,
    tenants
      .filter((t) => balanceOf[t.payment] > 0n)
      .map((t): Posting => ({
        tenantId: t.id,
        transactionId: `ctr_b${base36(t.index, 15)}`,
        type: 'credit',
        amount: balanceOf[t.payment],
        source: 'top_up',
        sourceId: null,
        remark: 'bench top-up',
        at: new Date(t.calendar.start.getTime() + dayMs),
        currency,
        account: 'cash',
      })),
  );

/** Three days of rollups per metered resource, inside the current period. */
const loadUsage = (client: pg.Client, tenants: BenchTenant[]): Promise<void> =>
  unnestInsert({
    client,
    table: 'usage_daily',
    columns: [
      ['tenant_id', 'text'],
      ['app_id', 'text'],
      ['resource_type', 'text'],
      ['usage_date', 'date'],
      ['aggregation', 'text'],
      ['quantity', 'bigint'],
      ['latest_at', 'timestamptz'],
      ['event_count', 'bigint'],
      ['updated_at', 'timestamptz'],
    ],
    rows: tenants.flatMap((t) =>
      meteredResources.flatMap((resource) =>
        t.calendar.usageDates.map((date, d) => {
          const at = `${date}T12:00:00Z`;
          return [
            t.id,
            t.appId,
            resource,
            date,
            resourceAggregation[resource],
            String(t.usage[resource][d]),
            at,
            resource === 'api_requests' ? '200' : '24',
            at,
          ];
        }),
      ),
    ),
  });

/** Loads the template; seconds per step. */
const loadTemplate = async (url: string, tenants: BenchTenant[]): Promise<Record<string, number>> => {
  const { timed, steps } = stepTimer();
  await withClient(url, async (client) => {
    await timed('tenants+apps', () => loadTenants(client, tenants));
    // Three connections (the invoices and then the subscriptions that name them on one): both cores busy.
    await Promise.all([
      withClient(url, async (other) => {
        await timed('current invoices', () => loadInvoices(other, tenants));
        await timed('subscriptions', () => loadSubscriptions(other, tenants));
      }),
      withClient(url, (other) => timed('credit balances (ledger_post)', () => loadBalances(other, tenants))),
      withClient(url, (other) => timed('usage rollups', () => loadUsage(other, tenants))),
    ]);
    await timed('vacuum analyze', () => client.query('vacuum analyze'));
  });
  return Object.fromEntries(steps.map(({ step, ms }) => [step, Number((ms / 1000).toFixed(1))]));
};

/**
 * The two metered plans made through the service (createPlan), then the rest in bulk; the
 * template's handle is closed (a database is cloned only while nobody is connected to it).
 */
export const prepareTemplate = async (
  template: TestDatabase,
  url: string,
  tenants: BenchTenant[],
): Promise<{ seconds: number; steps: Record<string, number>; databaseSize: string }> => {
  const loading = stopwatch();
  const clock = new ManualClock('2025-10-01T00:00:00Z');
  for (const plan of plans) {
    const created = await createPlan(template.db, clock, {
      plan_id: plan.id,
      name: plan.name,
      currency,
      monthly_price: plan.monthly,
      trial_days: 0,
      grace_period_days: 7,
      resources: plan.resources,
    });
    if (!created.ok) throw new Error(`plan ${plan.id}: ${created.error.message}`);
  }
  await template.close();
  const steps = await loadTemplate(url, tenants);
  const seconds = Number(loading.seconds().toFixed(1));
  const databaseSize = await withClient(url, async (client) => {
    const { rows } = await client.query<{ size: string }>(
      'select pg_size_pretty(pg_database_size(current_database())) as size',
    );
    return rows[0]?.size ?? '?';
  });
  console.log(
    `template loaded in ${seconds} s (${Object.entries(steps)
      .map(([k, v]) => `${k} ${v} s`)
      .join(', ')}), ${databaseSize}`,
  );
  return { seconds, steps, databaseSize };
};
