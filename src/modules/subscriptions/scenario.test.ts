import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { asPlatformAdmin } from '../../testing/api.js';
import { expectData } from '../../testing/envelopes.js';
import {
  balanceOf,
  billingRun,
  changeSubscription,
  creditTransactionsOf,
  givenCredit,
  givenPlan,
  givenSubscription,
  givenTenant,
  noReminders,
  noSteps,
  recordOf,
  recordsOf,
  subscriptionOf,
  updateSubscriptionSettings,
} from '../../testing/fixtures.js';
import { cny, halfUp, sixPercentTax } from '../../testing/money-by-hand.js';
import { createTestApp, type TestApp } from '../../testing/test-app.js';
import type { RecordDetailView } from '../../testing/views.js';

/*
 * Tenants driven through months of their life over the HTTP API, the clock moved by hand and the
 * billing run called as of the clock. Every record, ledger transaction and subscription field is
 * asserted to the minor unit; expected money is computed here by hand, never read from the code.
 * Each test has an app and database of its own: billing runs are global, so no leftovers leak in.
 */

let t: TestApp;
beforeEach(async () => {
  t = await createTestApp();
});
afterEach(() => t.close());

const taxRate = 0.06;
const recordIdShape = /^rec_[a-z0-9]{16}$/;
const ledgerIdShape = /^ctr_/;

// ---------------------------------------------------------------- time and money, by hand

/** A wall-clock time in Asia/Shanghai (UTC+8 all year, no DST) as the API prints it, in UTC. */
const shanghai = (local: string): string => {
  const withTime = local.length === 10 ? `${local}T00:00:00` : local.length === 16 ? `${local}:00` : local;
  return new Date(`${withTime}+08:00`).toISOString().replace('.000Z', 'Z');
};

const seconds = (from: string, to: string): number => (Date.parse(to) - Date.parse(from)) / 1000;

/** The prorated share of a per-period difference: difference × seconds left / seconds in the period, half-up. */
const prorated = (differenceMinor: bigint, periodStart: string, periodEnd: string, at: string) => {
  const left = seconds(at, periodEnd);
  const of = seconds(periodStart, periodEnd);
  return { left, of, amount: halfUp(differenceMinor * BigInt(left), BigInt(of)) };
};

// ---------------------------------------------------------------- HTTP

const changePlan = (tenantId: string, planId: string) =>
  changeSubscription(t, tenantId, '/change-plan', { plan_id: planId });

/** Every finalised record of the tenant, oldest first (the API lists newest first). */
const records = async (tenantId: string) => (await recordsOf(t, tenantId)).reverse();

/** Every credit transaction of the tenant, oldest first (the scenarios never post two at one instant). */
const ledger = async (tenantId: string) => (await creditTransactionsOf(t, tenantId)).reverse();

/** The subscription's lifecycle history; no endpoint shows it, so it is read from its table. */
const history = async (tenantId: string) => {
  const { rows } = await sql<{
    kind: string;
    from_status: string | null;
    to_status: string;
    plan_id: string;
    record_id: string | null;
    actor: string;
    reason: string | null;
    occurred_at: Date;
  }>`
    select kind, from_status, to_status, plan_id, record_id, actor, reason, occurred_at
      from subscription_events where tenant_id = ${tenantId} order by subscription_id, seq`.execute(t.database.db);
  return rows.map((row) => ({ ...row, occurred_at: new Date(row.occurred_at).toISOString().replace('.000Z', 'Z') }));
};

/** Everything a billing run could change for a tenant. */
const snapshot = async (tenantId: string) => ({
  subscription: await subscriptionOf(t, tenantId),
  records: await records(tenantId),
  ledger: await ledger(tenantId),
  history: await history(tenantId),
});

/**
 * Moves the clock to `at` and runs billing as of it; then runs it again as of the same instant,
 * which must find nothing to do and change nothing. Returns the steps of the first run.
 */
const billAt = async (tenantId: string, at: string) => {
  t.clock.set(at);
  const first = await billingRun(t, at);
  expect(first.as_of).toBe(at);
  expect(first.failures).toEqual([]);
  const before = await snapshot(tenantId);
  const replay = await billingRun(t, at);
  expect(replay).toEqual({ as_of: at, subscriptions: 0, steps: noSteps, reminders: noReminders, failures: [] });
  expect(await snapshot(tenantId)).toEqual(before);
  return first.steps;
};

// ---------------------------------------------------------------- fixtures and expectations

const topUp = (tenantId: string, amount: number, paymentId: string) =>
  givenCredit(t, tenantId, { kind: 'top-up', amount, source_id: paymentId, remark: `Bank transfer ${paymentId}` });

/** A period invoice as the API shows it: one line, 1 × the plan price, 6 % tax. */
const periodInvoice = (invoice: {
  tenant: string;
  number: string;
  planName: string;
  priceMinor: bigint;
  from: string;
  to: string;
  status: string;
}) => {
  const tax = sixPercentTax(invoice.priceMinor);
  const description = `${invoice.planName} Monthly Subscription`;
  return {
    record_id: expect.stringMatching(recordIdShape) as unknown,
    tenant_id: invoice.tenant,
    app_id: null,
    currency: 'CNY',
    invoice_number: invoice.number,
    type: 'subscription',
    status: invoice.status,
    description,
    created_at: shanghai(invoice.from),
    // Due on receipt (the default payment terms); not found overdue unless told.
    due_at: shanghai(invoice.from),
    overdue_at: null as string | null,
    amount: cny(invoice.priceMinor),
    tax_amount: cny(tax),
    total_amount: cny(invoice.priceMinor + tax),
    line_items: [
      {
        description: `${description}, ${invoice.from} to ${invoice.to}`,
        resource_type: 'subscription',
        quantity: 1,
        unit_price: cny(invoice.priceMinor),
        amount: cny(invoice.priceMinor),
        tax_amount: cny(tax),
        tax_rate: taxRate,
      },
    ],
  };
};

const ledgerEntry = (entry: {
  tenant: string;
  type: 'credit' | 'debit';
  source: string;
  sourceId: string | null;
  amountMinor: bigint;
  balanceMinor: bigint;
  remark: string;
  at: string;
}) => ({
  id: expect.stringMatching(ledgerIdShape) as unknown,
  tenant_id: entry.tenant,
  type: entry.type,
  source: entry.source,
  source_id: entry.sourceId,
  amount: cny(entry.amountMinor),
  balance: cny(entry.balanceMinor),
  remark: entry.remark,
  created_at: entry.at,
});

/** The lifecycle fields of a subscription with nothing pending: each test overrides what applies. */
const settled = {
  billing_cycle: 'monthly',
  currency: 'CNY',
  plan_version: 1,
  auto_renew: true,
  cancel_at_period_end: false,
  trial_end_date: null,
  scheduled_change: null,
  open_record_id: null,
  past_due_since: null,
  grace_ends_at: null,
  next_payment_attempt_at: null,
  ended_at: null,
};

const event = ({
  kind,
  from,
  to,
  planId,
  at,
  recordId,
  actor,
  reason,
}: {
  kind: string;
  from: string | null;
  to: string;
  planId: string;
  at: string;
  recordId?: string;
  actor?: string;
  reason?: string;
}) => ({
  kind,
  from_status: from,
  to_status: to,
  plan_id: planId,
  record_id: recordId ?? null,
  actor: actor ?? 'billing-run',
  reason: reason ?? null,
  occurred_at: at,
});

const declined = 'card declined (sandbox)';
const paidFromBalance = 'paid from the credit balance';
const paidBySandbox = (recordId: string) => `paid by sandbox_success (sandbox_${recordId})`;

/** The history of a record finalised at `at` by the billing run: draft, then pending. */
const issued = (at: string, actor = 'billing-run') => [
  { from_status: null, to_status: 'draft', actor, reason: null, occurred_at: at },
  { from_status: 'draft', to_status: 'pending', actor, reason: null, occurred_at: at },
];

// ---------------------------------------------------------------- scenarios

describe('a year of one subscription', () => {
  it('goes trial → active → upgrade → credited downgrade → dunning → recovery → scheduled downgrade → canceled', async () => {
    const tenant = 'tnt_year';
    const admin = `usr_admin_of_${tenant}`;
    await givenTenant(t, tenant, { time_zone: 'Asia/Shanghai', currency: 'CNY', tax_rate: taxRate });
    const basic = { minor: 99_00n, name: 'Basic' };
    const pro = { minor: 499_00n, name: 'Pro' };
    const lite = { minor: 49_00n, name: 'Lite' };
    await givenPlan(t, 'basic', {
      name: basic.name,
      monthly_price: 99,
      trial_days: 14,
      grace_period_days: 7,
      downgrade_policy: 'immediate',
    });
    await givenPlan(t, 'pro', { name: pro.name, monthly_price: 499, downgrade_policy: 'at_period_end' });
    await givenPlan(t, 'lite', { name: lite.name, monthly_price: 49, downgrade_policy: 'at_period_end' });

    // Subscribing at local midnight puts every period boundary at local midnight (16:00Z the day before).
    const subscribedAt = shanghai('2026-01-18');
    const trialEnd = shanghai('2026-02-01');
    t.clock.set(subscribedAt);
    const started = await givenSubscription(t, tenant, {
      plan_id: 'basic',
      billing_cycle: 'monthly',
      payment_method: 'sandbox_success',
    });
    const subscriptionId = started.id;
    let expected: Record<string, unknown> = {
      ...settled,
      id: subscriptionId,
      tenant_id: tenant,
      admin_user_id: admin,
      status: 'trialing',
      plan_id: 'basic',
      amount: 99,
      grace_period_days: 7,
      payment_method: 'sandbox_success',
      current_period_start: subscribedAt,
      current_period_end: trialEnd,
      trial_end_date: trialEnd,
      created_at: subscribedAt,
    };
    expect(started).toMatchObject(expected);
    expect(await records(tenant)).toEqual([]);

    // A second before the trial ends there is nothing to bill.
    expect(await billAt(tenant, shanghai('2026-01-31T23:59:59'))).toEqual(noSteps);
    expect(await subscriptionOf(t, tenant)).toMatchObject(expected);

    // Trial end: the first paid period starts there and is invoiced and charged at once.
    expect(await billAt(tenant, trialEnd)).toEqual({ ...noSteps, trial_end: 1 });
    const february = { start: trialEnd, end: shanghai('2026-03-01') };
    expected = {
      ...expected,
      status: 'active',
      current_period_start: february.start,
      current_period_end: february.end,
    };
    expect(await subscriptionOf(t, tenant)).toMatchObject(expected);
    const invoices: unknown[] = [
      periodInvoice({
        tenant,
        number: 'INV-2026-001',
        planName: basic.name,
        priceMinor: basic.minor,
        from: '2026-02-01',
        to: '2026-03-01',
        status: 'paid',
      }),
    ];
    let seen = await records(tenant);
    expect(seen).toEqual(invoices);
    const trialInvoiceId = seen[0]!.record_id;
    expect((await recordOf(t, tenant, trialInvoiceId)).status_history).toEqual([
      ...issued(trialEnd),
      {
        from_status: 'pending',
        to_status: 'paid',
        actor: 'billing-run',
        reason: paidBySandbox(trialInvoiceId),
        occurred_at: trialEnd,
      },
    ]);

    // Upgrade mid-period: (499 − 99) × seconds left / seconds in the period, half-up, charged now.
    const upgradedAt = shanghai('2026-02-10T12:00');
    t.clock.set(upgradedAt);
    const upgradeCharge = prorated(pro.minor - basic.minor, february.start, february.end, upgradedAt);
    expect(upgradeCharge).toEqual({ left: 1_598_400, of: 2_419_200, amount: 264_29n });
    const upgradeTax = sixPercentTax(upgradeCharge.amount);
    expect(upgradeTax).toBe(15_86n);
    expect(await changePlan(tenant, 'pro')).toMatchObject({ ...expected, plan_id: 'pro', amount: 499 });
    expected = { ...expected, plan_id: 'pro', amount: 499, grace_period_days: 7 };
    const upgradeDescription = `Upgrade from basic to pro, prorated for ${upgradeCharge.left} of ${upgradeCharge.of} seconds`;
    invoices.push({
      record_id: expect.stringMatching(recordIdShape) as unknown,
      tenant_id: tenant,
      app_id: null,
      currency: 'CNY',
      invoice_number: 'INV-2026-002',
      type: 'proration',
      status: 'paid',
      description: upgradeDescription,
      created_at: upgradedAt,
      due_at: upgradedAt,
      overdue_at: null,
      amount: cny(upgradeCharge.amount),
      tax_amount: cny(upgradeTax),
      total_amount: cny(upgradeCharge.amount + upgradeTax),
      line_items: [
        {
          description: upgradeDescription,
          resource_type: 'subscription',
          quantity: 1,
          unit_price: cny(upgradeCharge.amount),
          amount: cny(upgradeCharge.amount),
          tax_amount: cny(upgradeTax),
          tax_rate: taxRate,
        },
      ],
    });
    seen = await records(tenant);
    expect(seen).toEqual(invoices);
    const upgradeRecordId = seen[1]!.record_id;
    expect(await ledger(tenant)).toEqual([]);

    // Downgrade to basic, whose policy is immediate: the unused difference and its tax go to the balance.
    const downgradedAt = shanghai('2026-02-20T12:00');
    t.clock.set(downgradedAt);
    const downgradeNet = prorated(pro.minor - basic.minor, february.start, february.end, downgradedAt);
    expect(downgradeNet).toEqual({ left: 734_400, of: 2_419_200, amount: 121_43n });
    const downgradeCredit = downgradeNet.amount + sixPercentTax(downgradeNet.amount);
    expect(downgradeCredit).toBe(128_72n);
    expected = { ...expected, plan_id: 'basic', amount: 99 };
    expect(await changePlan(tenant, 'basic')).toMatchObject(expected);
    const ledgerEntries: unknown[] = [
      ledgerEntry({
        tenant,
        type: 'credit',
        source: 'proration',
        sourceId: subscriptionId,
        amountMinor: downgradeCredit,
        balanceMinor: downgradeCredit,
        remark: `Plan downgrade prorated credit: pro to basic, prorated for ${downgradeNet.left} of ${downgradeNet.of} seconds`,
        at: downgradedAt,
      }),
    ];
    expect(await ledger(tenant)).toEqual(ledgerEntries);
    // No invoice for a downgrade.
    expect(await records(tenant)).toEqual(invoices);

    // March renewal: the credit balance pays it whole before any payment method.
    const march = { start: february.end, end: shanghai('2026-04-01') };
    expect(await billAt(tenant, march.start)).toEqual({ ...noSteps, period_end: 1 });
    expected = { ...expected, current_period_start: march.start, current_period_end: march.end };
    expect(await subscriptionOf(t, tenant)).toMatchObject(expected);
    const basicTotal = basic.minor + sixPercentTax(basic.minor);
    expect(basicTotal).toBe(104_94n);
    invoices.push(
      periodInvoice({
        tenant,
        number: 'INV-2026-003',
        planName: basic.name,
        priceMinor: basic.minor,
        from: '2026-03-01',
        to: '2026-04-01',
        status: 'paid',
      }),
    );
    seen = await records(tenant);
    expect(seen).toEqual(invoices);
    const marchInvoiceId = seen[2]!.record_id;
    let balanceMinor = downgradeCredit - basicTotal;
    expect(balanceMinor).toBe(23_78n);
    ledgerEntries.push(
      ledgerEntry({
        tenant,
        type: 'debit',
        source: 'invoice_payment',
        sourceId: marchInvoiceId,
        amountMinor: basicTotal,
        balanceMinor,
        remark: 'Payment of INV-2026-003',
        at: march.start,
      }),
    );
    expect(await ledger(tenant)).toEqual(ledgerEntries);
    expect(await recordOf(t, tenant, marchInvoiceId)).toMatchObject({
      amount_paid: cny(basicTotal),
      status_history: [
        ...issued(march.start),
        {
          from_status: 'pending',
          to_status: 'paid',
          actor: 'billing-run',
          reason: paidFromBalance,
          occurred_at: march.start,
        },
      ],
    });

    // The card starts declining.
    const declineSetAt = shanghai('2026-03-15T09:00');
    t.clock.set(declineSetAt);
    expected = { ...expected, payment_method: 'sandbox_decline' };
    expect(await updateSubscriptionSettings(t, tenant, { payment_method: 'sandbox_decline' })).toMatchObject(expected);

    // April renewal: the balance pays what it can, the card is declined for the rest, dunning starts.
    const april = { start: march.end, end: shanghai('2026-05-01') };
    expect(await billAt(tenant, april.start)).toEqual({ ...noSteps, period_end: 1 });
    invoices.push(
      periodInvoice({
        tenant,
        number: 'INV-2026-004',
        planName: basic.name,
        priceMinor: basic.minor,
        from: '2026-04-01',
        to: '2026-05-01',
        status: 'failed',
      }),
    );
    seen = await records(tenant);
    expect(seen).toEqual(invoices);
    const aprilInvoiceId = seen[3]!.record_id;
    const paidByBalanceInApril = balanceMinor;
    ledgerEntries.push(
      ledgerEntry({
        tenant,
        type: 'debit',
        source: 'invoice_payment',
        sourceId: aprilInvoiceId,
        amountMinor: paidByBalanceInApril,
        balanceMinor: 0n,
        remark: 'Payment of INV-2026-004',
        at: april.start,
      }),
    );
    balanceMinor = 0n;
    expect(await ledger(tenant)).toEqual(ledgerEntries);
    const graceEnd = shanghai('2026-04-08');
    expected = {
      ...expected,
      status: 'past_due',
      current_period_start: april.start,
      current_period_end: april.end,
      open_record_id: aprilInvoiceId,
      past_due_since: april.start,
      grace_ends_at: graceEnd,
      next_payment_attempt_at: shanghai('2026-04-02'),
    };
    expect(await subscriptionOf(t, tenant)).toMatchObject(expected);
    const aprilHistory = [
      ...issued(april.start),
      { from_status: 'pending', to_status: 'failed', actor: 'billing-run', reason: declined, occurred_at: april.start },
    ];
    expect(await recordOf(t, tenant, aprilInvoiceId)).toMatchObject({
      status: 'failed',
      amount_paid: cny(paidByBalanceInApril),
      status_history: aprilHistory,
    });

    // Retries 1, 3 and 5 days after the failure, each declined again; none is left after the third.
    // The first run after the failure finds the invoice (due on receipt) overdue.
    expect(await billAt(tenant, shanghai('2026-04-01T23:59:59'))).toEqual(noSteps);
    (invoices[3] as { overdue_at: string | null }).overdue_at = shanghai('2026-04-01T23:59:59');
    for (const [retryDay, nextAttempt] of [
      ['2026-04-02', shanghai('2026-04-04')],
      ['2026-04-04', shanghai('2026-04-06')],
      ['2026-04-06', null],
    ] as const) {
      const retryAt = shanghai(retryDay);
      expect(await billAt(tenant, retryAt)).toEqual({ ...noSteps, payment_retry: 1 });
      expected = { ...expected, next_payment_attempt_at: nextAttempt };
      expect(await subscriptionOf(t, tenant)).toMatchObject(expected);
      aprilHistory.push(
        {
          from_status: 'failed',
          to_status: 'pending',
          actor: 'billing-run',
          reason: 'payment retry',
          occurred_at: retryAt,
        },
        { from_status: 'pending', to_status: 'failed', actor: 'billing-run', reason: declined, occurred_at: retryAt },
      );
      expect((await recordOf(t, tenant, aprilInvoiceId)).status_history).toEqual(aprilHistory);
    }
    expect(await records(tenant)).toEqual(invoices);
    expect(await ledger(tenant)).toEqual(ledgerEntries);

    // Recovery inside the grace period: a top-up, then the rest of the invoice paid from the balance.
    const toppedUpAt = shanghai('2026-04-07T10:00');
    t.clock.set(toppedUpAt);
    await topUp(tenant, 100, 'pay_april');
    balanceMinor = 100_00n;
    ledgerEntries.push(
      ledgerEntry({
        tenant,
        type: 'credit',
        source: 'top_up',
        sourceId: 'pay_april',
        amountMinor: 100_00n,
        balanceMinor,
        remark: 'Bank transfer pay_april',
        at: toppedUpAt,
      }),
    );
    const recoveredAt = shanghai('2026-04-07T10:05');
    t.clock.set(recoveredAt);
    const stillOwed = basicTotal - paidByBalanceInApril;
    expect(stillOwed).toBe(81_16n);
    const paid = await asPlatformAdmin(t).post(`/admin/records/${tenant}/${aprilInvoiceId}/pay-from-balance`, {});
    expect(expectData<RecordDetailView>(paid)).toMatchObject({
      status: 'paid',
      amount_paid: cny(basicTotal),
    });
    balanceMinor -= stillOwed;
    expect(balanceMinor).toBe(18_84n);
    ledgerEntries.push(
      ledgerEntry({
        tenant,
        type: 'debit',
        source: 'invoice_payment',
        sourceId: aprilInvoiceId,
        amountMinor: stillOwed,
        balanceMinor,
        remark: 'Payment of INV-2026-004',
        at: recoveredAt,
      }),
    );
    expect(await ledger(tenant)).toEqual(ledgerEntries);
    aprilHistory.push({
      from_status: 'failed',
      to_status: 'paid',
      actor: 'usr_platform',
      reason: paidFromBalance,
      occurred_at: recoveredAt,
    });
    expect((await recordOf(t, tenant, aprilInvoiceId)).status_history).toEqual(aprilHistory);
    // Active again at once, without waiting for a billing run.
    expected = {
      ...expected,
      status: 'active',
      open_record_id: null,
      past_due_since: null,
      grace_ends_at: null,
      next_payment_attempt_at: null,
    };
    expect(await subscriptionOf(t, tenant)).toMatchObject(expected);
    (invoices[3] as { status: string }).status = 'paid';
    expect(await records(tenant)).toEqual(invoices);
    // The grace end that was due no longer suspends anything.
    expect(await billAt(tenant, graceEnd)).toEqual(noSteps);
    expect(await subscriptionOf(t, tenant)).toMatchObject(expected);

    // A working card again, and a downgrade to lite, whose policy waits for the period end.
    const cardFixedAt = shanghai('2026-04-08T11:00');
    t.clock.set(cardFixedAt);
    expected = { ...expected, payment_method: 'sandbox_success' };
    expect(await updateSubscriptionSettings(t, tenant, { payment_method: 'sandbox_success' })).toMatchObject(expected);
    const scheduledAt = shanghai('2026-04-10T15:00');
    t.clock.set(scheduledAt);
    expected = {
      ...expected,
      scheduled_change: { plan_id: 'lite', plan_version: 1, billing_cycle: 'monthly', effective_at: april.end },
    };
    expect(await changePlan(tenant, 'lite')).toMatchObject(expected);
    expect(await records(tenant)).toEqual(invoices);
    expect(await ledger(tenant)).toEqual(ledgerEntries);

    // May renewal at the lite price: the balance pays its 18.84, the card the rest.
    const may = { start: april.end, end: shanghai('2026-06-01') };
    expect(await billAt(tenant, may.start)).toEqual({ ...noSteps, period_end: 1 });
    expected = {
      ...expected,
      plan_id: 'lite',
      amount: 49,
      scheduled_change: null,
      current_period_start: may.start,
      current_period_end: may.end,
    };
    expect(await subscriptionOf(t, tenant)).toMatchObject(expected);
    invoices.push(
      periodInvoice({
        tenant,
        number: 'INV-2026-005',
        planName: lite.name,
        priceMinor: lite.minor,
        from: '2026-05-01',
        to: '2026-06-01',
        status: 'paid',
      }),
    );
    seen = await records(tenant);
    expect(seen).toEqual(invoices);
    const mayInvoiceId = seen[4]!.record_id;
    ledgerEntries.push(
      ledgerEntry({
        tenant,
        type: 'debit',
        source: 'invoice_payment',
        sourceId: mayInvoiceId,
        amountMinor: balanceMinor,
        balanceMinor: 0n,
        remark: 'Payment of INV-2026-005',
        at: may.start,
      }),
    );
    expect(await ledger(tenant)).toEqual(ledgerEntries);
    expect(await recordOf(t, tenant, mayInvoiceId)).toMatchObject({
      amount_paid: cny(balanceMinor),
      status_history: [
        ...issued(may.start),
        {
          from_status: 'pending',
          to_status: 'paid',
          actor: 'billing-run',
          reason: paidBySandbox(mayInvoiceId),
          occurred_at: may.start,
        },
      ],
    });
    balanceMinor = 0n;

    // Mid-July: one run issues June and July, each dated at its own period start.
    expect(await billAt(tenant, shanghai('2026-07-15T09:00'))).toEqual({ ...noSteps, period_end: 2 });
    invoices.push(
      periodInvoice({
        tenant,
        number: 'INV-2026-006',
        planName: lite.name,
        priceMinor: lite.minor,
        from: '2026-06-01',
        to: '2026-07-01',
        status: 'paid',
      }),
      periodInvoice({
        tenant,
        number: 'INV-2026-007',
        planName: lite.name,
        priceMinor: lite.minor,
        from: '2026-07-01',
        to: '2026-08-01',
        status: 'paid',
      }),
    );
    seen = await records(tenant);
    expect(seen).toEqual(invoices);
    const july = { start: shanghai('2026-07-01'), end: shanghai('2026-08-01') };
    expected = { ...expected, current_period_start: july.start, current_period_end: july.end };
    expect(await subscriptionOf(t, tenant)).toMatchObject(expected);
    expect(await ledger(tenant)).toEqual(ledgerEntries);

    // Cancel at period end: still active until August 1, then canceled with no invoice.
    const cancelAt = shanghai('2026-07-20T09:30');
    t.clock.set(cancelAt);
    expected = { ...expected, cancel_at_period_end: true };
    expect(await changeSubscription(t, tenant, '/cancel', { reason: 'moving on' })).toMatchObject(expected);
    expect(await billAt(tenant, shanghai('2026-07-31T23:59:59'))).toEqual(noSteps);
    expect(await billAt(tenant, july.end)).toEqual({ ...noSteps, period_end: 1 });
    expected = { ...expected, status: 'canceled', cancel_at_period_end: false, ended_at: july.end };
    expect(await subscriptionOf(t, tenant)).toMatchObject(expected);

    // Runs to the end of the year and beyond issue nothing more.
    for (const later of [shanghai('2026-09-01'), shanghai('2026-12-31T23:59:59'), shanghai('2027-03-01')]) {
      expect(await billAt(tenant, later)).toEqual(noSteps);
    }
    expect(await records(tenant)).toEqual(invoices);
    expect(await ledger(tenant)).toEqual(ledgerEntries);
    expect(await balanceOf(t, tenant)).toBe(0);
    expect(await subscriptionOf(t, tenant)).toMatchObject(expected);

    expect(await history(tenant)).toEqual([
      event({ kind: 'subscribed', from: null, to: 'trialing', planId: 'basic', at: subscribedAt, actor: admin }),
      event({
        kind: 'trial_ended',
        from: 'trialing',
        to: 'active',
        planId: 'basic',
        at: trialEnd,
        recordId: trialInvoiceId,
      }),
      event({
        kind: 'upgraded',
        from: 'active',
        to: 'active',
        planId: 'pro',
        at: upgradedAt,
        actor: admin,
        recordId: upgradeRecordId,
      }),
      event({ kind: 'downgraded', from: 'active', to: 'active', planId: 'basic', at: downgradedAt, actor: admin }),
      event({
        kind: 'renewed',
        from: 'active',
        to: 'active',
        planId: 'basic',
        at: march.start,
        recordId: marchInvoiceId,
      }),
      event({ kind: 'updated', from: 'active', to: 'active', planId: 'basic', at: declineSetAt, actor: admin }),
      event({
        kind: 'renewed',
        from: 'active',
        to: 'past_due',
        planId: 'basic',
        at: april.start,
        recordId: aprilInvoiceId,
        reason: declined,
      }),
      ...['2026-04-02', '2026-04-04', '2026-04-06'].map((day) =>
        event({
          kind: 'payment_retried',
          from: 'past_due',
          to: 'past_due',
          planId: 'basic',
          at: shanghai(day),
          recordId: aprilInvoiceId,
          reason: declined,
        }),
      ),
      event({
        kind: 'payment_recovered',
        from: 'past_due',
        to: 'active',
        planId: 'basic',
        at: recoveredAt,
        actor: 'usr_platform',
        recordId: aprilInvoiceId,
      }),
      event({ kind: 'updated', from: 'active', to: 'active', planId: 'basic', at: cardFixedAt, actor: admin }),
      event({ kind: 'change_scheduled', from: 'active', to: 'active', planId: 'basic', at: scheduledAt, actor: admin }),
      event({ kind: 'renewed', from: 'active', to: 'active', planId: 'lite', at: may.start, recordId: mayInvoiceId }),
      event({
        kind: 'renewed',
        from: 'active',
        to: 'active',
        planId: 'lite',
        at: shanghai('2026-06-01'),
        recordId: seen[5]!.record_id,
      }),
      event({
        kind: 'renewed',
        from: 'active',
        to: 'active',
        planId: 'lite',
        at: july.start,
        recordId: seen[6]!.record_id,
      }),
      event({
        kind: 'cancel_scheduled',
        from: 'active',
        to: 'active',
        planId: 'lite',
        at: cancelAt,
        actor: admin,
        reason: 'moving on',
      }),
      event({
        kind: 'canceled',
        from: 'active',
        to: 'canceled',
        planId: 'lite',
        at: july.end,
        reason: 'canceled at period end',
      }),
    ]);
  });
});

describe('shorter scenarios', () => {
  it('anchors on January 31: periods end Feb 28, Mar 31, Apr 30, May 31, one invoice each', async () => {
    const tenant = 'tnt_month_end';
    await givenTenant(t, tenant, { time_zone: 'Asia/Shanghai', tax_rate: taxRate });
    await givenPlan(t, 'pro', { name: 'Pro', monthly_price: 499, trial_days: 14 });
    const subscribedAt = shanghai('2026-01-31');
    t.clock.set(subscribedAt);
    const started = await givenSubscription(t, tenant, {
      plan_id: 'pro',
      billing_cycle: 'monthly',
      trial: false,
      payment_method: 'sandbox_success',
    });
    const boundaries = ['2026-01-31', '2026-02-28', '2026-03-31', '2026-04-30', '2026-05-31', '2026-06-30'];
    expect(started).toMatchObject({
      ...settled,
      status: 'active',
      plan_id: 'pro',
      amount: 499,
      current_period_start: shanghai(boundaries[0]!),
      current_period_end: shanghai(boundaries[1]!),
    });
    const invoices = [
      periodInvoice({
        tenant,
        number: 'INV-2026-001',
        planName: 'Pro',
        priceMinor: 499_00n,
        from: boundaries[0]!,
        to: boundaries[1]!,
        status: 'paid',
      }),
    ];
    expect(await records(tenant)).toEqual(invoices);

    for (let period = 1; period <= 4; period += 1) {
      const start = boundaries[period]!;
      const end = boundaries[period + 1]!;
      // A second early nothing happens; at the boundary exactly one period is invoiced.
      expect(
        await billAt(tenant, new Date(Date.parse(shanghai(start)) - 1000).toISOString().replace('.000Z', 'Z')),
      ).toEqual(noSteps);
      expect(await billAt(tenant, shanghai(start))).toEqual({ ...noSteps, period_end: 1 });
      expect(await subscriptionOf(t, tenant)).toMatchObject({
        ...settled,
        status: 'active',
        current_period_start: shanghai(start),
        current_period_end: shanghai(end),
      });
      invoices.push(
        periodInvoice({
          tenant,
          number: `INV-2026-00${period + 1}`,
          planName: 'Pro',
          priceMinor: 499_00n,
          from: start,
          to: end,
          status: 'paid',
        }),
      );
      expect(await records(tenant)).toEqual(invoices);
    }
    expect(await ledger(tenant)).toEqual([]);
  });

  it('suspends when the grace period runs out unpaid and cancels at the period end, the invoice still owed', async () => {
    const tenant = 'tnt_grace';
    const admin = `usr_admin_of_${tenant}`;
    await givenTenant(t, tenant, { time_zone: 'Asia/Shanghai', tax_rate: taxRate });
    // Three grace days: only the +1 day retry falls before the grace end; +3 is the grace end itself.
    await givenPlan(t, 'pro', { name: 'Pro', monthly_price: 499, grace_period_days: 3 });
    const periodStart = shanghai('2026-03-01');
    const periodEnd = shanghai('2026-04-01');
    const graceEnd = shanghai('2026-03-04');
    t.clock.set(periodStart);
    const started = await givenSubscription(t, tenant, {
      plan_id: 'pro',
      billing_cycle: 'monthly',
      payment_method: 'sandbox_decline',
    });
    const invoice = periodInvoice({
      tenant,
      number: 'INV-2026-001',
      planName: 'Pro',
      priceMinor: 499_00n,
      from: '2026-03-01',
      to: '2026-04-01',
      status: 'failed',
    });
    const [seen] = await records(tenant);
    expect(seen).toEqual(invoice);
    const recordId = seen!.record_id;
    let expected: Record<string, unknown> = {
      ...settled,
      status: 'past_due',
      plan_id: 'pro',
      amount: 499,
      grace_period_days: 3,
      payment_method: 'sandbox_decline',
      current_period_start: periodStart,
      current_period_end: periodEnd,
      open_record_id: recordId,
      past_due_since: periodStart,
      grace_ends_at: graceEnd,
      next_payment_attempt_at: shanghai('2026-03-02'),
    };
    expect(started).toMatchObject(expected);

    expect(await billAt(tenant, shanghai('2026-03-02'))).toEqual({ ...noSteps, payment_retry: 1 });
    expected = { ...expected, next_payment_attempt_at: null };
    expect(await subscriptionOf(t, tenant)).toMatchObject(expected);

    expect(await billAt(tenant, graceEnd)).toEqual({ ...noSteps, grace_expiry: 1 });
    expected = { ...expected, status: 'suspended', grace_ends_at: null };
    expect(await subscriptionOf(t, tenant)).toMatchObject(expected);

    expect(await billAt(tenant, shanghai('2026-03-31T23:59:59'))).toEqual(noSteps);
    expect(await billAt(tenant, periodEnd)).toEqual({ ...noSteps, period_end: 1 });
    expected = { ...expected, status: 'canceled', past_due_since: null, ended_at: periodEnd };
    expect(await subscriptionOf(t, tenant)).toMatchObject(expected);
    // No renewal of an unpaid period, and none later; the declined invoice was found overdue by the first run.
    expect(await billAt(tenant, shanghai('2026-06-01'))).toEqual(noSteps);
    expect(await records(tenant)).toEqual([{ ...invoice, overdue_at: shanghai('2026-03-02') }]);
    expect(await recordOf(t, tenant, recordId)).toMatchObject({
      status: 'failed',
      amount_paid: 0,
      status_history: [
        ...issued(periodStart, admin),
        { from_status: 'pending', to_status: 'failed', actor: admin, reason: declined, occurred_at: periodStart },
        {
          from_status: 'failed',
          to_status: 'pending',
          actor: 'billing-run',
          reason: 'payment retry',
          occurred_at: shanghai('2026-03-02'),
        },
        {
          from_status: 'pending',
          to_status: 'failed',
          actor: 'billing-run',
          reason: declined,
          occurred_at: shanghai('2026-03-02'),
        },
      ],
    });
    expect(await history(tenant)).toEqual([
      event({
        kind: 'subscribed',
        from: null,
        to: 'past_due',
        planId: 'pro',
        at: periodStart,
        actor: admin,
        recordId,
        reason: declined,
      }),
      event({
        kind: 'payment_retried',
        from: 'past_due',
        to: 'past_due',
        planId: 'pro',
        at: shanghai('2026-03-02'),
        recordId,
        reason: declined,
      }),
      event({
        kind: 'suspended',
        from: 'past_due',
        to: 'suspended',
        planId: 'pro',
        at: graceEnd,
        recordId,
        reason: 'grace period over, invoice unpaid',
      }),
      event({
        kind: 'canceled',
        from: 'suspended',
        to: 'canceled',
        planId: 'pro',
        at: periodEnd,
        recordId,
        reason: 'invoice unpaid at period end',
      }),
    ]);

    // Paying the owed invoice afterwards settles the debt but does not bring an ended subscription back.
    t.clock.set(shanghai('2026-06-02T10:00'));
    expectData(
      await asPlatformAdmin(t).post(`/admin/records/${tenant}/${recordId}/mark-paid`, { reason: 'bank transfer' }),
    );
    expect((await recordOf(t, tenant, recordId)).status).toBe('paid');
    expect(await subscriptionOf(t, tenant)).toMatchObject({ status: 'canceled', ended_at: periodEnd });
  });

  it('expires at the period end when auto_renew is off, issuing no renewal', async () => {
    const tenant = 'tnt_no_renew';
    const admin = `usr_admin_of_${tenant}`;
    await givenTenant(t, tenant, { time_zone: 'Asia/Shanghai', tax_rate: taxRate });
    await givenPlan(t, 'pro', { name: 'Pro', monthly_price: 499 });
    const periodStart = shanghai('2026-01-10');
    const periodEnd = shanghai('2026-02-10');
    t.clock.set(periodStart);
    await givenSubscription(t, tenant, { plan_id: 'pro', billing_cycle: 'monthly', payment_method: 'sandbox_success' });
    const turnedOffAt = shanghai('2026-01-20T08:00');
    t.clock.set(turnedOffAt);
    let expected: Record<string, unknown> = {
      ...settled,
      status: 'active',
      plan_id: 'pro',
      amount: 499,
      auto_renew: false,
      current_period_start: periodStart,
      current_period_end: periodEnd,
    };
    expect(await updateSubscriptionSettings(t, tenant, { auto_renew: false })).toMatchObject(expected);

    expect(await billAt(tenant, shanghai('2026-02-09T23:59:59'))).toEqual(noSteps);
    expect(await billAt(tenant, periodEnd)).toEqual({ ...noSteps, period_end: 1 });
    expected = { ...expected, status: 'expired', ended_at: periodEnd };
    expect(await subscriptionOf(t, tenant)).toMatchObject(expected);
    expect(await billAt(tenant, shanghai('2026-05-01'))).toEqual(noSteps);

    const invoice = periodInvoice({
      tenant,
      number: 'INV-2026-001',
      planName: 'Pro',
      priceMinor: 499_00n,
      from: '2026-01-10',
      to: '2026-02-10',
      status: 'paid',
    });
    const seen = await records(tenant);
    expect(seen).toEqual([invoice]);
    expect(await history(tenant)).toEqual([
      event({
        kind: 'subscribed',
        from: null,
        to: 'active',
        planId: 'pro',
        at: periodStart,
        actor: admin,
        recordId: seen[0]!.record_id,
      }),
      event({ kind: 'updated', from: 'active', to: 'active', planId: 'pro', at: turnedOffAt, actor: admin }),
      event({
        kind: 'expired',
        from: 'active',
        to: 'expired',
        planId: 'pro',
        at: periodEnd,
        reason: 'not renewed: auto_renew is off',
      }),
    ]);
  });

  it('catches up three missed periods in one run, each invoice dated and numbered at its own period start', async () => {
    const tenant = 'tnt_catch_up';
    await givenTenant(t, tenant, { time_zone: 'Asia/Shanghai', tax_rate: taxRate });
    await givenPlan(t, 'pro', { name: 'Pro', monthly_price: 499 });
    // 2027-01-01 local is 2026-12-31T16:00Z: an invoice dated there belongs to 2027's numbering.
    const periods = [
      { from: '2026-11-01', to: '2026-12-01', number: 'INV-2026-001' },
      { from: '2026-12-01', to: '2027-01-01', number: 'INV-2026-002' },
      { from: '2027-01-01', to: '2027-02-01', number: 'INV-2027-001' },
      { from: '2027-02-01', to: '2027-03-01', number: 'INV-2027-002' },
    ];
    t.clock.set(shanghai(periods[0]!.from));
    await givenSubscription(t, tenant, { plan_id: 'pro', billing_cycle: 'monthly', payment_method: 'sandbox_success' });
    expect(await records(tenant)).toHaveLength(1);

    // The clock jumps three and a half months; one run owes three renewals.
    expect(await billAt(tenant, shanghai('2027-02-15T12:00'))).toEqual({ ...noSteps, period_end: 3 });
    const seen = await records(tenant);
    expect(seen).toEqual(
      periods.map((period) =>
        periodInvoice({ tenant, planName: 'Pro', priceMinor: 499_00n, status: 'paid', ...period }),
      ),
    );
    for (const [index, record] of seen.entries()) {
      const issuedAt = shanghai(periods[index]!.from);
      const detail = await recordOf(t, tenant, record.record_id);
      expect(detail.finalized_at).toBe(issuedAt);
      expect(detail.status_history.map((change) => change.occurred_at)).toEqual([issuedAt, issuedAt, issuedAt]);
    }
    expect(await subscriptionOf(t, tenant)).toMatchObject({
      ...settled,
      status: 'active',
      current_period_start: shanghai('2027-02-01'),
      current_period_end: shanghai('2027-03-01'),
    });
    expect(await history(tenant)).toEqual([
      event({
        kind: 'subscribed',
        from: null,
        to: 'active',
        planId: 'pro',
        at: shanghai('2026-11-01'),
        actor: `usr_admin_of_${tenant}`,
        recordId: seen[0]!.record_id,
      }),
      ...periods.slice(1).map((period, index) =>
        event({
          kind: 'renewed',
          from: 'active',
          to: 'active',
          planId: 'pro',
          at: shanghai(period.from),
          recordId: seen[index + 1]!.record_id,
        }),
      ),
    ]);
  });

  it('pays from the credit balance first, and a retry after a top-up pays from the balance', async () => {
    const tenant = 'tnt_prepaid';
    await givenTenant(t, tenant, { time_zone: 'Asia/Shanghai', tax_rate: taxRate });
    await givenPlan(t, 'pro', { name: 'Pro', monthly_price: 499 });
    const proTotal = 499_00n + sixPercentTax(499_00n);
    expect(proTotal).toBe(528_94n);

    const firstTopUpAt = shanghai('2026-01-09T10:00');
    t.clock.set(firstTopUpAt);
    await topUp(tenant, 1100, 'pay_1');
    const january = shanghai('2026-01-10');
    t.clock.set(january);
    // Manual: nothing is charged automatically, so only the balance can pay.
    await givenSubscription(t, tenant, { plan_id: 'pro', billing_cycle: 'monthly', payment_method: 'manual' });
    const february = shanghai('2026-02-10');
    expect(await billAt(tenant, february)).toEqual({ ...noSteps, period_end: 1 });
    // March: the balance covers 42.12 of 528.94; the rest waits for an offline payment.
    const march = shanghai('2026-03-10');
    expect(await billAt(tenant, march)).toEqual({ ...noSteps, period_end: 1 });
    const invoices = [
      ['2026-01-10', '2026-02-10', 'paid'],
      ['2026-02-10', '2026-03-10', 'paid'],
      ['2026-03-10', '2026-04-10', 'pending'],
    ].map(([from, to, status], index) =>
      periodInvoice({
        tenant,
        number: `INV-2026-00${index + 1}`,
        planName: 'Pro',
        priceMinor: 499_00n,
        from: from!,
        to: to!,
        status: status!,
      }),
    );
    const seen = await records(tenant);
    expect(seen).toEqual(invoices);
    const [januaryId, februaryId, marchId] = seen.map((record) => record.record_id);
    const leftForMarch = 1100_00n - 2n * proTotal;
    expect(leftForMarch).toBe(42_12n);
    const ledgerEntries = [
      ledgerEntry({
        tenant,
        type: 'credit',
        source: 'top_up',
        sourceId: 'pay_1',
        amountMinor: 1100_00n,
        balanceMinor: 1100_00n,
        remark: 'Bank transfer pay_1',
        at: firstTopUpAt,
      }),
      ledgerEntry({
        tenant,
        type: 'debit',
        source: 'invoice_payment',
        sourceId: januaryId!,
        amountMinor: proTotal,
        balanceMinor: 1100_00n - proTotal,
        remark: 'Payment of INV-2026-001',
        at: january,
      }),
      ledgerEntry({
        tenant,
        type: 'debit',
        source: 'invoice_payment',
        sourceId: februaryId!,
        amountMinor: proTotal,
        balanceMinor: leftForMarch,
        remark: 'Payment of INV-2026-002',
        at: february,
      }),
      ledgerEntry({
        tenant,
        type: 'debit',
        source: 'invoice_payment',
        sourceId: marchId!,
        amountMinor: leftForMarch,
        balanceMinor: 0n,
        remark: 'Payment of INV-2026-003',
        at: march,
      }),
    ];
    expect(await ledger(tenant)).toEqual(ledgerEntries);
    const pastDue = {
      ...settled,
      status: 'past_due',
      payment_method: 'manual',
      current_period_start: march,
      current_period_end: shanghai('2026-04-10'),
      open_record_id: marchId,
      past_due_since: march,
      grace_ends_at: shanghai('2026-03-17'),
      next_payment_attempt_at: shanghai('2026-03-11'),
    };
    expect(await subscriptionOf(t, tenant)).toMatchObject(pastDue);

    // A top-up before the first retry: the retry pays the rest from the balance.
    const secondTopUpAt = shanghai('2026-03-10T15:00');
    t.clock.set(secondTopUpAt);
    await topUp(tenant, 500, 'pay_2');
    const retryAt = shanghai('2026-03-11');
    expect(await billAt(tenant, retryAt)).toEqual({ ...noSteps, payment_retry: 1 });
    const rest = proTotal - leftForMarch;
    expect(rest).toBe(486_82n);
    ledgerEntries.push(
      ledgerEntry({
        tenant,
        type: 'credit',
        source: 'top_up',
        sourceId: 'pay_2',
        amountMinor: 500_00n,
        balanceMinor: 500_00n,
        remark: 'Bank transfer pay_2',
        at: secondTopUpAt,
      }),
      ledgerEntry({
        tenant,
        type: 'debit',
        source: 'invoice_payment',
        sourceId: marchId!,
        amountMinor: rest,
        balanceMinor: 500_00n - rest,
        remark: 'Payment of INV-2026-003',
        at: retryAt,
      }),
    );
    expect(await ledger(tenant)).toEqual(ledgerEntries);
    expect(await balanceOf(t, tenant)).toBe(cny(500_00n - rest));
    expect(await recordOf(t, tenant, marchId!)).toMatchObject({
      status: 'paid',
      amount_paid: cny(proTotal),
      status_history: [
        ...issued(march),
        {
          from_status: 'pending',
          to_status: 'paid',
          actor: 'billing-run',
          reason: paidFromBalance,
          occurred_at: retryAt,
        },
      ],
    });
    expect(await subscriptionOf(t, tenant)).toMatchObject({
      ...pastDue,
      status: 'active',
      open_record_id: null,
      past_due_since: null,
      grace_ends_at: null,
      next_payment_attempt_at: null,
    });
    expect((await history(tenant)).slice(-1)).toEqual([
      event({
        kind: 'payment_retried',
        from: 'past_due',
        to: 'active',
        planId: 'pro',
        at: retryAt,
        recordId: marchId!,
      }),
    ]);
  });
});
