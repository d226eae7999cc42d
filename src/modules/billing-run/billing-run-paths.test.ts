import { performance } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import type { Db } from '../../db/database.js';
import { sendTenantOverdueReminders } from '../billing-records/send-overdue-reminders.js';
import { advanceSubscription, lockUpToDateSubscription } from '../subscriptions/advance-subscription.js';
import { dumpDatabase, labelGeneratedIds, type DatabaseDump } from '../../testing/database-dump.js';
import { givenApp, givenTenant } from '../../testing/fixtures.js';
import { createTestApp, type TestApp } from '../../testing/test-app.js';
import { runBilling, type BillingRunSummary } from './billing-run.js';

/*
 * The billing run writes a batch's rows through BatchWrites, a request catches its tenant's
 * subscription up through direct writes: both must write the same rows. One scenario (tenants in
 * CNY and USD, in UTC, Shanghai and New York, over a year) is played three times on fresh
 * databases, the clock moved through the same instants, and at each instant the subscriptions are
 * advanced by a run one subscription per transaction, by a run 100 per transaction, or by the
 * request path for each tenant. Then every table is compared row for row, generated ids labelled
 * by first appearance per tenant (src/testing/database-dump.ts). Every time column is set from the
 * injected clock (no column is set by the database's now() or clock_timestamp()), so times are
 * compared as written, none normalised.
 */

const dayMs = 86_400_000;

/** How the subscriptions are brought up to an instant; the run's summary when a run did it. */
type Advance = (t: TestApp, at: Date) => Promise<BillingRunSummary | undefined>;

const tenants = {
  /** Metered, card, periods from local midnight on the 1st: December's renewal and usage are invoiced in 2027. */
  shMetered: 'tnt_sh_metered',
  /** Trial, then paid from prepaid credit until it runs out; a top-up pays a retry; later suspended, canceled. */
  shTrial: 'tnt_sh_trial',
  /**
   * Metered, manual, prepaid: a usage invoice the balance cannot cover makes it past due and a
   * top-up pays a retry; the next renewal goes unpaid to cancellation, its last usage closed after.
   */
  shUsageUnpaid: 'tnt_sh_usage_unpaid',
  /** Downgrade scheduled for the period end, then a change to yearly that starts a new calendar. */
  shChanges: 'tnt_sh_changes',
  /** Declined at subscribing: retries, grace over, suspended, canceled; subscribes again and renews over DST. */
  nyDecline: 'tnt_ny_decline',
  /** Subscribed on January 31 (periods clamp to month ends), auto_renew off: expires. */
  nyExpire: 'tnt_ny_expire',
  /** A renewal declined, the card changed, the next retry pays. */
  utcRecover: 'tnt_utc_recover',
  /** Yearly, paid partly from promotional credit; renews a year later. */
  utcYearly: 'tnt_utc_yearly',
  /** Metered, cancels at period end: its last period's usage is invoiced after it ended. */
  utcCancel: 'tnt_utc_cancel',
} as const;
const tenantIds = Object.values(tenants);
const appOf = (tenantId: string) => tenantId.replace(/^tnt_/, 'app_');

const plans = [
  { plan_id: 'basic_cny', name: 'Basic', currency: 'CNY', monthly_price: 99, yearly_price: 990, trial_days: 14 },
  { plan_id: 'pro_cny', name: 'Pro', currency: 'CNY', monthly_price: 499, yearly_price: 4990 },
  {
    plan_id: 'metered_cny',
    name: 'Metered',
    currency: 'CNY',
    monthly_price: 199,
    grace_period_days: 5,
    resources: [
      { resource_type: 'api_requests', included_units: 10_000, overage_unit_price: '0.002' },
      { resource_type: 'storage_used', included_units: 50, overage_unit_price: '0.5' },
    ],
  },
  { plan_id: 'pro_usd', name: 'Pro', currency: 'USD', monthly_price: 49.99, yearly_price: 499.99 },
];

/** A request the scenario makes at a time of its own, the same in every play. */
interface Action {
  at: string;
  run: (play: Play) => Promise<void>;
}

/** One play of the scenario against one app: its requests, with idempotency keys that repeat across plays. */
class Play {
  #keys = 0;
  constructor(readonly t: TestApp) {}

  async send(method: 'POST' | 'PATCH', url: string, headers: Record<string, string>, payload: object) {
    const response = await this.t.app.inject({
      method,
      url,
      headers: method === 'POST' ? { ...headers, 'idempotency-key': `paths-${++this.#keys}` } : headers,
      payload,
    });
    expect(response.statusCode, `${method} ${url}: ${response.body}`).toBeLessThan(300);
  }

  admin = async (url: string, payload: object) => this.send('POST', url, await this.t.as.platformAdmin(), payload);
  credit = (tenantId: string, kind: 'top-up' | 'promo', amount: number) =>
    this.admin(`/admin/credits/${tenantId}/${kind}`, {
      amount,
      remark: `${kind} at ${this.t.clock.now().toISOString()}`,
    });
  subscription = async (tenantId: string, path: string, payload: object) =>
    this.send('POST', `/billing/subscriptions/${tenantId}${path}`, await this.t.as.tenant(tenantId), payload);
  subscribe = (tenantId: string, planId: string, paymentMethod: string, cycle = 'monthly') =>
    this.subscription(tenantId, '', { plan_id: planId, billing_cycle: cycle, payment_method: paymentMethod });
  settings = async (tenantId: string, payload: object) =>
    this.send('PATCH', `/billing/subscriptions/${tenantId}`, await this.t.as.tenant(tenantId), payload);

  /** Usage of the tenant's app an hour before now, accepted (within the late-event window). */
  async usage(tenantId: string, quantities: Record<string, number>) {
    const timestamp = new Date(this.t.clock.now().getTime() - 3_600_000).toISOString();
    const events = Object.entries(quantities).map(([resourceType, quantity]) => ({
      event_id: `evt_${tenantId}_${resourceType}_${timestamp}`,
      tenant_id: tenantId,
      app_id: appOf(tenantId),
      resource_type: resourceType,
      quantity,
      timestamp,
    }));
    const response = await this.t.app.inject({
      method: 'POST',
      url: '/billing/usage/events',
      headers: await this.t.as.service(),
      payload: { events },
    });
    expect(response.json<{ data: { accepted: number } }>().data.accepted, response.body).toBe(events.length);
  }
}

const start = '2025-12-31T16:00:00Z'; // 2026-01-01 00:00 in Shanghai

const actions: Action[] = [
  {
    at: start,
    run: async (play) => {
      for (const plan of plans) await play.admin('/admin/plans', plan);
      for (const tenantId of tenantIds) {
        const [currency, timeZone] = tenantId.startsWith('tnt_sh_')
          ? ['CNY', 'Asia/Shanghai']
          : tenantId.startsWith('tnt_ny_')
            ? ['USD', 'America/New_York']
            : [tenantId === tenants.utcCancel ? 'CNY' : 'USD', 'UTC'];
        const taxRate = currency === 'CNY' ? 0.06 : 0.0875;
        await givenTenant(play.t, tenantId, { currency, time_zone: timeZone, tax_rate: taxRate });
        await givenApp(play.t, tenantId, appOf(tenantId));
      }
      await play.credit(tenants.shTrial, 'top-up', 250);
      await play.credit(tenants.shUsageUnpaid, 'top-up', 1000);
      await play.credit(tenants.utcYearly, 'promo', 100);
      await play.subscribe(tenants.shMetered, 'metered_cny', 'sandbox_success');
      await play.subscribe(tenants.shTrial, 'basic_cny', 'manual');
      await play.subscribe(tenants.shUsageUnpaid, 'metered_cny', 'manual');
      await play.subscribe(tenants.shChanges, 'pro_cny', 'sandbox_success');
    },
  },
  {
    at: '2026-01-01T00:00:00Z',
    run: async (play) => {
      await play.subscribe(tenants.utcRecover, 'pro_usd', 'sandbox_success');
      await play.subscribe(tenants.utcCancel, 'metered_cny', 'sandbox_success');
    },
  },
  { at: '2026-01-01T05:00:00Z', run: (play) => play.subscribe(tenants.nyDecline, 'pro_usd', 'sandbox_decline') },
  {
    at: '2026-01-05T00:00:00Z',
    run: (play) => play.subscribe(tenants.utcYearly, 'pro_usd', 'sandbox_success', 'yearly'),
  },
  {
    at: '2026-01-10T04:00:00Z',
    run: async (play) => {
      await play.usage(tenants.shMetered, { api_requests: 25_000, storage_used: 80 });
      await play.usage(tenants.shUsageUnpaid, { api_requests: 600_000 });
      await play.usage(tenants.utcCancel, { api_requests: 5_000 });
    },
  },
  {
    at: '2026-01-20T10:00:00Z',
    run: (play) => play.settings(tenants.utcRecover, { payment_method: 'sandbox_decline' }),
  },
  { at: '2026-01-31T05:00:00Z', run: (play) => play.subscribe(tenants.nyExpire, 'pro_usd', 'sandbox_success') },
  {
    at: '2026-02-03T10:00:00Z',
    run: (play) => play.settings(tenants.utcRecover, { payment_method: 'sandbox_success' }),
  },
  { at: '2026-02-05T10:00:00Z', run: (play) => play.credit(tenants.shUsageUnpaid, 'top-up', 700) },
  {
    at: '2026-02-10T03:00:00Z',
    run: (play) => play.subscription(tenants.shChanges, '/change-plan', { plan_id: 'basic_cny' }),
  },
  { at: '2026-02-15T10:00:00Z', run: (play) => play.usage(tenants.utcCancel, { api_requests: 30_000 }) },
  {
    at: '2026-02-20T10:00:00Z',
    run: (play) => play.subscription(tenants.utcCancel, '/cancel', { reason: 'moving on' }),
  },
  { at: '2026-03-10T15:00:00Z', run: (play) => play.subscribe(tenants.nyDecline, 'pro_usd', 'sandbox_success') },
  { at: '2026-03-17T10:00:00Z', run: (play) => play.credit(tenants.shTrial, 'top-up', 100) },
  { at: '2026-04-10T14:00:00Z', run: (play) => play.settings(tenants.nyExpire, { auto_renew: false }) },
  {
    at: '2026-05-10T03:00:00Z',
    run: (play) =>
      play.subscription(tenants.shChanges, '/change-plan', { plan_id: 'basic_cny', billing_cycle: 'yearly' }),
  },
  { at: '2026-06-12T02:00:00Z', run: (play) => play.usage(tenants.shMetered, { api_requests: 14_000 }) },
  {
    at: '2026-12-20T02:00:00Z',
    run: (play) => play.usage(tenants.shMetered, { api_requests: 50_000, storage_used: 120 }),
  },
];

/**
 * The instants the subscriptions are advanced to: every two days through the busy first months
 * (dunning steps a day or two apart), every six after (runs that catch up several steps), and a
 * few exactly at period boundaries, including Shanghai's new year.
 */
const instants = (): Date[] => {
  const every = (from: string, until: string, days: number) => {
    const out: number[] = [];
    for (let at = Date.parse(from); at <= Date.parse(until); at += days * dayMs) out.push(at);
    return out;
  };
  const exact = ['2026-01-31T16:00:00Z', '2026-02-01T00:00:00Z', '2026-12-31T16:00:00Z', '2027-01-05T00:00:00Z'];
  const all = [
    ...every('2026-01-01T12:00:00Z', '2026-04-30T12:00:00Z', 2),
    ...every('2026-05-06T12:00:00Z', '2027-01-25T12:00:00Z', 6),
    ...exact.map((at) => Date.parse(at)),
  ];
  return [...new Set(all)].sort((a, b) => a - b).map((at) => new Date(at));
};

/** Plays the scenario: its requests and advances in time order, an advance before a request at the same instant. */
const playScenario = async (t: TestApp, advance: Advance): Promise<BillingRunSummary[]> => {
  const play = new Play(t);
  const moments = [
    ...instants().map((at) => ({ at, advance: true, run: undefined })),
    ...actions.map((action) => ({ at: new Date(action.at), advance: false, run: action.run })),
  ].sort((a, b) => a.at.getTime() - b.at.getTime() || Number(b.advance) - Number(a.advance));
  const summaries: BillingRunSummary[] = [];
  for (const moment of moments) {
    t.clock.set(moment.at);
    if (moment.run !== undefined) await moment.run(play);
    else {
      const summary = await advance(t, t.clock.now());
      if (summary !== undefined) summaries.push(summary);
    }
  }
  return summaries;
};

const byRun =
  (batchSize: number): Advance =>
  (t, at) =>
    runBilling(t.database.db, at, { batchSize });

/**
 * What a request does first: lock the tenant's live subscription and bring it up to now, with
 * direct writes, its reminders included. No request reaches an ended subscription that still owes
 * its last period's usage close (only the run does that), so those are advanced in the same
 * transaction by the function the request path calls, with the same direct writes, and the
 * invoices they issued past due told as the run tells them.
 */
const byRequests: Advance = async (t, at) => {
  for (const tenantId of tenantIds) {
    await t.database.db.transaction().execute(async (trx) => {
      await lockUpToDateSubscription(trx, { tenantId }, at);
      const ended = await trx
        .selectFrom('subscriptions')
        .selectAll()
        .where('tenant_id', '=', tenantId)
        .where('status', 'in', ['canceled', 'expired'])
        .where('next_run_at', '<=', at)
        .orderBy('next_run_at')
        .orderBy('id')
        .forUpdate()
        .execute();
      for (const sub of ended) await advanceSubscription(trx, sub, at);
      await sendTenantOverdueReminders(trx, tenantId, at);
    });
  }
  return undefined;
};

const paths: [string, Advance][] = [
  ['a run, 1 subscription per transaction', byRun(1)],
  ['a run, 100 subscriptions per transaction', byRun(100)],
  ['the request path', byRequests],
];

/** Tables whose rows own generated ids, labelled first so that rows naming them sort by label. */
const idOwners = ['subscriptions', 'billing_records', 'ledger_transactions'];

/** The billing events the run's steps make, each of which the scenario has to produce. */
const runEventTypes = [
  'billing_record.finalized',
  'billing_record.paid',
  'billing_record.payment_failed',
  'billing_record.overdue',
  'subscription.trial_will_end',
  'subscription.trial_ended',
  'subscription.renewed',
  'subscription.past_due',
  'subscription.payment_recovered',
  'subscription.suspended',
  'subscription.canceled',
  'subscription.expired',
  'credit_transaction.created',
];

const reminderTypes = ['billing_record.overdue', 'subscription.trial_will_end'];

/**
 * Each tenant's events in id order (time, then the order they were made): the same on every path.
 * Reminders are changes of their own, written by the run in a pass after (or before) the steps of
 * the same instant: within one millisecond they are ordered at random among other events, so they
 * are put after them there.
 */
const eventOrder = async (t: TestApp): Promise<string[]> =>
  (
    await t.database.db
      .selectFrom('events')
      .select(['tenant_id', 'type', 'created_at'])
      .orderBy('tenant_id')
      .orderBy('created_at')
      .orderBy((eb) => eb('type', 'in', reminderTypes))
      .orderBy('id')
      .execute()
  ).map((row) => `${row.tenant_id} ${row.created_at.toISOString()} ${row.type}`);

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

describe("the billing run's write paths", () => {
  it(
    'a run one at a time, a run in batches and the request path write the same rows',
    { timeout: 600_000 },
    async () => {
      const dumps: DatabaseDump[] = [];
      const runs: BillingRunSummary[][] = [];
      const eventOrders: string[][] = [];
      for (const [name, advance] of paths) {
        const started = performance.now();
        const t = await createTestApp();
        try {
          const created = performance.now();
          runs.push(await playScenario(t, advance));
          dumps.push(labelGeneratedIds(await dumpDatabase(t.database.db), idOwners));
          eventOrders.push(await eventOrder(t));
          console.log(
            `${name} (${t.database.kind}): database ${seconds(created - started)}, ` +
              `scenario and dump ${seconds(performance.now() - created)}`,
          );
        } finally {
          await t.close();
        }
      }

      const [oneByOne, batched] = runs as [BillingRunSummary[], BillingRunSummary[]];
      expect(oneByOne.flatMap((run) => run.failures)).toEqual([]);
      // The scenario takes every kind of step, and a batch holds several subscriptions at once.
      const steps = new Map<string, number>();
      for (const run of oneByOne) {
        for (const [kind, count] of Object.entries(run.steps)) steps.set(kind, (steps.get(kind) ?? 0) + count);
      }
      expect([...steps].filter(([, count]) => count === 0)).toEqual([]);
      expect(Math.max(...batched.map((run) => run.subscriptions))).toBeGreaterThanOrEqual(4);

      const [reference, ...others] = dumps as [DatabaseDump, ...DatabaseDump[]];
      expect(reference.billing_records?.length).toBeGreaterThan(20);
      // The billing events of every step are compared too: the run's kinds all appear.
      const eventTypes = new Set(reference.events?.map((row) => row.type));
      expect([...eventTypes].sort()).toEqual(expect.arrayContaining(runEventTypes));
      for (const [index, other] of others.entries()) {
        const name = paths[index + 1]![0];
        expect(Object.keys(other), name).toEqual(Object.keys(reference));
        for (const table of Object.keys(reference)) {
          expect.soft(other[table], `${table}: ${name} against ${paths[0]![0]}`).toEqual(reference[table]);
        }
      }
      expect.soft(batched, 'what each run reports').toEqual(oneByOne);
      for (const [index, order] of eventOrders.slice(1).entries()) {
        expect.soft(order, `event order: ${paths[index + 1]![0]}`).toEqual(eventOrders[0]);
      }
    },
  );

  it('refuses a batch size below 1 before it touches the database', async () => {
    const noDatabase = {} as Db;
    for (const batchSize of [0, -1, 1.5, Number.NaN]) {
      await expect(runBilling(noDatabase, new Date(start), { batchSize })).rejects.toThrow(/batchSize/);
    }
  });
});
