import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { asPlatformAdmin, asTenantAdmin, asTenantViewer } from '../../testing/api.js';
import { dumpDatabase } from '../../testing/database-dump.js';
import { expectData, expectError, expectInvalid } from '../../testing/envelopes.js';
import {
  advanceTestClock,
  billingRun,
  changeSubscription,
  creditTransactionsOf,
  givenCredit,
  givenPlan,
  givenSubscription,
  givenTenantWithApps,
  givenTestClock,
  givenUsage,
  previewPlanChange,
  recordOf,
  recordsOf,
  subscriptionOf,
  subscriptionUrl,
  upcomingInvoiceOf,
} from '../../testing/fixtures.js';
import { cny } from '../../testing/money-by-hand.js';
import { createTestApp, testStart, type TestApp } from '../../testing/test-app.js';
import type { ChangePreviewView, InvoicePreviewView, RecordDetailView, RecordView } from '../../testing/views.js';

/*
 * The upcoming invoice and the plan-change preview run the real billing code in a transaction
 * that is rolled back. These tests hold them to it: each preview is compared with what the
 * billing run or the change then really does, and the database is compared before and after.
 */

let t: TestApp;

const graduatedRequests = {
  resource_type: 'api_requests',
  charge_model: 'graduated',
  tiers: [
    { up_to: 1000, unit_price: '0' },
    { up_to: 10_000, unit_price: '0.01', flat_fee: '5' },
    { up_to: null, unit_price: '0.005' },
  ],
};

const plans: Record<string, Record<string, unknown>> = {
  metered: { name: 'Metered', monthly_price: 99, yearly_price: 990, resources: [graduatedRequests] },
  metered_trial: { name: 'Metered trial', monthly_price: 99, trial_days: 14, resources: [graduatedRequests] },
  metered_plus: { name: 'Metered plus', monthly_price: 199, yearly_price: 1990, resources: [graduatedRequests] },
  small_now: { name: 'Small now', monthly_price: 49, downgrade_policy: 'immediate', resources: [graduatedRequests] },
  small_later: { name: 'Small later', monthly_price: 49, resources: [graduatedRequests] },
  dollar: { name: 'Dollar', currency: 'USD', monthly_price: 10 },
};

const periodEnd = '2026-02-01T00:00:00Z';
const lateWindowClosed = '2026-02-04T00:00:00Z';

const appOf = (tenantId: string) => tenantId.replace(/^tnt_/, 'app_');

/** A tenant of its own per test (CNY, UTC, 6 % tax) with one app, subscribed to `planId` paying by card. */
const givenSubscriber = async (label: string, planId: string, fields: Record<string, unknown> = {}) => {
  const tenantId = `tnt_pv_${label}`;
  await givenTenantWithApps(t, tenantId, [appOf(tenantId)], { currency: 'CNY', time_zone: 'UTC', tax_rate: 0.06 });
  const subscription = await givenSubscription(t, tenantId, {
    plan_id: planId,
    payment_method: 'sandbox_success',
    ...fields,
  });
  return { tenantId, subscription };
};

/** api_requests used now. */
const requests = (tenantId: string, quantity: number) =>
  givenUsage(t, { tenantId, appId: appOf(tenantId), resourceType: 'api_requests', quantity });

const fen = (major: number): bigint => BigInt(Math.round(major * 100));

/** Records as one invoice, the way a preview shows them: lines in order, money summed. */
const asOneInvoice = (records: readonly RecordDetailView[]): InvoicePreviewView => {
  const sum = (pick: (record: RecordDetailView) => number) =>
    records.reduce((total, record) => total + fen(pick(record)), 0n);
  return {
    line_items: records.flatMap((record) => record.line_items),
    amount: cny(sum((record) => record.amount)),
    tax_amount: cny(sum((record) => record.tax_amount)),
    total_amount: cny(sum((record) => record.total_amount)),
    credit_applied: cny(sum((record) => record.amount_paid)),
    amount_due: cny(sum((record) => record.total_amount) - sum((record) => record.amount_paid)),
  };
};

/** The tenant's records created at `at` (of one type if given), oldest first, with their payments. */
const issuedAt = async (tenantId: string, at: string, type?: string): Promise<RecordDetailView[]> => {
  const listed = (await recordsOf(t, tenantId)).filter(
    (record: RecordView) => record.created_at === at && (type === undefined || record.type === type),
  );
  return Promise.all(listed.reverse().map((record) => recordOf(t, tenantId, record.record_id)));
};

/** The preview's invoice fields, without the period. */
const invoiceOf = ({
  line_items,
  amount,
  tax_amount,
  total_amount,
  credit_applied,
  amount_due,
}: InvoicePreviewView) => ({
  line_items,
  amount,
  tax_amount,
  total_amount,
  credit_applied,
  amount_due,
});

/** The whole database, for "the preview wrote nothing". */
const dump = () => dumpDatabase(t.database.db);

beforeAll(async () => {
  t = await createTestApp();
  for (const [planId, fields] of Object.entries(plans)) await givenPlan(t, planId, fields);
});
afterAll(() => t.close());
beforeEach(() => t.clock.set(testStart));

describe('GET /billing/subscriptions/{tenant_id}/upcoming-invoice', () => {
  it('is the renewal and the tiered usage invoice the billing run then issues, to the line, with the credit applied', async () => {
    const { tenantId } = await givenSubscriber('equal', 'metered');
    t.clock.set('2026-01-05T00:00:00Z');
    // Enough for the renewal (104.94) and part of the usage invoice.
    await givenCredit(t, tenantId, { amount: 150 });
    t.clock.set('2026-01-10T12:00:00Z');
    await requests(tenantId, 10_001);
    t.clock.set('2026-01-20T00:00:00Z');

    const before = await dump();
    const upcoming = await upcomingInvoiceOf(t, tenantId);
    expect(await dump()).toEqual(before);

    // 99 + graduated 10,001: free tier, 9,000 × 0.01, flat 5, 1 × 0.005 (rounds to 0.01); 6 % per line.
    expect(upcoming).toMatchObject({
      period_start: testStart,
      period_end: periodEnd,
      currency: 'CNY',
      amount: 194.01,
      tax_amount: 11.64,
      total_amount: 205.65,
      credit_applied: 150,
      amount_due: 55.65,
    });
    expect(upcoming.line_items.map((line) => [line.description, line.amount])).toEqual([
      ['Metered Monthly Subscription, 2026-02-01 to 2026-03-01', 99],
      ['api_requests: tier 1, units 1 to 1000', 0],
      ['api_requests: tier 2, units 1001 to 10000', 90],
      ['api_requests: tier 2 flat fee', 5],
      ['api_requests: tier 3, units 10001 to 10001', 0.01],
    ]);

    t.clock.set(lateWindowClosed);
    await billingRun(t, lateWindowClosed);
    const renewal = await issuedAt(tenantId, periodEnd, 'subscription');
    const usage = await issuedAt(tenantId, lateWindowClosed, 'usage');
    expect(renewal).toHaveLength(1);
    expect(usage).toHaveLength(1);
    expect(invoiceOf(upcoming)).toEqual(asOneInvoice([...renewal, ...usage]));
    // The ledger agrees: the balance paid exactly credit_applied of those two invoices.
    const paidFromBalance = (await creditTransactionsOf(t, tenantId, 'invoice_payment')).filter((row) =>
      [...renewal, ...usage].some((record) => record.record_id === row.source_id),
    );
    expect(cny(paidFromBalance.reduce((sum, row) => sum + fen(Math.abs(row.amount)), 0n))).toBe(150);
  });

  it('bills a scheduled cycle change at the new price, and the metered period at the old one', async () => {
    const { tenantId } = await givenSubscriber('cycle', 'metered');
    t.clock.set('2026-01-12T00:00:00Z');
    await changeSubscription(t, tenantId, '/change-plan', { plan_id: 'metered', billing_cycle: 'yearly' });
    await requests(tenantId, 2500);
    const upcoming = await upcomingInvoiceOf(t, tenantId);
    expect(upcoming.line_items[0]).toMatchObject({
      description: 'Metered Yearly Subscription, 2026-02-01 to 2027-02-01',
      amount: 990,
    });
    expect(upcoming.credit_applied).toBe(0);

    t.clock.set(lateWindowClosed);
    await billingRun(t, lateWindowClosed);
    const issued = [...(await issuedAt(tenantId, periodEnd)), ...(await issuedAt(tenantId, lateWindowClosed))];
    expect(issued.map((record) => record.type)).toEqual(['subscription', 'usage']);
    expect(invoiceOf(upcoming)).toEqual(asOneInvoice(issued));
  });

  it('has only the usage when the subscription cancels at period end', async () => {
    const { tenantId } = await givenSubscriber('canceling', 'metered');
    t.clock.set('2026-01-12T00:00:00Z');
    await requests(tenantId, 1500);
    await changeSubscription(t, tenantId, '/cancel', {});
    const upcoming = await upcomingInvoiceOf(t, tenantId);
    expect(upcoming.line_items.map((line) => line.resource_type)).toEqual([
      'api_requests',
      'api_requests',
      'api_requests',
    ]);
    expect(upcoming).toMatchObject({ amount: 10, tax_amount: 0.6, total_amount: 10.6, amount_due: 10.6 });

    t.clock.set(lateWindowClosed);
    await billingRun(t, lateWindowClosed);
    expect((await subscriptionOf(t, tenantId)).status).toBe('canceled');
    expect(await issuedAt(tenantId, periodEnd)).toEqual([]);
    expect(invoiceOf(upcoming)).toEqual(asOneInvoice(await issuedAt(tenantId, lateWindowClosed)));
  });

  it('is the first paid period in a trial, without the usage of the trial (trials are not metered)', async () => {
    const { tenantId, subscription } = await givenSubscriber('trial', 'metered_trial');
    expect(subscription.status).toBe('trialing');
    t.clock.set('2026-01-03T00:00:00Z');
    await requests(tenantId, 20_000);
    const upcoming = await upcomingInvoiceOf(t, tenantId);
    expect(upcoming).toMatchObject({
      period_start: testStart,
      period_end: '2026-01-15T00:00:00Z',
      amount: 99,
      tax_amount: 5.94,
      total_amount: 104.94,
      credit_applied: 0,
      amount_due: 104.94,
    });
    expect(upcoming.line_items).toHaveLength(1);

    const usageClose = '2026-01-18T00:00:00Z';
    t.clock.set(usageClose);
    await billingRun(t, usageClose);
    expect(invoiceOf(upcoming)).toEqual(asOneInvoice(await issuedAt(tenantId, '2026-01-15T00:00:00Z')));
    expect((await recordsOf(t, tenantId)).map((record) => record.type)).toEqual(['subscription']);
  });

  it('answers for a past-due subscription: the open invoice is not in it, and unpaid at period end it is canceled', async () => {
    // Paid by hand: the first invoice waits, so the subscription is past due from the start.
    const { tenantId, subscription } = await givenSubscriber('past_due', 'metered', { payment_method: 'manual' });
    expect(subscription.status).toBe('past_due');
    t.clock.set('2026-01-06T00:00:00Z');
    await requests(tenantId, 1001);
    const upcoming = await upcomingInvoiceOf(t, tenantId);
    // No renewal: only 1 unit over the free tier, and the flat fee.
    expect(upcoming.line_items.map((line) => line.description)).toEqual([
      'api_requests: tier 1, units 1 to 1000',
      'api_requests: tier 2, units 1001 to 1001',
      'api_requests: tier 2 flat fee',
    ]);
    expect(upcoming).toMatchObject({ amount: 5.01, credit_applied: 0 });

    t.clock.set(lateWindowClosed);
    await billingRun(t, lateWindowClosed);
    expect((await subscriptionOf(t, tenantId)).status).toBe('canceled');
    expect(invoiceOf(upcoming)).toEqual(asOneInvoice(await issuedAt(tenantId, lateWindowClosed, 'usage')));
  });

  it("uses a test-clock tenant's clock", async () => {
    const clock = await givenTestClock(t, '2026-01-01T00:00:00Z');
    const tenantId = 'tnt_pv_clocked';
    await givenTenantWithApps(t, tenantId, [appOf(tenantId)], {
      currency: 'CNY',
      time_zone: 'UTC',
      tax_rate: 0.06,
      test_clock_id: clock.id,
    });
    await givenSubscription(t, tenantId, { plan_id: 'metered', payment_method: 'sandbox_success' });
    await advanceTestClock(t, clock.id, '2026-03-10T00:00:00Z');
    // Real time is still January; the tenant is in March.
    const upcoming = await upcomingInvoiceOf(t, tenantId);
    expect(upcoming).toMatchObject({ period_start: '2026-03-01T00:00:00Z', period_end: '2026-04-01T00:00:00Z' });
    expect(upcoming.line_items.map((line) => line.description)).toEqual([
      'Metered Monthly Subscription, 2026-04-01 to 2026-05-01',
    ]);
  });

  it('answers 404 naming the live subscription when there is none, and the tenant when there is no tenant', async () => {
    const tenantId = 'tnt_pv_none';
    await givenTenantWithApps(t, tenantId, [], { currency: 'CNY' });
    const none = expectError(
      await asTenantViewer(t, tenantId).get(subscriptionUrl(tenantId, '/upcoming-invoice')),
      404,
      'not_found',
    );
    expect(none.message).toContain('live subscription');
    const missing = expectError(
      await asPlatformAdmin(t).get(subscriptionUrl('tnt_pv_missing', '/upcoming-invoice')),
      404,
      'not_found',
    );
    expect(missing.message).toContain('tenant');
  });

  it('is read by tenant viewers; other tenants get 403 and no token 401', async () => {
    const { tenantId } = await givenSubscriber('access', 'metered');
    const url = subscriptionUrl(tenantId, '/upcoming-invoice');
    expect(expectData<{ amount: number }>(await asTenantViewer(t, tenantId).get(url)).amount).toBe(99);
    expect(expectData<{ amount: number }>(await asPlatformAdmin(t).get(url)).amount).toBe(99);
    expectError(await asTenantAdmin(t, 'tnt_pv_equal').get(url), 403, 'forbidden');
    expectError(await t.app.inject({ method: 'GET', url }), 401, 'unauthorized');
  });
});

describe('POST /billing/subscriptions/{tenant_id}/change-plan/preview', () => {
  /** The preview, the database unchanged by it, then the change itself. */
  const previewThenChange = async (tenantId: string, body: Record<string, unknown>) => {
    const before = await dump();
    const preview = await previewPlanChange(t, tenantId, body);
    expect(await dump()).toEqual(before);
    const changed = await changeSubscription(t, tenantId, '/change-plan', body);
    return { preview, changed };
  };

  it('shows an upgrade: the subscription after it and its proration invoice, with the credit applied', async () => {
    const { tenantId } = await givenSubscriber('upgrade', 'metered');
    t.clock.set('2026-01-16T00:00:00Z');
    await givenCredit(t, tenantId, { amount: 50 });
    const { preview, changed } = await previewThenChange(tenantId, { plan_id: 'metered_plus' });

    // 16 of 31 days left: (199 − 99) × 16/31 = 51.61; tax 3.10.
    expect(preview).toMatchObject({
      effective: 'immediately',
      subscription: changed,
      invoice: {
        line_items: [{ quantity: 1, unit_price: 51.61, amount: 51.61, tax_rate: 0.06, tax_amount: 3.1 }],
        amount: 51.61,
        tax_amount: 3.1,
        total_amount: 54.71,
        credit_applied: 50,
        amount_due: 4.71,
      },
      credit: null,
    });
    const proration = await issuedAt(tenantId, '2026-01-16T00:00:00Z', 'proration');
    expect(preview.invoice).toEqual(asOneInvoice(proration));
  });

  it('shows an immediate downgrade: the credit it posts to the balance', async () => {
    const { tenantId } = await givenSubscriber('downgrade_now', 'metered_plus');
    t.clock.set('2026-01-16T00:00:00Z');
    const { preview, changed } = await previewThenChange(tenantId, { plan_id: 'small_now' });
    expect(preview).toMatchObject({ effective: 'immediately', subscription: changed, invoice: null });
    const [credited, ...others] = await creditTransactionsOf(t, tenantId, 'proration');
    expect(others).toEqual([]);
    // (199 − 49) × 16/31 = 77.42, and its tax 4.65.
    expect(preview.credit).toEqual({ amount: 82.07 });
    expect(credited?.amount).toBe(82.07);
  });

  it('shows a scheduled downgrade and a cycle change as taking effect at period end, with no money moving', async () => {
    const { tenantId } = await givenSubscriber('scheduled', 'metered_plus');
    t.clock.set('2026-01-16T00:00:00Z');
    const downgrade = await previewThenChange(tenantId, { plan_id: 'small_later' });
    expect(downgrade.preview).toEqual({
      effective: 'at_period_end',
      subscription: downgrade.changed,
      invoice: null,
      credit: null,
    });
    expect(downgrade.changed.scheduled_change).toMatchObject({ plan_id: 'small_later', effective_at: periodEnd });

    const cycle = await previewThenChange(tenantId, { plan_id: 'metered_plus', billing_cycle: 'yearly' });
    expect(cycle.preview).toEqual({
      effective: 'at_period_end',
      subscription: cycle.changed,
      invoice: null,
      credit: null,
    });
    expect(cycle.changed.scheduled_change).toMatchObject({ billing_cycle: 'yearly' });
    expect(await creditTransactionsOf(t, tenantId)).toEqual([]);
  });

  it('refuses what change-plan refuses, the same way', async () => {
    const { tenantId } = await givenSubscriber('refusals', 'metered');
    const url = subscriptionUrl(tenantId, '/change-plan/preview');
    const preview = (body?: Record<string, unknown>) => asTenantAdmin(t, tenantId).post(url, body, { key: null });
    expectError(await preview({ plan_id: 'nothing' }), 404, 'not_found');
    expectError(await preview({ plan_id: 'metered' }), 409, 'conflict');
    expectError(await preview({ plan_id: 'dollar' }), 422, 'unprocessable');
    expectInvalid(await preview({}), 'plan_id');
    expectInvalid(await preview({ plan_id: 'metered', billing_cycle: 'weekly' }), 'billing_cycle');
    expectInvalid(await preview({ plan_id: 'metered_trial', billing_cycle: 'yearly' }), 'billing_cycle');

    const { tenantId: pastDue } = await givenSubscriber('refusals_past_due', 'metered', { payment_method: 'manual' });
    expectError(
      await asTenantAdmin(t, pastDue).post(subscriptionUrl(pastDue, '/change-plan/preview'), {
        plan_id: 'metered_plus',
      }),
      409,
      'conflict',
    );
    // Suspended once the grace period is over, and still refused.
    t.clock.set('2026-01-20T00:00:00Z');
    await billingRun(t, '2026-01-20T00:00:00Z');
    expect((await subscriptionOf(t, pastDue)).status).toBe('suspended');
    expectError(
      await asTenantAdmin(t, pastDue).post(subscriptionUrl(pastDue, '/change-plan/preview'), {
        plan_id: 'metered_plus',
      }),
      409,
      'conflict',
    );

    const none = 'tnt_pv_refusals_none';
    await givenTenantWithApps(t, none, [], { currency: 'CNY' });
    expectError(
      await asTenantAdmin(t, none).post(subscriptionUrl(none, '/change-plan/preview'), { plan_id: 'metered' }),
      404,
      'not_found',
    );
  });

  it('is for those who may change the plan: a viewer gets 403, another tenant 403, no token 401', async () => {
    const { tenantId } = await givenSubscriber('preview_access', 'metered');
    const url = subscriptionUrl(tenantId, '/change-plan/preview');
    const body = { plan_id: 'metered_plus' };
    expectError(await asTenantViewer(t, tenantId).post(url, body, { key: null }), 403, 'forbidden');
    expectError(await asTenantAdmin(t, 'tnt_pv_upgrade').post(url, body, { key: null }), 403, 'forbidden');
    expectError(await t.app.inject({ method: 'POST', url, payload: body }), 401, 'unauthorized');
    expect(expectData<ChangePreviewView>(await asPlatformAdmin(t).post(url, body, { key: null })).effective).toBe(
      'immediately',
    );
  });
});
