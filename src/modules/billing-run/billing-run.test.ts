import { toMajorNumber } from '../../core/money.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import type { Db } from '../../db/database.js';
import type { PaymentMethod } from '../../db/schema.js';
import { asPlatformAdmin } from '../../testing/api.js';
import { givenCredit, givenPlan, givenTenant, noReminders, noSteps, subscriptionUrl } from '../../testing/fixtures.js';
import {
  createTestApp,
  defaultRateLimitsWithout,
  testSecret,
  testStart,
  type TestApp,
} from '../../testing/test-app.js';
import type { BillingRunView } from '../../testing/views.js';
import { runBilling, type BillingRunSummary } from './billing-run.js';

/*
 * The billing run, checked against a small model of what a monthly subscription owes: in process
 * on either database, then as several `bill` processes racing on one PostgreSQL database, and as
 * a runner killed mid-run and started again. Every tenant starts on 2026-01-01 with one monthly
 * subscription; how it pays (credit balance, card, decline, manual) decides what the run does.
 */

const repoRoot = fileURLToPath(new URL('../../..', import.meta.url));

const subscribedAt = new Date(testStart);
const dayMs = 86_400_000;
/** Start of monthly period `index` of a subscription anchored at 2026-01-01T00:00Z (also 08:00 in Shanghai). */
const periodStart = (index: number): Date => new Date(Date.UTC(2026, index, 1));
const addDays = (instant: Date, days: number): Date => new Date(instant.getTime() + days * dayMs);

/** Plan prices net of tax and their totals at the tenants' 6 % (29999 × 0.06 = 1799.94, half-up 1800). */
const plans = [
  { id: 'basic', name: 'Basic', monthlyPrice: 100, total: 10_600n },
  { id: 'pro', name: 'Pro', monthlyPrice: 299.99, total: 31_799n },
] as const;
type Plan = (typeof plans)[number];

interface Profile {
  name: string;
  paymentMethod: PaymentMethod;
  /** Promotional credit granted before subscribing, as a function of the plan's total per period. */
  credit: (total: bigint) => bigint;
}

/** The mix of payers; a tenant's index picks its profile, plan and time zone round-robin. */
const profiles: Profile[] = [
  { name: 'card', paymentMethod: 'sandbox_success', credit: () => 0n },
  { name: 'prepaid', paymentMethod: 'manual', credit: (total) => total * 3n + total / 4n },
  { name: 'part_prepaid_card', paymentMethod: 'sandbox_success', credit: (total) => total + total / 2n },
  { name: 'manual_unpaid', paymentMethod: 'manual', credit: () => 0n },
  { name: 'declined', paymentMethod: 'sandbox_decline', credit: () => 0n },
  { name: 'declined_after_credit', paymentMethod: 'sandbox_decline', credit: (total) => total * 2n },
  { name: 'manual_after_credit', paymentMethod: 'manual', credit: (total) => total + total / 2n },
];
const timeZones = ['UTC', 'Asia/Shanghai', 'UTC'] as const;

interface Subscriber {
  tenantId: string;
  profile: Profile;
  plan: Plan;
}

type StepCounts = BillingRunSummary['steps'];

interface PeriodState {
  start: string;
  recordStatus: string;
  /** Paid from the credit balance, minor units. */
  amountPaid: string;
}

interface TenantState {
  status: string;
  currentPeriodStart: string;
  periods: PeriodState[];
  balance: string;
}

/**
 * What the rules say a subscriber's state is at `asOf`: each period's invoice is paid from the
 * balance as far as it goes, then by the payment method; an unpaid one makes the subscription past
 * due, retried 1, 3 and 5 days later, suspended after the 7 grace days, canceled at the period end.
 * Also the steps a billing run owes from the subscription's start to `asOf`.
 */
const expectedAt = (subscriber: Subscriber, asOf: Date): { state: TenantState; steps: StepCounts } => {
  const { profile, plan } = subscriber;
  const steps = { ...noSteps };
  const periods: PeriodState[] = [];
  let balance = profile.credit(plan.total);
  let status = 'active';
  for (let index = 0; ; index += 1) {
    const start = periodStart(index);
    if (index > 0) {
      if (start > asOf) break;
      steps.period_end += 1;
      if (status !== 'active') {
        status = 'canceled';
        break;
      }
    }
    const fromBalance = balance < plan.total ? balance : plan.total;
    balance -= fromBalance;
    const paid = fromBalance === plan.total || profile.paymentMethod === 'sandbox_success';
    const recordStatus = paid ? 'paid' : profile.paymentMethod === 'sandbox_decline' ? 'failed' : 'pending';
    periods.push({ start: start.toISOString(), recordStatus, amountPaid: String(fromBalance) });
    if (!paid) {
      status = 'past_due';
      for (const days of [1, 3, 5]) if (addDays(start, days) <= asOf) steps.payment_retry += 1;
      if (addDays(start, 7) <= asOf) {
        steps.grace_expiry += 1;
        status = 'suspended';
      }
    }
  }
  const state = {
    status,
    currentPeriodStart: periods.at(-1)!.start,
    periods,
    balance: String(balance),
  };
  return { state, steps };
};

const sumSteps = (counts: StepCounts[]): StepCounts => {
  const total = { ...noSteps };
  for (const count of counts) for (const kind of Object.keys(total) as (keyof StepCounts)[]) total[kind] += count[kind];
  return total;
};

// --- setup through the API ---------------------------------------------------------------------

const givenPlans = async (t: TestApp) => {
  for (const plan of plans) {
    await givenPlan(t, plan.id, { name: plan.name, monthly_price: plan.monthlyPrice, grace_period_days: 7 });
  }
};

/**
 * `count` tenants, each credited as its profile says and subscribed at 2026-01-01 through the API
 * (which invoices and collects January at once), created by a few concurrent workers.
 */
const givenSubscribers = async (t: TestApp, prefix: string, count: number): Promise<Subscriber[]> => {
  t.clock.set(subscribedAt);
  const subscribers = Array.from({ length: count }, (_, i) => ({
    tenantId: `tnt_${prefix}_${String(i).padStart(4, '0')}`,
    profile: profiles[i % profiles.length]!,
    plan: plans[i % plans.length]!,
    timeZone: timeZones[i % timeZones.length]!,
  }));
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < subscribers.length; i = next++) {
      const { tenantId, profile, plan, timeZone } = subscribers[i]!;
      await givenTenant(t, tenantId, { currency: 'CNY', time_zone: timeZone, tax_rate: 0.06 });
      const credit = profile.credit(plan.total);
      if (credit > 0n) await givenCredit(t, tenantId, { amount: toMajorNumber(credit, 'CNY'), remark: 'prepaid' });
      const subscribed = await asPlatformAdmin(t).post(subscriptionUrl(tenantId), {
        plan_id: plan.id,
        billing_cycle: 'monthly',
        payment_method: profile.paymentMethod,
      });
      expect(subscribed.statusCode, subscribed.body).toBe(201);
    }
  };
  await Promise.all(Array.from({ length: 6 }, worker));
  return subscribers.map(({ tenantId, profile, plan }) => ({ tenantId, profile, plan }));
};

// --- what the database holds ---------------------------------------------------------------------

const observeTenants = async (db: Db): Promise<Map<string, TenantState>> => {
  const subs = await db.selectFrom('subscriptions').select(['tenant_id', 'status', 'current_period_start']).execute();
  const periods = await db
    .selectFrom('subscription_periods as p')
    .leftJoin('billing_records as r', (join) =>
      join.onRef('r.tenant_id', '=', 'p.tenant_id').onRef('r.id', '=', 'p.record_id'),
    )
    .select(['p.tenant_id', 'p.period_start', 'r.status', 'r.amount_paid'])
    .orderBy('p.tenant_id')
    .orderBy('p.period_start')
    .execute();
  const accounts = await db
    .selectFrom('ledger_accounts')
    .select(['tenant_id', 'balance'])
    .where('id', '=', 'cash')
    .execute();
  const balances = new Map(accounts.map((row) => [row.tenant_id, String(row.balance)]));
  const states = new Map<string, TenantState>();
  for (const sub of subs) {
    states.set(sub.tenant_id, {
      status: sub.status,
      currentPeriodStart: sub.current_period_start.toISOString(),
      periods: [],
      balance: balances.get(sub.tenant_id) ?? '0',
    });
  }
  for (const period of periods) {
    states.get(period.tenant_id)?.periods.push({
      start: period.period_start.toISOString(),
      recordStatus: period.status ?? 'missing',
      amountPaid: String(period.amount_paid),
    });
  }
  return states;
};

/** Tenants whose state is none of the allowed ones, with what was found; at most a few, to keep failures readable. */
const tenantsOffModel = async (
  db: Db,
  subscribers: readonly Subscriber[],
  allowed: (subscriber: Subscriber) => TenantState[],
) => {
  const observed = await observeTenants(db);
  const wrong: { tenantId: string; profile: string; found: TenantState | undefined; allowed: TenantState[] }[] = [];
  for (const subscriber of subscribers) {
    const found = observed.get(subscriber.tenantId);
    const candidates = allowed(subscriber);
    if (!candidates.some((candidate) => JSON.stringify(candidate) === JSON.stringify(found))) {
      wrong.push({ tenantId: subscriber.tenantId, profile: subscriber.profile.name, found, allowed: candidates });
    }
  }
  return { count: wrong.length, first: wrong.slice(0, 3) };
};

const rowsOf = async (db: Db, query: ReturnType<typeof sql>) => (await query.execute(db)).rows;

/**
 * Invariants of the whole database, each a query for the rows that break it: periods and their
 * invoices one to one and finalised, contiguous periods, gapless invoice numbers, payments that
 * match the ledger, unbroken ledger chains, one renewal event per renewal.
 */
const bookViolations = async (db: Db) => ({
  periodsWithoutFinalisedRecord: await rowsOf(
    db,
    sql`select p.tenant_id, p.period_start, r.status, r.invoice_number
          from subscription_periods p
          left join billing_records r on r.tenant_id = p.tenant_id and r.id = p.record_id
         where r.id is null or r.type <> 'subscription' or r.status = 'draft'
            or r.invoice_number is null or r.finalized_at is null`,
  ),
  subscriptionRecordsNotOnePeriod: await rowsOf(
    db,
    sql`select r.tenant_id, r.id, count(p.record_id)::int as periods
          from billing_records r
          left join subscription_periods p on p.tenant_id = r.tenant_id and p.record_id = r.id
         where r.type = 'subscription'
         group by r.tenant_id, r.id
        having count(p.record_id) <> 1`,
  ),
  periodGaps: await rowsOf(
    db,
    sql`select tenant_id, subscription_id, period_end, next_start
          from (select tenant_id, subscription_id, period_end,
                       lead(period_start) over (partition by tenant_id, subscription_id order by period_start) as next_start
                  from subscription_periods) p
         where next_start is not null and next_start <> period_end`,
  ),
  currentPeriodNotLastPeriod: await rowsOf(
    db,
    sql`select s.tenant_id, s.id, s.current_period_start, max(p.period_start) as last_period_start
          from subscriptions s
          left join subscription_periods p on p.tenant_id = s.tenant_id and p.subscription_id = s.id
         group by s.tenant_id, s.id, s.current_period_start
        having max(p.period_start) is distinct from s.current_period_start`,
  ),
  invoiceNumbersNotGapless: await rowsOf(
    db,
    sql`select n.tenant_id, n.year, n.count, n.distinct_count, n.max_seq, q.last_seq
          from (select tenant_id, substr(invoice_number, 5, 4)::int as year, count(*)::int as count,
                       count(distinct invoice_number)::int as distinct_count,
                       max(substr(invoice_number, 10)::int) as max_seq
                  from billing_records where invoice_number is not null
                 group by 1, 2) n
          full join invoice_sequences q on q.tenant_id = n.tenant_id and q.year = n.year
         where n.count is null or q.last_seq is null
            or not (n.count = n.distinct_count and n.count = n.max_seq and n.max_seq = q.last_seq)`,
  ),
  recordsPaidOtherThanLedgerSays: await rowsOf(
    db,
    sql`select r.tenant_id, r.id, r.amount_paid::text, coalesce(sum(t.amount), 0)::text as debited
          from billing_records r
          left join ledger_transactions t
            on t.tenant_id = r.tenant_id and t.source = 'invoice_payment' and t.source_id = r.id and t.type = 'debit'
         group by r.tenant_id, r.id, r.amount_paid
        having r.amount_paid <> coalesce(sum(t.amount), 0)`,
  ),
  tenantsPaidOtherThanLedgerSays: await rowsOf(
    db,
    sql`select tn.id as tenant_id, paid.total::text as paid, debited.total::text as debited
          from tenants tn
          cross join lateral (select coalesce(sum(amount_paid), 0) as total
                                from billing_records where tenant_id = tn.id) paid
          cross join lateral (select coalesce(sum(amount), 0) as total from ledger_transactions
                               where tenant_id = tn.id and source = 'invoice_payment' and type = 'debit') debited
         where paid.total <> debited.total`,
  ),
  cashNotCreditsMinusDebits: await rowsOf(
    db,
    sql`select a.tenant_id, a.balance::text, coalesce(m.net, 0)::text as net
          from ledger_accounts a
          left join (select tenant_id, sum(case when type = 'credit' then amount else -amount end) as net
                       from ledger_transactions group by tenant_id) m on m.tenant_id = a.tenant_id
         where a.id = 'cash' and a.balance <> coalesce(m.net, 0)`,
  ),
  brokenLedgerChains: await rowsOf(
    db,
    sql`select tenant_id, account_id, account_version
          from (select tenant_id, account_id, account_version, balance_after,
                       row_number() over w as position, sum(amount) over w as running
                  from ledger_entries
                window w as (partition by tenant_id, account_id order by account_version)) e
         where account_version <> position or balance_after <> running`,
  ),
  accountHeadsOffChain: await rowsOf(
    db,
    sql`select a.tenant_id, a.id
          from ledger_accounts a
          left join ledger_entries e
            on e.tenant_id = a.tenant_id and e.account_id = a.id and e.account_version = a.version
         where (a.version = 0 and a.balance <> 0) or (a.version > 0 and e.balance_after is distinct from a.balance)`,
  ),
  unbalancedTransactions: await rowsOf(
    db,
    sql`select t.tenant_id, t.id
          from ledger_transactions t
          left join ledger_entries e on e.tenant_id = t.tenant_id and e.transaction_id = t.id
         group by t.tenant_id, t.id
        having count(e.transaction_id) <> 2 or sum(e.amount) <> 0`,
  ),
  renewalEventsNotOnePerRenewal: await rowsOf(
    db,
    sql`select s.tenant_id, s.id
          from subscriptions s
         where (select count(*) from subscription_events e
                 where e.tenant_id = s.tenant_id and e.subscription_id = s.id and e.kind = 'renewed')
            <> (select count(*) - 1 from subscription_periods p
                 where p.tenant_id = s.tenant_id and p.subscription_id = s.id)`,
  ),
});

const noViolations = {
  periodsWithoutFinalisedRecord: [],
  subscriptionRecordsNotOnePeriod: [],
  periodGaps: [],
  currentPeriodNotLastPeriod: [],
  invoiceNumbersNotGapless: [],
  recordsPaidOtherThanLedgerSays: [],
  tenantsPaidOtherThanLedgerSays: [],
  cashNotCreditsMinusDebits: [],
  brokenLedgerChains: [],
  accountHeadsOffChain: [],
  unbalancedTransactions: [],
  renewalEventsNotOnePerRenewal: [],
};

const billingTables = [
  'subscriptions',
  'subscription_periods',
  'subscription_events',
  'billing_records',
  'billing_record_lines',
  'billing_record_events',
  'invoice_sequences',
  'ledger_accounts',
  'ledger_transactions',
  'ledger_entries',
] as const;

/** Everything a billing run could write, as text: equal snapshots mean the run wrote nothing. */
const snapshot = async (db: Db): Promise<Record<string, string>> => {
  const tables: Record<string, string> = {};
  for (const table of billingTables) {
    const { rows } = await sql<{ digest: string | null }>`
      select md5(string_agg(t::text, '|' order by t::text)) as digest from ${sql.table(table)} t`.execute(db);
    tables[table] = rows[0]?.digest ?? 'empty';
  }
  return tables;
};

const periodCount = async (db: Db): Promise<number> => {
  const row = await db
    .selectFrom('subscription_periods')
    .select((eb) => eb.fn.countAll<bigint>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(row.n);
};

const expectedPeriodCount = (subscribers: readonly Subscriber[], asOf: Date): number =>
  subscribers.reduce((sum, subscriber) => sum + expectedAt(subscriber, asOf).state.periods.length, 0);

// --- in process, on either database --------------------------------------------------------------

/** A fresh app and database with the plans, for one test, closed however the test ends. */
const withApp = async (work: (t: TestApp) => Promise<void>): Promise<void> => {
  // The setup provisions hundreds of tenants as one admin at one frozen instant: past the `write` limit.
  const t = await createTestApp({ rateLimits: defaultRateLimitsWithout('write') });
  try {
    await givenPlans(t);
    await work(t);
  } finally {
    await t.close();
  }
};

/** Another runner process as of the same time finds nothing to do and changes no row. */
const expectRunChangesNothing = async (t: TestApp, asOfText: string): Promise<void> => {
  const before = await snapshot(t.database.db);
  const final = summaryOf(await startRunner(t.database.url!, asOfText).exited);
  expect(final).toEqual({ as_of: asOfText, subscriptions: 0, steps: noSteps, reminders: noReminders, failures: [] });
  expect(await snapshot(t.database.db)).toEqual(before);
};

describe('runBilling in process', () => {
  // A long setup on the embedded database (every kind of subscriber made through the API).
  it(
    'a run as of T does every step each subscription owes; a second run as of T does nothing',
    { timeout: 90_000 },
    () =>
      withApp(async (t) => {
        const subscribers = await givenSubscribers(t, 'inproc', profiles.length * plans.length);
        const asOf = new Date('2026-03-15T00:00:00Z');

        const started = performance.now();
        const first = await runBilling(t.database.db, asOf);
        const firstMs = performance.now() - started;
        expect(first.failures).toEqual([]);
        expect(first.subscriptions).toBe(subscribers.length);
        expect(first.steps).toEqual(sumSteps(subscribers.map((s) => expectedAt(s, asOf).steps)));
        expect(await tenantsOffModel(t.database.db, subscribers, (s) => [expectedAt(s, asOf).state])).toEqual({
          count: 0,
          first: [],
        });
        expect(await bookViolations(t.database.db)).toEqual(noViolations);

        const before = await snapshot(t.database.db);
        const second = await runBilling(t.database.db, asOf);
        expect(second).toEqual({ asOf, subscriptions: 0, steps: noSteps, reminders: noReminders, failures: [] });
        expect(await snapshot(t.database.db)).toEqual(before);
        console.log(
          `in-process run (${t.database.kind}): ${subscribers.length} subscriptions in ${firstMs.toFixed(0)} ms`,
        );
      }),
  );

  it('a subscription whose step throws is reported in failures, left as it was, and the others advance', () =>
    withApp(async (t) => {
      const subscribers = await givenSubscribers(t, 'failing', 4);
      const broken = subscribers[0]!;
      // Past due with no open invoice is a state no code path writes: its payment retry throws.
      await sql`update subscriptions
                   set status = 'past_due', past_due_since = ${subscribedAt}, payment_attempts = 1,
                       grace_ends_at = ${addDays(subscribedAt, 7)}, next_payment_attempt_at = ${addDays(subscribedAt, 1)},
                       next_run_at = ${addDays(subscribedAt, 1)}, open_record_id = null
                 where tenant_id = ${broken.tenantId}`.execute(t.database.db);
      const brokenRow = () =>
        t.database.db
          .selectFrom('subscriptions')
          .selectAll()
          .where('tenant_id', '=', broken.tenantId)
          .executeTakeFirstOrThrow();
      const brokenBefore = await brokenRow();
      const asOf = new Date('2026-03-15T00:00:00Z');

      const run = await runBilling(t.database.db, asOf);
      const healthy = subscribers.slice(1);
      expect(run.failures).toEqual([
        {
          tenantId: broken.tenantId,
          subscriptionId: brokenBefore.id,
          error: expect.stringMatching(/no open invoice/) as string,
        },
      ]);
      expect(run.subscriptions).toBe(healthy.length);
      expect(run.steps).toEqual(sumSteps(healthy.map((s) => expectedAt(s, asOf).steps)));
      expect(await tenantsOffModel(t.database.db, healthy, (s) => [expectedAt(s, asOf).state])).toEqual({
        count: 0,
        first: [],
      });
      // Its transaction rolled back: nothing of the failed advance is left.
      expect(await brokenRow()).toEqual(brokenBefore);
      expect(await bookViolations(t.database.db)).toEqual(noViolations);

      // Left for the next run, which fails on it again and finds nothing else to do.
      const again = await runBilling(t.database.db, asOf);
      expect(again.subscriptions).toBe(0);
      expect(again.failures.map((failure) => failure.subscriptionId)).toEqual([brokenBefore.id]);
    }));

  it('a batch refused at commit is redone one subscription per transaction: only the refused one is reported', () =>
    withApp(async (t) => {
      const db = t.database.db;
      const subscribers = await givenSubscribers(t, 'commit', 4);
      const broken = subscribers[2]!;
      // A check the database makes only at commit (as the ledger's balance check is), failing one renewal.
      await sql`create function refuse_at_commit() returns trigger language plpgsql as $$
                begin raise exception 'renewal of % refused at commit', new.tenant_id; end $$`.execute(db);
      await sql`create constraint trigger refuse_one_renewal after insert on subscription_events
                  deferrable initially deferred for each row
                  when (new.tenant_id = ${sql.lit(broken.tenantId)} and new.kind = 'renewed')
                  execute function refuse_at_commit()`.execute(db);
      const brokenBefore = await db
        .selectFrom('subscriptions')
        .selectAll()
        .where('tenant_id', '=', broken.tenantId)
        .executeTakeFirstOrThrow();
      const asOf = new Date('2026-03-15T00:00:00Z');

      const run = await runBilling(db, asOf);
      const healthy = subscribers.filter((s) => s !== broken);
      expect(run.failures).toEqual([
        {
          tenantId: broken.tenantId,
          subscriptionId: brokenBefore.id,
          error: expect.stringMatching(/refused at commit/) as string,
        },
      ]);
      expect(run.subscriptions).toBe(healthy.length);
      expect(run.steps).toEqual(sumSteps(healthy.map((s) => expectedAt(s, asOf).steps)));
      expect(await tenantsOffModel(db, healthy, (s) => [expectedAt(s, asOf).state])).toEqual({ count: 0, first: [] });
      expect(
        await db.selectFrom('subscriptions').selectAll().where('tenant_id', '=', broken.tenantId).executeTakeFirst(),
      ).toEqual(brokenBefore);
      expect(await bookViolations(db)).toEqual(noViolations);
    }));

  it('a credit balance spent while a batch was planned refuses its debit at the write: the batch is redone one by one', () =>
    withApp(async (t) => {
      const db = t.database.db;
      const subscribers = await givenSubscribers(t, 'spent', profiles.length);
      const prepaid = subscribers.find((s) => s.profile.name === 'prepaid')!;
      // Someone spends the prepaid tenant's whole balance while the batch writes its invoices, once
      // (a sequence does not roll back with the batch): the batch's held debit is refused after it.
      await sql`create sequence spend_once`.execute(db);
      await sql`create function spend_balance() returns trigger language plpgsql as $$
                begin
                  if nextval('spend_once') = 1 then
                    perform ledger_post(new.tenant_id, 'ctr_spentmeanwhile01', 'debit',
                      (select balance from ledger_accounts where tenant_id = new.tenant_id and id = 'cash'),
                      'manual_adjust', null, 'spent meanwhile', new.created_at, 'CNY', 'cash', 'source:manual_adjust');
                  end if;
                  return new;
                end $$`.execute(db);
      await sql`create trigger spend_while_planned before insert on billing_records for each row
                  when (new.tenant_id = ${sql.lit(prepaid.tenantId)}) execute function spend_balance()`.execute(db);
      const asOf = new Date('2026-02-15T00:00:00Z');

      const run = await runBilling(db, asOf);
      expect(run.failures).toEqual([]);
      expect(run.subscriptions).toBe(subscribers.length);
      // Spent at the batch's write (rolled back with it), then not again at the redo.
      const fired = await sql<{ n: string }>`select last_value::text as n from spend_once`.execute(db);
      expect(fired.rows[0]?.n).toBe('2');
      expect(await tenantsOffModel(db, subscribers, (s) => [expectedAt(s, asOf).state])).toEqual({
        count: 0,
        first: [],
      });
      expect(await bookViolations(db)).toEqual(noViolations);
    }));
});

// --- separate OS processes on a PostgreSQL server ------------------------------------------------

interface RunnerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

interface Runner {
  child: ChildProcess;
  exited: Promise<RunnerExit>;
}

/** Runner processes still alive; a failed test must not leave one billing in the background. */
const spawnedRunners = new Set<ChildProcess>();
afterEach(() => {
  for (const child of spawnedRunners) child.kill('SIGKILL');
});

/** `billing bill --as-of …` as its own process against the test database, as an operator would run it. */
const startRunner = (databaseUrl: string, asOf: string): Runner => {
  const started = performance.now();
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'bill', '--as-of', asOf], {
    cwd: repoRoot,
    env: {
      ...process.env,
      DATABASE_URL: databaseUrl,
      BILLING_JWT_SECRET: testSecret,
      LOG_LEVEL: 'silent',
      BILLING_SCHEDULER_INTERVAL_SECONDS: '0',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  spawnedRunners.add(child);
  child.on('close', () => spawnedRunners.delete(child));
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<RunnerExit>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr, ms: performance.now() - started }));
  });
  return { child, exited };
};

const summaryOf = (exit: RunnerExit): BillingRunView => {
  expect(exit, 'the runner exits 0 with a summary on stdout').toMatchObject({ code: 0 });
  expect(exit.stderr, 'stderr holds its progress lines and nothing else').toMatch(/^(billing run: [^\n]*\n)*$/);
  return JSON.parse(exit.stdout.trim().split('\n').at(-1)!) as BillingRunView;
};

const seconds = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;

/**
 * Waits until no due subscription is row-locked any more: the server notices a killed client only
 * when it next talks to it, and a lock still held then would be skipped by the next runner.
 */
const waitForLocksReleased = async (db: Db, asOf: Date): Promise<number> => {
  const started = performance.now();
  for (;;) {
    const { rows } = await sql<{ due: number; free: number }>`
      select (select count(*)::int from subscriptions where next_run_at <= ${asOf}) as due,
             (select count(*)::int from (select 1 from subscriptions where next_run_at <= ${asOf}
                                            for update skip locked) s) as free`.execute(db);
    if (rows[0]!.due === rows[0]!.free) return performance.now() - started;
    if (performance.now() - started > 10_000) throw new Error('a killed runner still holds subscription locks');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
};

describe.skipIf(!process.env.DATABASE_URL)('the bill command as separate processes (server)', () => {
  it('three runners started at once share the work: every period billed exactly once', { timeout: 90_000 }, () =>
    withApp(async (t) => {
      const setupStarted = performance.now();
      const subscribers = await givenSubscribers(t, 'race', 350);
      console.log(`race: ${subscribers.length} subscribers set up in ${seconds(performance.now() - setupStarted)}`);
      const asOfText = '2026-03-15T00:00:00Z';
      const asOf = new Date(asOfText);

      const started = performance.now();
      const runners = [0, 1, 2].map(() => startRunner(t.database.url!, asOfText));
      const exits = await Promise.all(runners.map((runner) => runner.exited));
      const wallMs = performance.now() - started;
      const summaries = exits.map(summaryOf);
      console.log(
        `race: 3 runners in ${seconds(wallMs)} wall (${exits.map((exit) => seconds(exit.ms)).join(', ')}); ` +
          `subscriptions advanced per runner: ${summaries.map((summary) => summary.subscriptions).join(', ')}`,
      );

      // Between them they advanced each subscription once and did each step once.
      expect(summaries.flatMap((summary) => summary.failures)).toEqual([]);
      expect(summaries.reduce((sum, summary) => sum + summary.subscriptions, 0)).toBe(subscribers.length);
      expect(sumSteps(summaries.map((summary) => summary.steps))).toEqual(
        sumSteps(subscribers.map((s) => expectedAt(s, asOf).steps)),
      );
      expect(await tenantsOffModel(t.database.db, subscribers, (s) => [expectedAt(s, asOf).state])).toEqual({
        count: 0,
        first: [],
      });
      expect(await bookViolations(t.database.db)).toEqual(noViolations);

      await expectRunChangesNothing(t, asOfText);
    }),
  );

  it(
    'a runner killed mid-run leaves only whole subscriptions advanced; the next run does the rest',
    { timeout: 120_000 },
    () =>
      withApp(async (t) => {
        const setupStarted = performance.now();
        const subscribers = await givenSubscribers(t, 'kill', 500);
        console.log(`kill: ${subscribers.length} subscribers set up in ${seconds(performance.now() - setupStarted)}`);
        // Ten months owed each: long enough a run to kill in the middle.
        const asOfText = '2026-11-15T00:00:00Z';
        const asOf = new Date(asOfText);
        const initialPeriods = await periodCount(t.database.db);
        const finalPeriods = expectedPeriodCount(subscribers, asOf);
        expect(initialPeriods).toBe(expectedPeriodCount(subscribers, subscribedAt));

        const started = performance.now();
        const runner = startRunner(t.database.url!, asOfText);
        let exitedEarly = false;
        void runner.exited.then(() => (exitedEarly = true));
        // Kill once about a quarter of the new periods are committed.
        const killAt = initialPeriods + Math.floor((finalPeriods - initialPeriods) / 4);
        let periodsAtKill = initialPeriods;
        while (!exitedEarly && periodsAtKill < killAt) {
          await new Promise((resolve) => setTimeout(resolve, 10));
          periodsAtKill = await periodCount(t.database.db);
        }
        runner.child.kill('SIGKILL');
        const killed = await runner.exited;
        console.log(
          `kill: runner killed after ${seconds(killed.ms)} with ${periodsAtKill - initialPeriods} of ` +
            `${finalPeriods - initialPeriods} new periods committed`,
        );
        expect(killed.signal, `the runner finished before it could be killed: ${killed.stdout}`).toBe('SIGKILL');
        const lingeredMs = await waitForLocksReleased(t.database.db, asOf);

        // Each subscription is where it started or fully advanced, never in between.
        const partial = await observeTenants(t.database.db);
        const advanced = subscribers.filter(
          (s) => JSON.stringify(partial.get(s.tenantId)) === JSON.stringify(expectedAt(s, asOf).state),
        );
        expect(advanced.length).toBeGreaterThan(0);
        expect(advanced.length).toBeLessThan(subscribers.length);
        expect(
          await tenantsOffModel(t.database.db, subscribers, (s) => [
            expectedAt(s, subscribedAt).state,
            expectedAt(s, asOf).state,
          ]),
        ).toEqual({ count: 0, first: [] });
        expect(await bookViolations(t.database.db)).toEqual(noViolations);

        const restarted = summaryOf(await startRunner(t.database.url!, asOfText).exited);
        console.log(
          `kill: locks gone ${lingeredMs.toFixed(0)} ms after the kill; ${advanced.length} subscriptions were done, ` +
            `the second runner did ${restarted.subscriptions} more; ${seconds(performance.now() - started)} in all`,
        );
        expect(restarted.failures).toEqual([]);
        // Those advanced before the kill owe nothing more; every other subscription has all its steps still to do.
        const untouched = subscribers.filter((s) => !advanced.includes(s));
        expect(restarted.subscriptions).toBe(untouched.length);
        expect(restarted.steps).toEqual(sumSteps(untouched.map((s) => expectedAt(s, asOf).steps)));
        expect(await tenantsOffModel(t.database.db, subscribers, (s) => [expectedAt(s, asOf).state])).toEqual({
          count: 0,
          first: [],
        });
        expect(await periodCount(t.database.db)).toBe(finalPeriods);
        expect(await bookViolations(t.database.db)).toEqual(noViolations);

        await expectRunChangesNothing(t, asOfText);
      }),
  );
});
