/**
 * Billing-run throughput: monthly renewals (invoice + period + collection + metering opened) and
 * the metered-overage close three days later, per subscription, against the bare inserts a renewal
 * must at least make.
 *
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres npm run bench -- --only=billing-run [--quick]
 *
 * Creates a fresh migrated database on that server (as the tests do) and keeps it as a template:
 * two metered plans made through the service (createPlan), then, loaded in bulk with unnest
 * INSERTs that go through every constraint and trigger of the schema, one tenant per subscription
 * (a tenant has at most one live subscription: the partial unique index subscriptions_one_live),
 * each with an app, an active monthly subscription in its 4th period whose end falls in the 20
 * hours before the run's as_of, that period's paid invoice (record, line, history, invoice
 * number INV-2026-001, its sequence row), the period row and the subscription's history, and
 * three days of usage rollups (api_requests, storage_used, user_count) inside the period. Payment
 * mix: 30% manual with a credit balance that pays everything (posted with ledger_post), 10% a
 * small balance that pays part and sandbox_success the rest, 50% sandbox_success, 10% manual and
 * no balance (their renewal stays unpaid: past due). Each step then runs on its own clone.
 *   - baseline:  the renewal's billing records, lines and period rows inserted directly, multi-row
 *                INSERTs, one transaction per 1,000 subscriptions (statements built untimed); then,
 *                the same way, the usage close's overage invoices and their lines
 *   - renewal:   runBilling(db, as_of) with 1 and then 4 concurrent runners (a pool of as many
 *                connections); the 1-runner step is profiled by a Kysely plugin that counts and
 *                times every statement
 *   - close:     on the 1-runner clone, runBilling(db, as_of + 3 days): every metered period's
 *                late-event window is over, overage is invoiced (plus the past-due subscriptions'
 *                payment retries that fall in those 3 days)
 * After each run it checks, and throws on any difference: every subscription advanced exactly one
 * period (index, start = old end, two contiguous period rows), one subscription record per
 * period, invoice numbers gapless per tenant (1..last_seq of invoice_sequences), the expected
 * statuses, payments and overage invoices (recomputed here from the seeded rollups with the
 * service's own pricing), and a second run as of the same time does nothing.
 * Prints tables, writes bench/results/billing-run.json and drops every database it made.
 *
 * Default 100,000 subscriptions with 1 and 4 runners, ~6 minutes on 2 idle cores (`npm run bench`
 * runs 4 only, ~4 minutes); `--quick`: 2,000, well under a minute. Knobs (optional):
 * BENCH_SUBSCRIPTIONS, BENCH_RUNNERS=1,4 (the first count is also the one the usage close runs
 * with), BENCH_SEED=20260315, BENCH_PROFILE=0 (no statement profile).
 */
import { cpus } from 'node:os';
import { performance } from 'node:perf_hooks';
import type {
  KyselyPlugin,
  PluginTransformQueryArgs,
  PluginTransformResultArgs,
  QueryResult,
  UnknownRow,
} from 'kysely';
import type { RootOperationNode } from 'kysely';
import pg from 'pg';
import { Temporal } from 'temporal-polyfill';
import { calendarDateIn, periodBoundary } from '../src/core/billing-calendar.js';
import { ManualClock } from '../src/core/clock.js';
import { formatInvoiceNumber, priceLine } from '../src/core/invoice-math.js';
import { resourceAggregation } from '../src/core/resources.js';
import { defaultPoolConfig, openDatabase, type DatabaseHandle } from '../src/db/database.js';
import { runBilling, type BillingRunSummary } from '../src/jobs/billing-run.js';
import { buildSearchText } from '../src/modules/billing-records/search-text.js';
import { createPlan } from '../src/modules/plans/create-plan.js';
import { createTestDatabase } from '../src/testing/test-database.js';
import { loadAverages, writeResults, type Headline } from './measure.js';
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

const serverUrl = requireServerUrl('billing-run');
const quick = quickMode();
const defaultSubscriptions = quick ? 2_000 : 100_000;
/** One runner profiled, then four; --quick stays well under a minute on a busy machine too. */
const defaultRunners = '1,4';
const subscriptionCount = Number(process.env.BENCH_SUBSCRIPTIONS ?? defaultSubscriptions);
const runnerCounts = (process.env.BENCH_RUNNERS ?? defaultRunners).split(',').map((n) => Number(n.trim()));
/** bench/results/<name>.json: the default runs keep their names, other sizes get their own file. */
const resultsName =
  subscriptionCount === defaultSubscriptions && runnerCounts.join(',') === defaultRunners
    ? quick
      ? 'billing-run-quick'
      : 'billing-run'
    : `billing-run-${subscriptionCount}-r${runnerCounts.join('-')}`;
const seed = Number(process.env.BENCH_SEED ?? 20260315);
const loadChunk = 10_000;
const baselineChunk = 1_000;
const sampleEveryMs = quick ? 500 : 5_000;
/** BENCH_PROFILE=0: no statement profile on the first runner count (to see what profiling costs). */
const profiling = process.env.BENCH_PROFILE !== '0';

// ---------------------------------------------------------------------------------------------
// Workload

/** mulberry32: a small seeded generator, so every run loads the same data. */
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
const between = (random: Random, low: number, high: number): number => low + Math.floor(random() * (high - low + 1));
const logUniform = (random: Random, low: number, high: number): number =>
  Math.floor(Math.exp(Math.log(low) + random() * (Math.log(high) - Math.log(low))));

type MeteredResource = 'api_requests' | 'storage_used' | 'user_count';
const meteredResources: MeteredResource[] = ['api_requests', 'storage_used', 'user_count'];

interface BenchPlan {
  id: string;
  name: string;
  /** Major units per month. */
  monthly: number;
  resources: { resource_type: MeteredResource; included_units: number; overage_unit_price: string }[];
}

const plans: BenchPlan[] = [
  {
    id: 'bench-basic',
    name: 'Bench Basic',
    monthly: 49,
    resources: [
      { resource_type: 'api_requests', included_units: 50_000, overage_unit_price: '0.0005' },
      { resource_type: 'storage_used', included_units: 5_000_000_000, overage_unit_price: '0.000000002' },
      { resource_type: 'user_count', included_units: 20, overage_unit_price: '1.5' },
    ],
  },
  {
    id: 'bench-pro',
    name: 'Bench Pro',
    monthly: 99,
    resources: [
      { resource_type: 'api_requests', included_units: 100_000, overage_unit_price: '0.0004' },
      { resource_type: 'storage_used', included_units: 20_000_000_000, overage_unit_price: '0.000000001' },
      { resource_type: 'user_count', included_units: 40, overage_unit_price: '1' },
    ],
  },
];
const currency = 'CNY';
const minorPerMajor = 100n;

type Payment = 'balance_full' | 'balance_part' | 'sandbox' | 'manual_unpaid';
/** Per 20 tenants: 6 pay from a balance that covers all, 2 from a small one plus the card, 10 by card, 2 never. */
const paymentOf = (index: number): Payment => {
  const slot = index % 20;
  return slot < 6 ? 'balance_full' : slot < 8 ? 'balance_part' : slot < 18 ? 'sandbox' : 'manual_unpaid';
};
const balanceOf: Record<Payment, bigint> = {
  balance_full: 50_000n,
  balance_part: 3_000n,
  sandbox: 0n,
  manual_unpaid: 0n,
};
const methodOf: Record<Payment, 'manual' | 'sandbox_success'> = {
  balance_full: 'manual',
  balance_part: 'sandbox_success',
  sandbox: 'sandbox_success',
  manual_unpaid: 'manual',
};

const timeZones = ['Asia/Shanghai', 'Asia/Shanghai', 'Asia/Shanghai', 'UTC', 'America/New_York', 'Europe/Berlin'];
const taxRates = ['0.06', '0.06', '0.09'];
/** Subscribed in November 2025: the current period (index 3) is mid-February to mid-March 2026. */
const anchorBase = Date.parse('2025-11-15T00:00:00Z');
const currentIndex = 3;
/** Period ends spread over 20 hours: a first payment retry (1 day after) never falls in the renewal run. */
const anchorSpreadMinutes = 20 * 60;
const minuteMs = 60_000;
const dayMs = 24 * 60 * minuteMs;
const invoiceYear = 2026;

interface Calendar {
  anchor: Date;
  start: Date;
  end: Date;
  nextEnd: Date;
  /** The tenant-zone dates the seeded rollups fall on, inside the period. */
  usageDates: string[];
}

const calendars = new Map<string, Calendar>();
/** Period boundaries per (zone, anchor minute), computed once: the Temporal polyfill is slow. */
const calendarOf = (timeZone: string, minute: number): Calendar => {
  const key = `${timeZone}|${minute}`;
  let calendar = calendars.get(key);
  if (calendar === undefined) {
    const anchor = new Date(anchorBase + minute * minuteMs);
    const start = periodBoundary(anchor, 'monthly', currentIndex, timeZone);
    const from = Temporal.PlainDate.from(calendarDateIn(start, timeZone));
    calendar = {
      anchor,
      start,
      end: periodBoundary(anchor, 'monthly', currentIndex + 1, timeZone),
      nextEnd: periodBoundary(anchor, 'monthly', currentIndex + 2, timeZone),
      usageDates: [1, 9, 17].map((days) => from.add({ days }).toString()),
    };
    calendars.set(key, calendar);
  }
  return calendar;
};

interface BenchTenant {
  index: number;
  id: string;
  appId: string;
  subscriptionId: string;
  recordId: string;
  timeZone: string;
  taxRate: string;
  plan: BenchPlan;
  payment: Payment;
  calendar: Calendar;
  /** resource → per seeded day. */
  usage: Record<MeteredResource, number[]>;
}

const base36 = (n: number, width: number): string => n.toString(36).padStart(width, '0');

const generateTenants = (count: number): BenchTenant[] => {
  const random = seededRandom(seed);
  return Array.from({ length: count }, (_, index) => {
    const timeZone = timeZones[index % timeZones.length]!;
    const minute = Math.floor(random() * anchorSpreadMinutes);
    return {
      index,
      id: `tnt_bench_${base36(index, 6)}`,
      appId: `app_bench_${base36(index, 6)}`,
      subscriptionId: `sub_b${base36(index, 15)}`,
      recordId: `rec_a${base36(index, 15)}`,
      timeZone,
      taxRate: taxRates[index % taxRates.length]!,
      plan: plans[index % 3 === 0 ? 1 : 0]!,
      payment: paymentOf(index),
      calendar: calendarOf(timeZone, minute),
      usage: {
        api_requests: [0, 1, 2].map(() => between(random, 5_000, 40_000)),
        storage_used: [0, 1, 2].map(() => logUniform(random, 100_000_000, 20_000_000_000)),
        user_count: [0, 1, 2].map(() => between(random, 1, 30)),
      },
    };
  });
};

const priceOf = (plan: BenchPlan): bigint => BigInt(plan.monthly) * minorPerMajor;
const describePlan = (plan: BenchPlan): string => `${plan.name} Monthly Subscription`;

/** What the close must invoice for a tenant: lines with overage, and whether the invoice is worth a minor unit. */
const expectedOverage = (tenant: BenchTenant) => {
  const lines = tenant.plan.resources.flatMap((resource) => {
    const days = tenant.usage[resource.resource_type];
    const total = BigInt(
      resourceAggregation[resource.resource_type] === 'sum' ? days.reduce((sum, x) => sum + x, 0) : Math.max(...days),
    );
    const included = BigInt(resource.included_units);
    const over = total > included ? total - included : 0n;
    if (over === 0n) return [];
    const priced = priceLine(
      { quantity: over, unitPrice: resource.overage_unit_price, taxRate: tenant.taxRate },
      currency,
    );
    return [
      { ...priced, resourceType: resource.resource_type, quantity: over, unitPrice: resource.overage_unit_price },
    ];
  });
  const owed = lines.some((line) => line.amount > 0n);
  return {
    owed,
    priced: owed ? lines : [],
    lines: owed ? lines.length : 0,
    total: owed ? lines.reduce((s, l) => s + l.amount + l.taxAmount, 0n) : 0n,
  };
};

// ---------------------------------------------------------------------------------------------
// Database helpers

/** `insert into <table> (<columns>) select * from unnest($1::<type>[], …)`: one statement, any row count. */
const unnestInsert = async (
  client: pg.Client,
  table: string,
  columns: [name: string, type: string][],
  rows: unknown[][],
): Promise<void> => {
  for (let from = 0; from < rows.length; from += loadChunk) {
    const chunk = rows.slice(from, from + loadChunk);
    const arrays = columns.map((_, c) => chunk.map((row) => row[c] ?? null));
    await client.query(
      `insert into ${table} (${columns.map(([name]) => name).join(', ')})
       select * from unnest(${columns.map(([, type], c) => `$${c + 1}::${type}[]`).join(', ')})`,
      arrays,
    );
  }
};

const iso = (date: Date): string => date.toISOString();

interface SeededInvoice {
  description: string;
  lineDescription: string;
  amount: bigint;
  taxAmount: bigint;
}

const currentInvoiceOf = (tenant: BenchTenant): SeededInvoice => {
  const description = describePlan(tenant.plan);
  const { start, end } = tenant.calendar;
  const line = priceLine({ quantity: 1n, unitPrice: String(tenant.plan.monthly), taxRate: tenant.taxRate }, currency);
  return {
    description,
    lineDescription: `${description}, ${calendarDateIn(start, tenant.timeZone)} to ${calendarDateIn(end, tenant.timeZone)}`,
    amount: line.amount,
    taxAmount: line.taxAmount,
  };
};

const loadTemplate = async (url: string, tenants: BenchTenant[]): Promise<Record<string, number>> =>
  withClient(url, async (client) => {
    const timings: Record<string, number> = {};
    const timed = async (label: string, work: () => Promise<void>) => {
      const t0 = performance.now();
      await work();
      timings[label] = Number(((performance.now() - t0) / 1000).toFixed(1));
    };
    const createdAt = new Date(anchorBase - 30 * dayMs);
    await timed('tenants+apps', async () => {
      await unnestInsert(
        client,
        'tenants',
        [
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
        tenants.map((t) => [
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
      );
      await unnestInsert(
        client,
        'apps',
        [
          ['tenant_id', 'text'],
          ['id', 'text'],
          ['name', 'text'],
          ['status', 'text'],
          ['created_at', 'timestamptz'],
          ['updated_at', 'timestamptz'],
        ],
        tenants.map((t) => [t.id, t.appId, `App ${t.id}`, 'active', iso(createdAt), iso(createdAt)]),
      );
    });

    const invoices = tenants.map(currentInvoiceOf);
    const firstNumber = formatInvoiceNumber(invoiceYear, 1);
    const loadInvoices = (client: pg.Client) =>
      timed('current invoices', async () => {
        await unnestInsert(
          client,
          'billing_records',
          [
            ['tenant_id', 'text'],
            ['id', 'text'],
            ['type', 'text'],
            ['status', 'text'],
            ['currency', 'text'],
            ['description', 'text'],
            ['amount', 'bigint'],
            ['tax_amount', 'bigint'],
            ['total_amount', 'bigint'],
            ['invoice_number', 'text'],
            ['search_text', 'text'],
            ['created_at', 'timestamptz'],
            ['finalized_at', 'timestamptz'],
            ['updated_at', 'timestamptz'],
          ],
          tenants.map((t, i) => {
            const inv = invoices[i]!;
            const at = iso(t.calendar.start);
            return [
              t.id,
              t.recordId,
              'subscription',
              'paid',
              currency,
              inv.description,
              String(inv.amount),
              String(inv.taxAmount),
              String(inv.amount + inv.taxAmount),
              firstNumber,
              buildSearchText([firstNumber, buildSearchText([t.recordId, inv.description, inv.lineDescription])]),
              at,
              at,
              at,
            ];
          }),
        );
        await unnestInsert(
          client,
          'billing_record_lines',
          [
            ['tenant_id', 'text'],
            ['record_id', 'text'],
            ['line_no', 'int'],
            ['description', 'text'],
            ['resource_type', 'text'],
            ['quantity', 'bigint'],
            ['unit_price', 'numeric'],
            ['amount', 'bigint'],
            ['tax_rate', 'numeric'],
            ['tax_amount', 'bigint'],
          ],
          tenants.map((t, i) => {
            const inv = invoices[i]!;
            return [
              t.id,
              t.recordId,
              1,
              inv.lineDescription,
              'subscription',
              '1',
              String(t.plan.monthly),
              String(inv.amount),
              t.taxRate,
              String(inv.taxAmount),
            ];
          }),
        );
        await unnestInsert(
          client,
          'billing_record_events',
          [
            ['tenant_id', 'text'],
            ['record_id', 'text'],
            ['seq', 'int'],
            ['from_status', 'text'],
            ['to_status', 'text'],
            ['actor', 'text'],
            ['reason', 'text'],
            ['occurred_at', 'timestamptz'],
          ],
          tenants.flatMap((t) => {
            const at = iso(t.calendar.start);
            return [
              [t.id, t.recordId, 1, null, 'draft', 'billing-run', null, at],
              [t.id, t.recordId, 2, 'draft', 'pending', 'billing-run', null, at],
              [t.id, t.recordId, 3, 'pending', 'paid', 'billing-run', 'paid by sandbox_success', at],
            ];
          }),
        );
        await unnestInsert(
          client,
          'invoice_sequences',
          [
            ['tenant_id', 'text'],
            ['year', 'int'],
            ['last_seq', 'int'],
          ],
          tenants.map((t) => [t.id, invoiceYear, 1]),
        );
      });

    const loadSubscriptions = (client: pg.Client) =>
      timed('subscriptions', async () => {
        await unnestInsert(
          client,
          'subscriptions',
          [
            ['tenant_id', 'text'],
            ['id', 'text'],
            ['plan_id', 'text'],
            ['plan_version', 'int'],
            ['admin_user_id', 'text'],
            ['status', 'text'],
            ['billing_cycle', 'text'],
            ['amount', 'bigint'],
            ['currency', 'text'],
            ['billing_anchor', 'timestamptz'],
            ['period_index', 'int'],
            ['current_period_start', 'timestamptz'],
            ['current_period_end', 'timestamptz'],
            ['grace_period_days', 'int'],
            ['auto_renew', 'boolean'],
            ['cancel_at_period_end', 'boolean'],
            ['payment_method', 'text'],
            ['payment_attempts', 'int'],
            ['next_run_at', 'timestamptz'],
            ['created_at', 'timestamptz'],
            ['updated_at', 'timestamptz'],
          ],
          tenants.map((t) => [
            t.id,
            t.subscriptionId,
            t.plan.id,
            1,
            `usr_${t.id}`,
            'active',
            'monthly',
            String(priceOf(t.plan)),
            currency,
            iso(t.calendar.anchor),
            currentIndex,
            iso(t.calendar.start),
            iso(t.calendar.end),
            7,
            true,
            false,
            methodOf[t.payment],
            0,
            iso(t.calendar.end),
            iso(t.calendar.anchor),
            iso(t.calendar.start),
          ]),
        );
        await unnestInsert(
          client,
          'subscription_periods',
          [
            ['tenant_id', 'text'],
            ['subscription_id', 'text'],
            ['period_start', 'timestamptz'],
            ['period_end', 'timestamptz'],
            ['plan_id', 'text'],
            ['plan_version', 'int'],
            ['billing_cycle', 'text'],
            ['amount', 'bigint'],
            ['record_id', 'text'],
            ['created_at', 'timestamptz'],
          ],
          tenants.map((t) => [
            t.id,
            t.subscriptionId,
            iso(t.calendar.start),
            iso(t.calendar.end),
            t.plan.id,
            1,
            'monthly',
            String(priceOf(t.plan)),
            t.recordId,
            iso(t.calendar.start),
          ]),
        );
        await unnestInsert(
          client,
          'subscription_events',
          [
            ['tenant_id', 'text'],
            ['subscription_id', 'text'],
            ['seq', 'int'],
            ['kind', 'text'],
            ['from_status', 'text'],
            ['to_status', 'text'],
            ['plan_id', 'text'],
            ['billing_cycle', 'text'],
            ['record_id', 'text'],
            ['actor', 'text'],
            ['occurred_at', 'timestamptz'],
          ],
          tenants.map((t) => [
            t.id,
            t.subscriptionId,
            1,
            'renewed',
            'active',
            'active',
            t.plan.id,
            'monthly',
            t.recordId,
            'billing-run',
            iso(t.calendar.start),
          ]),
        );
      });

    const loadBalances = (client: pg.Client) =>
      timed('credit balances (ledger_post)', async () => {
        const funded = tenants.filter((t) => balanceOf[t.payment] > 0n);
        for (let from = 0; from < funded.length; from += loadChunk) {
          const chunk = funded.slice(from, from + loadChunk);
          const { rows } = await client.query<{ posted: number }>(
            `select count(*) filter (where ledger_post(t, ctr, 'credit', amount, 'top_up', null, 'bench top-up', at,
                                                   $5, 'cash', 'source:top_up') is not null)::int as posted
             from unnest($1::text[], $2::text[], $3::bigint[], $4::timestamptz[]) as u (t, ctr, amount, at)`,
            [
              chunk.map((t) => t.id),
              chunk.map((t) => `ctr_b${base36(t.index, 15)}`),
              chunk.map((t) => String(balanceOf[t.payment])),
              chunk.map((t) => iso(new Date(t.calendar.start.getTime() + dayMs))),
              currency,
            ],
          );
          if (rows[0]?.posted !== chunk.length)
            throw new Error(`ledger_post credited ${rows[0]?.posted} of ${chunk.length}`);
        }
      });

    const loadUsage = (client: pg.Client) =>
      timed('usage rollups', async () => {
        await unnestInsert(
          client,
          'usage_daily',
          [
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
          tenants.flatMap((t) =>
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
        );
      });
    // Three connections (the invoices and then the subscriptions that name them on one): both cores busy.
    await Promise.all([
      withClient(url, async (client) => {
        await loadInvoices(client);
        await loadSubscriptions(client);
      }),
      withClient(url, loadBalances),
      withClient(url, loadUsage),
    ]);
    await timed('vacuum analyze', async () => {
      await client.query('vacuum analyze');
    });
    return timings;
  });

// ---------------------------------------------------------------------------------------------
// Profiling: every statement Kysely runs, counted and timed from compile to result

interface StatementStats {
  count: number;
  ms: number;
}

const tableIn = (node: unknown, depth = 0): string | undefined => {
  if (node === null || typeof node !== 'object' || depth > 6) return undefined;
  const record = node as { kind?: unknown; table?: { identifier?: { name?: unknown } } };
  if (record.kind === 'TableNode' && typeof record.table?.identifier?.name === 'string') {
    return record.table.identifier.name;
  }
  for (const value of Object.values(node)) {
    const found = Array.isArray(value)
      ? value.map((item) => tableIn(item, depth + 1)).find((name) => name !== undefined)
      : tableIn(value, depth + 1);
    if (found !== undefined) return found;
  }
  return undefined;
};

const describeStatement = (node: RootOperationNode): string => {
  switch (node.kind) {
    case 'SelectQueryNode': {
      const modifiers = (node.endModifiers ?? []).map((m) => m.modifier).filter((m) => m !== undefined);
      const lock = modifiers.includes('ForUpdate') ? ' for update' : '';
      const skip = modifiers.includes('SkipLocked') ? ' skip locked' : '';
      return `select ${tableIn(node.from) ?? '?'}${lock}${skip}`;
    }
    case 'InsertQueryNode':
      return `insert ${tableIn(node.into) ?? '?'}${node.onConflict === undefined ? '' : ' on conflict'}`;
    case 'UpdateQueryNode':
      return `update ${tableIn(node.table) ?? '?'}`;
    case 'DeleteQueryNode':
      return `delete ${tableIn(node.from) ?? '?'}`;
    case 'RawNode': {
      const text = node.sqlFragments.join('$').replace(/\s+/g, ' ').trim();
      const insert = /^insert into (\w+)/.exec(text);
      if (insert !== null) return `insert ${insert[1]} (raw)`;
      const call = /^select (\w+)\(/.exec(text);
      if (call !== null) return `select ${call[1]}()`;
      const from = /from (\w+)/.exec(text);
      return `raw ${from?.[1] ?? text.slice(0, 30)}`;
    }
    default:
      return node.kind;
  }
};

class StatementProfile implements KyselyPlugin {
  readonly stats = new Map<string, StatementStats>();
  readonly #pending = new WeakMap<object, { label: string; at: number }>();

  transformQuery({ node, queryId }: PluginTransformQueryArgs): RootOperationNode {
    this.#pending.set(queryId, { label: describeStatement(node), at: performance.now() });
    return node;
  }

  async transformResult({ queryId, result }: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    const pending = this.#pending.get(queryId);
    if (pending !== undefined) {
      const stats = this.stats.get(pending.label) ?? { count: 0, ms: 0 };
      stats.count += 1;
      stats.ms += performance.now() - pending.at;
      this.stats.set(pending.label, stats);
    }
    return result;
  }

  take(): { label: string; count: number; ms: number }[] {
    const rows = [...this.stats.entries()].map(([label, stats]) => ({ label, ...stats })).sort((a, b) => b.ms - a.ms);
    this.stats.clear();
    return rows;
  }
}

// ---------------------------------------------------------------------------------------------
// Verification

interface Expectations {
  tenants: BenchTenant[];
  unpaid: number;
  usageRecords: number;
  usageLines: number;
  usageTotal: bigint;
}

const expectationsOf = (tenants: BenchTenant[]): Expectations => {
  let usageRecords = 0;
  let usageLines = 0;
  let usageTotal = 0n;
  for (const tenant of tenants) {
    const overage = expectedOverage(tenant);
    if (!overage.owed) continue;
    usageRecords += 1;
    usageLines += overage.lines;
    usageTotal += overage.total;
  }
  return {
    tenants,
    unpaid: tenants.filter((t) => t.payment === 'manual_unpaid').length,
    usageRecords,
    usageLines,
    usageTotal,
  };
};

/** Facts every run must leave true whatever it did: one record per period, gapless numbers per tenant. */
const invariantQuery = `
  select
    (select count(*)::int from subscription_periods p
       join billing_records r on r.tenant_id = p.tenant_id and r.id = p.record_id
      where r.type <> 'subscription') as periods_on_other_records,
    (select count(*)::int - count(distinct (tenant_id, record_id))::int from subscription_periods) as periods_sharing_a_record,
    (select count(*)::int from billing_records where type = 'subscription')
      - (select count(*)::int from subscription_periods) as subscription_records_without_period,
    (select count(*)::int from (
       select r.tenant_id, count(*) as n, min(substring(r.invoice_number from '^INV-2026-(\\d+)$')::int) as lo,
              max(substring(r.invoice_number from '^INV-2026-(\\d+)$')::int) as hi
         from billing_records r where r.invoice_number like 'INV-2026-%' group by r.tenant_id) n
       full join (select tenant_id, last_seq from invoice_sequences where year = 2026) q using (tenant_id)
      where n.n is distinct from q.last_seq or n.lo is distinct from 1 or n.hi is distinct from q.last_seq) as tenants_with_number_gaps,
    (select count(*)::int from billing_records where invoice_number is not null
        and invoice_number not like 'INV-2026-%') as numbers_of_another_year`;

const checkInvariants = async (client: pg.Client, problems: string[]): Promise<void> => {
  const { rows } = await client.query<Record<string, number>>(invariantQuery);
  for (const [name, value] of Object.entries(rows[0] ?? {})) {
    if (value !== 0) problems.push(`${name}: ${value}`);
  }
};

const verifyRenewal = async (url: string, expect: Expectations, asOf: Date): Promise<Record<string, number>> =>
  withClient(url, async (client) => {
    const problems: string[] = [];
    const n = expect.tenants.length;
    const { rows } = await client.query<Record<string, number>>(
      `with p as (select tenant_id, subscription_id, count(*)::int as n, min(period_start) as first_start,
                         max(period_start) as last_start, min(period_end) as first_end, max(period_end) as last_end
                    from subscription_periods group by 1, 2)
       select
         (select count(*)::int from subscriptions) as subscriptions,
         (select count(*)::int from subscriptions where period_index <> $1) as wrong_period_index,
         (select count(*)::int from subscriptions s left join p on p.tenant_id = s.tenant_id and p.subscription_id = s.id
           where p.n is distinct from 2 or p.first_end <> p.last_start or s.current_period_start <> p.last_start
              or s.current_period_end <> p.last_end) as not_advanced_one_contiguous_period,
         (select count(*)::int from subscriptions where next_run_at <= $2) as still_due,
         (select count(*)::int from subscriptions where status = 'past_due') as past_due,
         (select count(*)::int from subscriptions where status not in ('active', 'past_due')) as other_status,
         (select count(*)::int from billing_records where type = 'subscription' and status = 'paid') as paid_subscription_records,
         (select count(*)::int from billing_records where type = 'subscription' and status = 'pending') as pending_subscription_records,
         (select count(*)::int from metered_billings where status = 'pending') as metered_pending,
         (select count(*)::int from subscriptions s where metering_closes_at is distinct from
            (select min(closes_at) from metered_billings m where m.tenant_id = s.tenant_id and m.status = 'pending'))
           as wrong_metering_close,
         (select count(*)::int from ledger_accounts where id = 'cash' and balance < 0) as negative_balances`,
      [currentIndex + 1, iso(asOf)],
    );
    const got = rows[0]!;
    const want: Record<string, number> = {
      subscriptions: n,
      wrong_period_index: 0,
      not_advanced_one_contiguous_period: 0,
      still_due: 0,
      past_due: expect.unpaid,
      other_status: 0,
      paid_subscription_records: 2 * n - expect.unpaid,
      pending_subscription_records: expect.unpaid,
      metered_pending: n * meteredResources.length,
      wrong_metering_close: 0,
      negative_balances: 0,
    };
    for (const [name, value] of Object.entries(want)) {
      if (got[name] !== value) problems.push(`${name}: ${got[name]}, expected ${value}`);
    }
    await checkInvariants(client, problems);
    if (problems.length > 0) throw new Error(`renewal as of ${iso(asOf)} is wrong:\n  ${problems.join('\n  ')}`);
    return got;
  });

const verifyClose = async (url: string, expect: Expectations, asOf: Date): Promise<Record<string, number | string>> =>
  withClient(url, async (client) => {
    const problems: string[] = [];
    const n = expect.tenants.length;
    const { rows } = await client.query<Record<string, number | string>>(
      `select
         (select count(*)::int from metered_billings) as metered_rows,
         (select count(*)::int from metered_billings where status <> 'invoiced') as metered_not_invoiced,
         (select count(*)::int from metered_billings where record_id is not null and overage_units = 0)
           as metered_record_without_overage,
         (select count(*)::int from metered_billings where record_id is not null) as metered_rows_invoiced,
         (select count(distinct (tenant_id, record_id))::int from metered_billings where record_id is not null)
           as records_referenced_by_metering,
         (select count(*)::int from subscriptions where metering_closes_at is not null) as metering_still_open,
         (select count(*)::int from subscriptions where next_run_at <= $1) as still_due,
         (select count(*)::int from billing_records where type = 'usage') as usage_records,
         (select count(*)::int from billing_record_lines l join billing_records r
             on r.tenant_id = l.tenant_id and r.id = l.record_id where r.type = 'usage') as usage_lines,
         (select coalesce(sum(total_amount), 0)::text from billing_records where type = 'usage') as usage_total,
         (select count(*)::int from billing_records r join subscriptions s on s.tenant_id = r.tenant_id
           where r.type = 'usage' and r.status <> case when s.payment_method = 'manual' and s.status = 'past_due'
                                                     then 'pending' else 'paid' end) as usage_records_wrong_status,
         (select count(*)::int from subscriptions where status = 'past_due') as past_due,
         (select count(*)::int from ledger_accounts where id = 'cash' and balance < 0) as negative_balances`,
      [iso(asOf)],
    );
    const got = rows[0]!;
    const want: Record<string, number | string> = {
      metered_rows: n * meteredResources.length,
      metered_not_invoiced: 0,
      metered_record_without_overage: 0,
      metered_rows_invoiced: expect.usageLines,
      records_referenced_by_metering: expect.usageRecords,
      metering_still_open: 0,
      still_due: 0,
      usage_records: expect.usageRecords,
      usage_lines: expect.usageLines,
      usage_total: expect.usageTotal.toString(),
      usage_records_wrong_status: 0,
      past_due: expect.unpaid,
      negative_balances: 0,
    };
    for (const [name, value] of Object.entries(want)) {
      if (got[name] !== value) problems.push(`${name}: ${got[name]}, expected ${value}`);
    }
    await checkInvariants(client, problems);
    if (problems.length > 0) throw new Error(`usage close as of ${iso(asOf)} is wrong:\n  ${problems.join('\n  ')}`);
    return got;
  });

const rowCounts = (url: string) =>
  withClient(url, async (client) => {
    const { rows } = await client.query<Record<string, number>>(
      `select (select count(*)::int from billing_records) as records,
              (select count(*)::int from billing_record_events) as record_events,
              (select count(*)::int from subscription_events) as subscription_events,
              (select count(*)::int from subscription_periods) as periods,
              (select count(*)::int from metered_billings) as metered,
              (select count(*)::int from ledger_entries) as ledger_entries`,
    );
    return rows[0]!;
  });

/** A second run as of the same time must find nothing and write nothing. */
const checkSecondRun = async (handle: DatabaseHandle, url: string, asOf: Date, what: string): Promise<number> => {
  const before = await rowCounts(url);
  const t0 = performance.now();
  const again = await runBilling(handle.db, asOf);
  const ms = performance.now() - t0;
  const after = await rowCounts(url);
  if (again.subscriptions !== 0 || again.failures.length > 0 || JSON.stringify(before) !== JSON.stringify(after)) {
    throw new Error(
      `a second ${what} run as of ${iso(asOf)} did something: ${JSON.stringify(again)}; rows ${JSON.stringify(before)} → ${JSON.stringify(after)}`,
    );
  }
  return Number(ms.toFixed(1));
};

// ---------------------------------------------------------------------------------------------
// Steps

interface Progress {
  seconds: number;
  remaining: number;
}

/** Samples how many subscriptions are still due, so a run that slows down as it goes shows it. */
const watchProgress = async (url: string, asOf: Date): Promise<() => Promise<Progress[]>> => {
  const client = new pg.Client({ connectionString: url, application_name: 'bench-billing-progress' });
  await client.connect();
  const samples: Progress[] = [];
  const started = performance.now();
  let stopped = false;
  const sample = async () => {
    const { rows } = await client.query<{ n: number }>(
      'select count(*)::int as n from subscriptions where next_run_at <= $1',
      [iso(asOf)],
    );
    samples.push({ seconds: Number(((performance.now() - started) / 1000).toFixed(1)), remaining: rows[0]?.n ?? -1 });
  };
  let pending: Promise<void> = Promise.resolve();
  const timer = setInterval(() => {
    if (!stopped) pending = pending.then(sample);
  }, sampleEveryMs);
  return async () => {
    stopped = true;
    clearInterval(timer);
    await pending;
    await sample();
    await client.end();
    return samples;
  };
};

interface RunResult {
  runners: number;
  subscriptions: number;
  seconds: number;
  perSecond: number;
  msPerSubscription: number;
  steps: BillingRunSummary['steps'];
  failures: number;
  nodeCores: number;
  machineBusy: number;
  loadAverage: number[];
  /** Subscriptions per second over the first and the last fifth of the run (from the progress samples). */
  firstFifthPerSecond: number | null;
  lastFifthPerSecond: number | null;
  secondRunMs: number;
  profile?: { label: string; count: number; perSubscription: number; ms: number; msPerSubscription: number }[];
}

const rateBetween = (samples: Progress[], total: number, fromShare: number, toShare: number): number | null => {
  const points = [{ seconds: 0, remaining: total }, ...samples];
  const at = (share: number) => points.find((p) => total - p.remaining >= share * total);
  const a = at(fromShare);
  const b = at(toShare);
  if (a === undefined || b === undefined || b.seconds <= a.seconds) return null;
  return Math.round((a.remaining - b.remaining) / (b.seconds - a.seconds));
};

const timedRun = async (
  handle: DatabaseHandle,
  url: string,
  runners: number,
  asOf: Date,
  expectedSubscriptions: number,
  profile: StatementProfile | undefined,
): Promise<RunResult> => {
  const db = profile === undefined ? handle.db : handle.db.withPlugin(profile);
  const stopProgress = await watchProgress(url, asOf);
  const cpu = watchCpu();
  const t0 = performance.now();
  const summaries = await Promise.all(Array.from({ length: runners }, () => runBilling(db, asOf)));
  const elapsedMs = performance.now() - t0;
  const { nodeCores, machineBusy } = cpu();
  const samples = await stopProgress();
  const subscriptions = summaries.reduce((sum, s) => sum + s.subscriptions, 0);
  const failures = summaries.flatMap((s) => s.failures);
  if (failures.length > 0) {
    throw new Error(`${failures.length} subscriptions failed, e.g. ${JSON.stringify(failures.slice(0, 3))}`);
  }
  if (subscriptions !== expectedSubscriptions) {
    throw new Error(`the run advanced ${subscriptions} subscriptions, expected ${expectedSubscriptions}`);
  }
  const steps = { usage_close: 0, trial_end: 0, payment_retry: 0, grace_expiry: 0, period_end: 0 };
  for (const summary of summaries) {
    for (const [kind, count] of Object.entries(summary.steps)) steps[kind as keyof typeof steps] += count;
  }
  const result: RunResult = {
    runners,
    subscriptions,
    seconds: Number((elapsedMs / 1000).toFixed(2)),
    perSecond: Math.round((subscriptions * 1000) / elapsedMs),
    msPerSubscription: Number(((elapsedMs * runners) / subscriptions).toFixed(2)),
    steps,
    failures: failures.length,
    nodeCores,
    machineBusy,
    loadAverage: loadAverages(),
    firstFifthPerSecond: rateBetween(samples, subscriptions, 0, 0.2),
    lastFifthPerSecond: rateBetween(samples, subscriptions, 0.8, 1),
    secondRunMs: 0,
  };
  if (profile !== undefined) {
    result.profile = profile.take().map((row) => ({
      label: row.label,
      count: row.count,
      perSubscription: Number((row.count / subscriptions).toFixed(2)),
      ms: Math.round(row.ms),
      msPerSubscription: Number((row.ms / subscriptions).toFixed(3)),
    }));
  }
  return result;
};

interface BaselineResult {
  rows: number;
  seconds: number;
  rowsPerSecond: number;
  subscriptionsPerSecond: number;
  transactions: number;
  /** Latency of one autocommit INSERT (a WAL flush each), and of `select 1`, on the same server. */
  commitMs: number;
  roundTripMs: number;
}

type Statement = { text: string; values: unknown[] };

/** `($1, $2), ($3, $4)`: the VALUES list of a multi-row INSERT. */
const values = (width: number, rows: number) =>
  Array.from(
    { length: rows },
    (_, r) => `(${Array.from({ length: width }, (_, c) => `$${r * width + c + 1}`).join(', ')})`,
  ).join(', ');

/** Runs the prepared transactions one after another; milliseconds taken. */
const timeTransactions = async (client: pg.Client, transactions: Statement[][]): Promise<number> => {
  const t0 = performance.now();
  for (const transaction of transactions) {
    await client.query('begin');
    for (const statement of transaction) await client.query(statement.text, statement.values);
    await client.query('commit');
  }
  return performance.now() - t0;
};

/**
 * What the usage close must write at least: each owed overage invoice (INV-…-003, as the run
 * numbers it) with its lines, bulk-inserted per 1,000 subscriptions, built beforehand (untimed).
 */
const runCloseBaseline = async (
  url: string,
  tenants: BenchTenant[],
  at: Date,
): Promise<{ seconds: number; rows: number }> => {
  const number = formatInvoiceNumber(invoiceYear, 3);
  const transactions: Statement[][] = [];
  let rows = 0;
  for (let from = 0; from < tenants.length; from += baselineChunk) {
    const records: unknown[] = [];
    const lines: unknown[] = [];
    let recordCount = 0;
    let lineCount = 0;
    for (const t of tenants.slice(from, from + baselineChunk)) {
      const { priced } = expectedOverage(t);
      if (priced.length === 0) continue;
      const id = `rec_u${base36(t.index, 15)}`;
      const amount = priced.reduce((sum, line) => sum + line.amount, 0n);
      const tax = priced.reduce((sum, line) => sum + line.taxAmount, 0n);
      const description = 'Metered usage overage';
      records.push(
        t.id,
        t.appId,
        id,
        'usage',
        'pending',
        currency,
        description,
        String(amount),
        String(tax),
        String(amount + tax),
        number,
        buildSearchText([number, id, description]),
        iso(at),
        iso(at),
        iso(at),
      );
      priced.forEach((line, i) => {
        lines.push(
          t.id,
          id,
          i + 1,
          `${line.resourceType} overage`,
          line.resourceType,
          String(line.quantity),
          line.unitPrice,
          String(line.amount),
          t.taxRate,
          String(line.taxAmount),
        );
      });
      recordCount += 1;
      lineCount += priced.length;
    }
    if (recordCount === 0) continue;
    rows += recordCount + lineCount;
    transactions.push([
      {
        text: `insert into billing_records (tenant_id, app_id, id, type, status, currency, description, amount, tax_amount,
                 total_amount, invoice_number, search_text, created_at, finalized_at, updated_at)
               values ${values(15, recordCount)}`,
        values: records,
      },
      {
        text: `insert into billing_record_lines (tenant_id, record_id, line_no, description, resource_type, quantity,
                 unit_price, amount, tax_rate, tax_amount) values ${values(10, lineCount)}`,
        values: lines,
      },
    ]);
  }
  const ms = await withClient(url, (client) => timeTransactions(client, transactions));
  return { seconds: Number((ms / 1000).toFixed(2)), rows };
};

/** What a renewal must write at least: its record, line and period row, bulk-inserted per 1,000. */
const runBaseline = async (url: string, tenants: BenchTenant[]): Promise<BaselineResult> => {
  const renewalAt = (t: BenchTenant) => iso(t.calendar.end);
  const secondNumber = formatInvoiceNumber(invoiceYear, 2);
  const statements: Statement[][] = [];
  for (let from = 0; from < tenants.length; from += baselineChunk) {
    const chunk = tenants.slice(from, from + baselineChunk);
    const records: unknown[] = [];
    const lines: unknown[] = [];
    const periods: unknown[] = [];
    for (const t of chunk) {
      const id = `rec_n${base36(t.index, 15)}`;
      const description = describePlan(t.plan);
      const lineDescription = `${description}, ${calendarDateIn(t.calendar.end, t.timeZone)} to ${calendarDateIn(t.calendar.nextEnd, t.timeZone)}`;
      const line = priceLine({ quantity: 1n, unitPrice: String(t.plan.monthly), taxRate: t.taxRate }, currency);
      const at = renewalAt(t);
      records.push(
        t.id,
        id,
        'subscription',
        'paid',
        currency,
        description,
        String(line.amount),
        String(line.taxAmount),
        String(line.amount + line.taxAmount),
        secondNumber,
        buildSearchText([secondNumber, buildSearchText([id, description, lineDescription])]),
        at,
        at,
        at,
      );
      lines.push(
        t.id,
        id,
        1,
        lineDescription,
        'subscription',
        '1',
        String(t.plan.monthly),
        String(line.amount),
        t.taxRate,
        String(line.taxAmount),
      );
      periods.push(
        t.id,
        t.subscriptionId,
        at,
        iso(t.calendar.nextEnd),
        t.plan.id,
        1,
        'monthly',
        String(priceOf(t.plan)),
        id,
        at,
      );
    }
    statements.push([
      {
        text: `insert into billing_records (tenant_id, id, type, status, currency, description, amount, tax_amount,
                 total_amount, invoice_number, search_text, created_at, finalized_at, updated_at)
               values ${values(14, chunk.length)}`,
        values: records,
      },
      {
        text: `insert into billing_record_lines (tenant_id, record_id, line_no, description, resource_type, quantity,
                 unit_price, amount, tax_rate, tax_amount) values ${values(10, chunk.length)}`,
        values: lines,
      },
      {
        text: `insert into subscription_periods (tenant_id, subscription_id, period_start, period_end, plan_id,
                 plan_version, billing_cycle, amount, record_id, created_at) values ${values(10, chunk.length)}`,
        values: periods,
      },
    ]);
  }
  return withClient(url, async (client) => {
    const elapsedMs = await timeTransactions(client, statements);
    const rows = tenants.length * 3;

    // Reference latencies: a bare round trip, and a commit that flushes WAL.
    const reps = 500;
    let t1 = performance.now();
    for (let i = 0; i < reps; i += 1) await client.query('select 1');
    const roundTripMs = (performance.now() - t1) / reps;
    await client.query('create table bench_commit (n int)');
    t1 = performance.now();
    for (let i = 0; i < reps; i += 1) await client.query('insert into bench_commit values ($1)', [i]);
    const commitMs = (performance.now() - t1) / reps;
    return {
      rows,
      seconds: Number((elapsedMs / 1000).toFixed(2)),
      rowsPerSecond: Math.round((rows * 1000) / elapsedMs),
      subscriptionsPerSecond: Math.round((tenants.length * 1000) / elapsedMs),
      transactions: statements.length,
      commitMs: Number(commitMs.toFixed(3)),
      roundTripMs: Number(roundTripMs.toFixed(3)),
    };
  });
};

// ---------------------------------------------------------------------------------------------
// Report

const profileTable = (rows: NonNullable<RunResult['profile']>, result: RunResult): string => {
  // Statement times are per runner: with several runners they add up to runners × wall time.
  const runnerMs = result.seconds * 1000 * result.runners;
  const totalMs = rows.reduce((sum, row) => sum + row.ms, 0);
  const perSub = rows.reduce((sum, row) => sum + row.perSubscription, 0);
  const share = (ms: number) => `${fmt((ms / runnerMs) * 100, 1)}%`;
  // Every transaction starts by locking its batch: a begin and a commit each.
  const transactions = rows.find((row) => row.label.includes('skip locked'))?.count ?? 0;
  return table(
    ['statement', 'count', 'per sub', 'ms total', 'ms per sub', '% of runner time'],
    [
      ...rows.map((row) => [
        row.label,
        String(row.count),
        fmt(row.perSubscription, 2),
        String(row.ms),
        fmt(row.msPerSubscription, 3),
        share(row.ms),
      ]),
      [
        'all Kysely statements',
        String(rows.reduce((sum, row) => sum + row.count, 0)),
        fmt(perSub, 2),
        String(totalMs),
        fmt(totalMs / result.subscriptions, 3),
        share(totalMs),
      ],
      [
        '+ begin/commit and Node between statements',
        String(2 * transactions),
        fmt((2 * transactions) / result.subscriptions, 2),
        String(Math.round(runnerMs - totalMs)),
        fmt((runnerMs - totalMs) / result.subscriptions, 3),
        share(runnerMs - totalMs),
      ],
    ],
  );
};

const main = async (): Promise<void> => {
  const started = performance.now();
  const loadAtStart = loadAverages();
  const facts = await serverFacts(serverUrl);
  console.log(
    `PostgreSQL ${facts.server_version}, ${cpus().length} CPUs, load ${loadAtStart.join(' ')}; ` +
      `${subscriptionCount} subscriptions (one per tenant), runners ${runnerCounts.join(', ')}, seed ${seed}` +
      (quick ? ' (--quick)' : ''),
  );

  const tenants = generateTenants(subscriptionCount);
  const expect = expectationsOf(tenants);
  const renewalAsOf = new Date(Math.max(...tenants.map((t) => t.calendar.end.getTime())) + minuteMs);
  const closeAsOf = new Date(renewalAsOf.getTime() + 3 * dayMs);
  console.log(
    `renewal as of ${iso(renewalAsOf)}, usage close as of ${iso(closeAsOf)}; expected: ${expect.unpaid} left unpaid, ` +
      `${expect.usageRecords} overage invoices with ${expect.usageLines} lines`,
  );

  const template = await createTestDatabase();
  if (template.url === undefined) throw new Error('expected a server database');
  const templateName = new URL(template.url).pathname.slice(1);
  const clock = new ManualClock('2025-10-01T00:00:00Z');
  const made: string[] = [];
  let loadSeconds = 0;
  let loadTimings: Record<string, number> = {};
  let databaseSize = '';
  let baseline: BaselineResult | undefined;
  let closeBaseline: { seconds: number; rows: number } | undefined;
  const renewals: RunResult[] = [];
  let close: RunResult | undefined;
  const verified: Record<string, unknown> = {};
  try {
    const loading = performance.now();
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
    loadTimings = await loadTemplate(template.url, tenants);
    loadSeconds = Number(((performance.now() - loading) / 1000).toFixed(1));
    databaseSize = await withClient(template.url, async (client) => {
      const { rows } = await client.query<{ size: string }>(
        'select pg_size_pretty(pg_database_size(current_database())) as size',
      );
      return rows[0]?.size ?? '?';
    });
    console.log(
      `template loaded in ${loadSeconds} s (${Object.entries(loadTimings)
        .map(([k, v]) => `${k} ${v} s`)
        .join(', ')}), ${databaseSize}`,
    );

    // Baseline: the bare inserts.
    {
      const name = `${templateName}_baseline`;
      made.push(name);
      const url = await cloneDatabase(serverUrl, templateName, name);
      baseline = await runBaseline(url, tenants);
      closeBaseline = await runCloseBaseline(url, tenants, closeAsOf);
      await dropDatabase(serverUrl, name);
      console.log(
        `  baseline      ${fmt(baseline.rowsPerSecond).padStart(7)} rows/s = ${fmt(baseline.subscriptionsPerSecond)} renewals/s ` +
          `(${baseline.rows} rows in ${baseline.seconds} s, ${baseline.transactions} transactions); ` +
          `round trip ${baseline.roundTripMs} ms, autocommit insert ${baseline.commitMs} ms; ` +
          `overage invoices and lines ${closeBaseline.rows} rows in ${closeBaseline.seconds} s`,
      );
    }

    for (const runners of runnerCounts) {
      const name = `${templateName}_r${runners}`;
      made.push(name);
      const url = await cloneDatabase(serverUrl, templateName, name);
      const handle = await openDatabase({ kind: 'server', url, pool: { ...defaultPoolConfig, max: runners } });
      try {
        const profile = profiling && runners === runnerCounts[0] ? new StatementProfile() : undefined;
        const renewal = await timedRun(handle, url, runners, renewalAsOf, subscriptionCount, profile);
        if (renewal.steps.period_end !== subscriptionCount) {
          throw new Error(`expected ${subscriptionCount} period ends, the run did ${JSON.stringify(renewal.steps)}`);
        }
        verified[`renewal_r${runners}`] = await verifyRenewal(url, expect, renewalAsOf);
        renewal.secondRunMs = await checkSecondRun(handle, url, renewalAsOf, 'renewal');
        renewals.push(renewal);
        console.log(
          `  renewal   r${runners} ${fmt(renewal.perSecond).padStart(7)} subs/s  ${renewal.seconds} s` +
            `  (first/last fifth ${fmt(renewal.firstFifthPerSecond)}/${fmt(renewal.lastFifthPerSecond)} subs/s)` +
            `  node ${fmt(renewal.nodeCores, 2)} cores, machine ${fmt(renewal.machineBusy * 100)}% busy, load ${renewal.loadAverage[0]}` +
            `; verified, second run ${renewal.secondRunMs} ms did nothing`,
        );
        if (runners === runnerCounts[0]) {
          await withClient(serverUrl, (client) => client.query('checkpoint'));
          close = await timedRun(handle, url, runners, closeAsOf, subscriptionCount, profile);
          if (close.steps.usage_close !== subscriptionCount) {
            throw new Error(`expected ${subscriptionCount} usage closes, the run did ${JSON.stringify(close.steps)}`);
          }
          verified.close = await verifyClose(url, expect, closeAsOf);
          close.secondRunMs = await checkSecondRun(handle, url, closeAsOf, 'usage close');
          console.log(
            `  usage close r${runners} ${fmt(close.perSecond).padStart(5)} subs/s  ${close.seconds} s` +
              `  steps ${JSON.stringify(close.steps)}` +
              `  node ${fmt(close.nodeCores, 2)} cores, machine ${fmt(close.machineBusy * 100)}% busy` +
              `; verified, second run ${close.secondRunMs} ms did nothing`,
          );
        }
      } finally {
        await handle.close();
        await dropDatabase(serverUrl, name);
      }
    }
  } finally {
    await template.destroy();
    for (const name of made) await dropDatabase(serverUrl, name);
  }

  const ratio = (perSecond: number) => `${fmt(perSecond / (baseline?.subscriptionsPerSecond ?? Number.NaN), 3)}x`;
  const summaryRows = [
    [
      'baseline: records + lines + periods, multi-row INSERT, 1 tx / 1,000',
      '1',
      fmt(baseline?.seconds, 2),
      `${fmt(baseline?.rowsPerSecond)} rows/s`,
      fmt(baseline?.subscriptionsPerSecond),
      '1.000x',
      '-',
    ],
    ...renewals.map((r) => [
      `renewal: runBilling as of the period ends${r.profile === undefined ? '' : ' (profiled)'}`,
      String(r.runners),
      fmt(r.seconds, 2),
      `${fmt(r.perSecond * 3)} rows/s*`,
      fmt(r.perSecond),
      ratio(r.perSecond),
      fmt(r.nodeCores, 2),
    ]),
    ...(close === undefined
      ? []
      : [
          [
            `usage close: runBilling as of + 3 days${close.profile === undefined ? '' : ' (profiled)'}`,
            String(close.runners),
            fmt(close.seconds, 2),
            '-',
            fmt(close.perSecond),
            '-',
            fmt(close.nodeCores, 2),
          ],
        ]),
  ];
  console.log(
    `\n${table(['step', 'runners', 'seconds', 'rows/s', 'subscriptions/s', 'vs baseline', 'node cores'], summaryRows)}\n` +
      `(${subscriptionCount} subscriptions; * the same 3 rows per renewal as the baseline, the run writes more)\n`,
  );
  const profiled = renewals.find((r) => r.profile !== undefined);
  if (profiled?.profile !== undefined) {
    console.log(
      `renewal, statements per subscription (${profiled.runners} runner${profiled.runners === 1 ? '' : 's'}):\n${profileTable(profiled.profile, profiled)}\n`,
    );
  }
  if (close?.profile !== undefined) {
    console.log(
      `usage close, statements per subscription (${close.runners} runner${close.runners === 1 ? '' : 's'}):\n${profileTable(close.profile, close)}\n`,
    );
  }

  const headlines: Headline[] = [
    ...renewals.map((r): Headline => ({
      measure: `renew and invoice ${subscriptionCount.toLocaleString('en')} subscriptions, ${r.runners} runner${r.runners === 1 ? '' : 's'}`,
      value: r.seconds,
      unit: 's',
      better: 'lower',
      note: `${fmt(r.perSecond)} subs/s`,
      baseline: {
        what: 'their records, lines and periods inserted directly',
        value: baseline?.seconds ?? Number.NaN,
      },
    })),
    ...(close === undefined
      ? []
      : [
          {
            measure: `invoice their metered usage 3 days later, ${close.runners} runner${close.runners === 1 ? '' : 's'}`,
            value: close.seconds,
            unit: 's',
            better: 'lower' as const,
            note: `${fmt(close.perSecond)} subs/s, ${expect.usageRecords.toLocaleString('en')} overage invoices`,
            baseline: {
              what: 'the overage invoices and lines inserted directly',
              value: closeBaseline?.seconds ?? Number.NaN,
            },
          },
        ]),
  ];
  const out = writeResults(resultsName, loadAtStart, headlines, {
    server: facts,
    subscriptions: subscriptionCount,
    tenants: subscriptionCount,
    runnerCounts,
    seed,
    renewalAsOf: iso(renewalAsOf),
    closeAsOf: iso(closeAsOf),
    load: { seconds: loadSeconds, steps: loadTimings, databaseSize },
    expected: {
      unpaid: expect.unpaid,
      usageRecords: expect.usageRecords,
      usageLines: expect.usageLines,
      usageTotal: expect.usageTotal.toString(),
    },
    baseline,
    closeBaseline,
    renewals,
    close,
    verified,
  });
  console.log(`figures written to ${out}`);
  console.log(`total run time: ${fmt((performance.now() - started) / 1000, 1)} s`);
};

await main();
