import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { asPlatformAdmin, asTenantViewer } from '../../testing/api.js';
import { expectAllItems, expectData } from '../../testing/envelopes.js';
import {
  billingRun,
  changeSubscription,
  givenPlan,
  givenSubscription,
  givenTenantWithApps,
  ingestEvents,
  noSteps,
  recordOf,
  recordsOf,
  subscriptionOf,
  updateSubscriptionSettings,
  usageEvent,
} from '../../testing/fixtures.js';
import { cny, halfUp, sixPercentTax } from '../../testing/money-by-hand.js';
import { createTestApp, type TestApp } from '../../testing/test-app.js';
import type { MeteredBillingView } from '../../testing/views.js';

/*
 * Metered overage over the HTTP API: usage ingested while the clock moves, periods ended and
 * closed by the billing run, the usage invoice and GET …/metering checked to the minor unit.
 * Expected money is worked out here by hand (and checked against an independent BigInt
 * computation), never read from the code. Each test has an app and database of its own: billing
 * runs are global, so no other test's subscriptions are touched.
 */

let t: TestApp;
beforeEach(async () => {
  t = await createTestApp();
});
afterEach(() => t.close());

const taxRate = 0.06;
const recordIdShape = /^rec_[a-z0-9]{16}$/;

// ---------------------------------------------------------------- money, by hand

/**
 * An overage line worked out with BigInt only: the exact amount as decimal text in major units
 * and the amount in minor units (fen), rounded half-up. An independent check of the hand figures.
 */
const overageLine = (units: bigint, price: string) => {
  const [whole = '0', fraction = ''] = price.split('.');
  const scale = 10n ** BigInt(fraction.length);
  const exact = units * BigInt(whole + fraction); // in units of 1/scale major
  const integer = exact / scale;
  const decimals = (exact % scale).toString().padStart(fraction.length, '0').replace(/0+$/, '');
  return {
    exact: decimals === '' ? integer.toString() : `${integer}.${decimals}`,
    minor: halfUp(exact * 100n, scale),
  };
};

// ---------------------------------------------------------------- HTTP

/** A tenant in CNY at 6 % tax with the given time zone, and its apps. */
const givenMeteredTenant = (tenantId: string, timeZone: string, appIds: string[]) =>
  givenTenantWithApps(t, tenantId, appIds, { time_zone: timeZone, currency: 'CNY', tax_rate: taxRate });

const subscribe = (tenantId: string, fields: Record<string, unknown> & { plan_id: string }) =>
  givenSubscription(t, tenantId, fields);

const cancelNow = (tenantId: string) => changeSubscription(t, tenantId, '/cancel', { at_period_end: false });

/** Every record of the tenant, oldest first (the API lists newest first). */
const records = async (tenantId: string) => (await recordsOf(t, tenantId)).reverse();

const metering = async (tenantId: string) =>
  expectAllItems<MeteredBillingView>(
    await asTenantViewer(t, tenantId).get(`/billing/usage/${tenantId}/metering?page_size=100`),
  );

const ingest = (events: Record<string, unknown>[]) => ingestEvents(t, events);

/** Ingests events at the clock's current time, each of which must be accepted. */
const ingestAccepted = async (events: Record<string, unknown>[]) => {
  const result = await ingest(events);
  expect(result.results.filter((outcome) => outcome.status !== 'accepted')).toEqual([]);
  expect(result.accepted).toBe(events.length);
};

/** One usage event of a tenant's app. */
const usage = ({
  tenant,
  app,
  resource,
  quantity,
  at,
}: {
  tenant: string;
  app: string;
  resource: string;
  quantity: number;
  at: string;
}) => usageEvent({ tenantId: tenant, appId: app, resourceType: resource, quantity, timestamp: at });

const postBillingRun = async (asOf: string) => {
  const run = await billingRun(t, asOf);
  expect(run.failures).toEqual([]);
  return run;
};

/** Moves the clock to `at`, runs billing as of it and returns the steps it took. */
const billAt = async (at: string) => {
  t.clock.set(at);
  return (await postBillingRun(at)).steps;
};

// ---------------------------------------------------------------- expectations

interface Period {
  start: string;
  end: string;
}

/** A metering row as GET …/metering shows it. */
const meteredRow = (
  period: Period,
  resourceType: string,
  row: {
    used: number;
    included: number;
    over: number;
    amount: string;
    price: string;
    status: 'pending' | 'invoiced' | 'paid';
    recordId?: string | null;
  },
): MeteredBillingView => ({
  resource_type: resourceType,
  period_start: period.start,
  period_end: period.end,
  total_usage: row.used,
  included_units: row.included,
  overage_units: row.over,
  overage_amount: row.amount,
  status: row.status,
  charge_model: 'per_unit',
  overage_unit_price: row.price,
  record_id: row.recordId ?? null,
});

/** A usage-invoice line: overage units × the overage price, tax at 6 % on the rounded amount. */
const overageLineView = (line: {
  resourceType: string;
  used: number;
  included: number;
  over: number;
  price: string;
  amountMinor: bigint;
}) => ({
  description: `${line.resourceType}: ${line.used} used, ${line.included} included, ${line.over} over`,
  resource_type: line.resourceType,
  quantity: line.over,
  unit_price: Number(line.price),
  amount: cny(line.amountMinor),
  tax_amount: cny(sixPercentTax(line.amountMinor)),
  tax_rate: taxRate,
});

const january = { start: '2026-01-01T00:00:00Z', end: '2026-02-01T00:00:00Z' };
const february = { start: '2026-02-01T00:00:00Z', end: '2026-03-01T00:00:00Z' };
/** The late-event window after January: its overage is closed 3 days after it ended. */
const januaryCloses = '2026-02-04T00:00:00Z';

// ---------------------------------------------------------------- the usage invoice

describe('the usage invoice of a period', () => {
  const tenant = 'tnt_overage';
  const [web, mobile] = ['app_web', 'app_mobile'];
  const prices = {
    api_requests: { included: 100_000, price: '0.0005' },
    login_attempts: { included: 1_000, price: '0.01' },
    mfa_verifications: { included: 0, price: '0.0125' },
    storage_used: { included: 50, price: '0.1' },
    user_count: { included: 10, price: '1.25' },
  };
  const givenMeteredPlan = () =>
    givenPlan(t, 'metered', {
      name: 'Metered',
      monthly_price: 99,
      resources: Object.entries(prices).map(([resourceType, { included, price }]) => ({
        resource_type: resourceType,
        included_units: included,
        overage_unit_price: price,
      })),
    });

  /** January's usage across days and both apps; the totals are worked out next to each resource. */
  const ingestJanuary = async () => {
    t.clock.set('2026-01-10T12:00:00Z');
    await ingestAccepted([
      usage({ tenant, app: web, resource: 'api_requests', quantity: 60_000, at: '2026-01-10T09:00:00Z' }),
      usage({ tenant, app: mobile, resource: 'api_requests', quantity: 30_000, at: '2026-01-10T10:00:00Z' }),
      usage({ tenant, app: web, resource: 'storage_used', quantity: 30, at: '2026-01-10T09:00:00Z' }),
      usage({ tenant, app: mobile, resource: 'storage_used', quantity: 20, at: '2026-01-10T09:00:00Z' }),
      usage({ tenant, app: web, resource: 'user_count', quantity: 5, at: '2026-01-10T09:00:00Z' }),
      usage({ tenant, app: mobile, resource: 'user_count', quantity: 5, at: '2026-01-10T09:00:00Z' }),
      usage({ tenant, app: web, resource: 'login_attempts', quantity: 999, at: '2026-01-10T09:00:00Z' }),
      // Not on the plan: never billed.
      usage({ tenant, app: web, resource: 'api_calls', quantity: 1_000_000, at: '2026-01-10T09:00:00Z' }),
    ]);
    t.clock.set('2026-01-20T12:00:00Z');
    await ingestAccepted([
      usage({ tenant, app: web, resource: 'api_requests', quantity: 22_000, at: '2026-01-19T08:00:00Z' }),
      usage({ tenant, app: mobile, resource: 'api_requests', quantity: 350, at: '2026-01-20T11:00:00Z' }),
      // Jan 19: web's highest is 40, mobile's 28 → the tenant held 68. Jan 20: 60.
      usage({ tenant, app: web, resource: 'storage_used', quantity: 40, at: '2026-01-19T08:00:00Z' }),
      usage({ tenant, app: web, resource: 'storage_used', quantity: 35, at: '2026-01-19T09:00:00Z' }),
      usage({ tenant, app: mobile, resource: 'storage_used', quantity: 28, at: '2026-01-19T10:00:00Z' }),
      usage({ tenant, app: web, resource: 'storage_used', quantity: 60, at: '2026-01-20T08:00:00Z' }),
      // Jan 20: web's latest is 6 (10:00), mobile's 7 → 13 users.
      usage({ tenant, app: web, resource: 'user_count', quantity: 8, at: '2026-01-20T08:00:00Z' }),
      usage({ tenant, app: web, resource: 'user_count', quantity: 6, at: '2026-01-20T10:00:00Z' }),
      usage({ tenant, app: mobile, resource: 'user_count', quantity: 7, at: '2026-01-20T09:00:00Z' }),
      usage({ tenant, app: web, resource: 'mfa_verifications', quantity: 12, at: '2026-01-19T08:00:00Z' }),
      usage({ tenant, app: mobile, resource: 'mfa_verifications', quantity: 8, at: '2026-01-20T08:00:00Z' }),
    ]);
    // An older measurement arriving later does not replace web's 6 of 10:00.
    await ingestAccepted([
      usage({ tenant, app: web, resource: 'user_count', quantity: 9, at: '2026-01-20T09:00:00Z' }),
    ]);
  };

  // api_requests: 60,000 + 30,000 + 22,000 + 350 = 112,350 (sum over days and apps).
  // storage_used: the highest day tenant-wide, Jan 19 with 40 + 28 = 68 — not the apps' own
  //   highs added up (60 + 28 = 88).
  // user_count: the highest day, Jan 20 with 6 + 7 = 13 (the late 9 of 09:00 is older than 6 of 10:00).
  // mfa_verifications: 12 + 8 = 20, all over (none included). login_attempts: 999 of 1,000.
  const used = { api_requests: 112_350, login_attempts: 999, mfa_verifications: 20, storage_used: 68, user_count: 13 };

  // Overage units × price, exactly, and the line rounded half-up to the fen, tax at 6 % per line:
  //   api_requests       12,350 × 0.0005 = 6.175 → 6.18 (617.5 fen up), tax 37.08 fen → 0.37
  //   mfa_verifications      20 × 0.0125 = 0.25  → 0.25,                tax  1.5  fen → 0.02 (half up)
  //   storage_used           18 × 0.1    = 1.8   → 1.80,                tax 10.8  fen → 0.11
  //   user_count              3 × 1.25   = 3.75  → 3.75,                tax 22.5  fen → 0.23 (half up)
  const billed = [
    { resourceType: 'api_requests', over: 12_350, exact: '6.175', amountMinor: 6_18n, taxMinor: 37n },
    { resourceType: 'mfa_verifications', over: 20, exact: '0.25', amountMinor: 25n, taxMinor: 2n },
    { resourceType: 'storage_used', over: 18, exact: '1.8', amountMinor: 1_80n, taxMinor: 11n },
    { resourceType: 'user_count', over: 3, exact: '3.75', amountMinor: 3_75n, taxMinor: 23n },
  ] as const;
  // 6.18 + 0.25 + 1.80 + 3.75 = 11.98; tax 0.37 + 0.02 + 0.11 + 0.23 = 0.73 per line (6 % of the
  // total would be 71.88 fen → 0.72: the tax is the sum of the lines' taxes); total 12.71.
  const usageAmountMinor = 11_98n;
  const usageTaxMinor = 73n;

  const resourceTypes = Object.keys(prices) as (keyof typeof prices)[];

  /**
   * January's rows, by resource type: pending (the current period, metered so far), or closed —
   * invoiced or paid with the record where there was overage, paid at once where there was none.
   */
  const januaryRows = (status: 'pending' | 'invoiced' | 'paid', recordId: string | null) =>
    resourceTypes.map((resourceType) => {
      const line = billed.find((item) => item.resourceType === resourceType);
      const nothingOwed = status !== 'pending' && line === undefined;
      return meteredRow(january, resourceType, {
        used: used[resourceType],
        included: prices[resourceType].included,
        over: line?.over ?? 0,
        amount: line?.exact ?? '0',
        price: prices[resourceType].price,
        status: nothingOwed ? 'paid' : status,
        recordId: nothingOwed ? null : recordId,
      });
    });

  const usageRecord = (number: string, status: string, createdAt: string) => ({
    invoice_number: number,
    type: 'usage',
    status,
    description: 'Usage overage 2026-01-01 to 2026-01-31',
    created_at: createdAt,
    amount: cny(usageAmountMinor),
    tax_amount: cny(usageTaxMinor),
    total_amount: cny(usageAmountMinor + usageTaxMinor),
    line_items: billed.map((line) =>
      overageLineView({
        resourceType: line.resourceType,
        used: used[line.resourceType],
        included: prices[line.resourceType].included,
        over: line.over,
        price: prices[line.resourceType].price,
        amountMinor: line.amountMinor,
      }),
    ),
  });

  it('bills each resource over its quota on one usage record 3 days after the period, numbered after the renewal, once', async () => {
    // The hand figures agree with an exact BigInt computation.
    for (const line of billed) {
      const { price, included } = prices[line.resourceType];
      expect(used[line.resourceType] - included).toBe(line.over);
      expect(overageLine(BigInt(line.over), price)).toEqual({ exact: line.exact, minor: line.amountMinor });
      expect(sixPercentTax(line.amountMinor)).toBe(line.taxMinor);
    }
    expect(billed.reduce((sum, line) => sum + line.amountMinor, 0n)).toBe(usageAmountMinor);
    expect(billed.reduce((sum, line) => sum + line.taxMinor, 0n)).toBe(usageTaxMinor);
    expect(sixPercentTax(usageAmountMinor)).toBe(72n);

    await givenMeteredTenant(tenant, 'UTC', [web, mobile]);
    await givenMeteredPlan();
    await subscribe(tenant, { plan_id: 'metered', payment_method: 'sandbox_success', trial: false });
    await ingestJanuary();

    // The current period, metered so far: pending, with what it would bill if it ended today.
    expect(await metering(tenant)).toEqual(januaryRows('pending', null));

    // The renewal: January ends and waits, pending, for late events.
    expect(await billAt(january.end)).toEqual({ ...noSteps, period_end: 1 });
    expect(
      (await metering(tenant)).map((row) => [row.period_start, row.resource_type, row.status, row.record_id]),
    ).toEqual([
      ...resourceTypes.map((resourceType) => [february.start, resourceType, 'pending', null]),
      ...resourceTypes.map((resourceType) => [january.start, resourceType, 'pending', null]),
    ]);
    expect((await records(tenant)).map((record) => [record.invoice_number, record.type])).toEqual([
      ['INV-2026-001', 'subscription'],
      ['INV-2026-002', 'subscription'],
    ]);

    // A second before the window is over nothing closes.
    expect(await billAt('2026-02-03T23:59:59Z')).toEqual(noSteps);
    expect(await records(tenant)).toHaveLength(2);

    expect(await billAt(januaryCloses)).toEqual({ ...noSteps, usage_close: 1 });
    const seen = await records(tenant);
    expect(seen).toHaveLength(3);
    const usageInvoice = seen[2]!;
    expect(usageInvoice.record_id).toMatch(recordIdShape);
    // sandbox_success pays it at once.
    expect(usageInvoice).toMatchObject(usageRecord('INV-2026-003', 'paid', januaryCloses));
    const rows = await metering(tenant);
    expect(rows).toEqual([
      // February so far: nothing used yet.
      ...resourceTypes.map((resourceType) =>
        meteredRow(february, resourceType, {
          used: 0,
          included: prices[resourceType].included,
          over: 0,
          amount: '0',
          price: prices[resourceType].price,
          status: 'pending',
        }),
      ),
      ...januaryRows('paid', usageInvoice.record_id),
    ]);
    expect(await subscriptionOf(t, tenant)).toMatchObject({ status: 'active', open_record_id: null });

    // Run again as of the same instant, and later: January is not closed a second time.
    for (const asOf of [januaryCloses, '2026-02-10T00:00:00Z']) {
      t.clock.set('2026-02-10T00:00:00Z');
      expect(await postBillingRun(asOf)).toMatchObject({ subscriptions: 0, steps: noSteps });
    }
    expect(await records(tenant)).toEqual(seen);
    expect(await metering(tenant)).toEqual(rows);
  });

  it('unpaid, makes the subscription past due from the window end, the rows invoiced until it is paid', async () => {
    await givenMeteredTenant(tenant, 'UTC', [web, mobile]);
    await givenMeteredPlan();
    await subscribe(tenant, { plan_id: 'metered', payment_method: 'sandbox_success', trial: false });
    await ingestJanuary();
    // The card starts declining; the request first catches the subscription up (the renewal, paid).
    t.clock.set('2026-02-02T09:00:00Z');
    expect(await updateSubscriptionSettings(t, tenant, { payment_method: 'sandbox_decline' })).toMatchObject({
      status: 'active',
      current_period_start: february.start,
    });

    // The run comes 23 hours after the window ended: the close is dated at the window end.
    expect(await billAt('2026-02-04T23:00:00Z')).toEqual({ ...noSteps, usage_close: 1 });
    const seen = await records(tenant);
    expect(seen.map((record) => [record.invoice_number, record.type, record.status])).toEqual([
      ['INV-2026-001', 'subscription', 'paid'],
      ['INV-2026-002', 'subscription', 'paid'],
      ['INV-2026-003', 'usage', 'failed'],
    ]);
    const usageInvoice = seen[2]!;
    expect(usageInvoice).toMatchObject(usageRecord('INV-2026-003', 'failed', januaryCloses));
    expect(await recordOf(t, tenant, usageInvoice.record_id)).toMatchObject({
      finalized_at: januaryCloses,
      amount_paid: 0,
      status_history: [
        { from_status: null, to_status: 'draft', actor: 'billing-run', occurred_at: januaryCloses },
        { from_status: 'draft', to_status: 'pending', actor: 'billing-run', occurred_at: januaryCloses },
        {
          from_status: 'pending',
          to_status: 'failed',
          actor: 'billing-run',
          reason: 'card declined (sandbox)',
          occurred_at: januaryCloses,
        },
      ],
    });
    expect(await subscriptionOf(t, tenant)).toMatchObject({
      status: 'past_due',
      open_record_id: usageInvoice.record_id,
      past_due_since: januaryCloses,
      // 7 grace days (the plan's default); the first retry a day after the failure.
      grace_ends_at: '2026-02-11T00:00:00Z',
      next_payment_attempt_at: '2026-02-05T00:00:00Z',
    });
    expect((await metering(tenant)).slice(resourceTypes.length)).toEqual(
      januaryRows('invoiced', usageInvoice.record_id),
    );
    expect(await billAt('2026-02-04T23:00:00Z')).toEqual(noSteps);

    // Paid outside the service: the rows are paid and the subscription active again.
    t.clock.set('2026-02-04T23:30:00Z');
    expectData(
      await asPlatformAdmin(t).post(`/admin/records/${tenant}/${usageInvoice.record_id}/mark-paid`, {
        reason: 'bank transfer',
      }),
    );
    expect((await metering(tenant)).slice(resourceTypes.length)).toEqual(januaryRows('paid', usageInvoice.record_id));
    expect(await subscriptionOf(t, tenant)).toMatchObject({
      status: 'active',
      open_record_id: null,
      past_due_since: null,
    });
  });
});

// ---------------------------------------------------------------- nothing, or a lot, over

describe('the quota', () => {
  const resources = [
    { resource_type: 'api_requests', included_units: 100_000, overage_unit_price: '0.0005' },
    { resource_type: 'mfa_verifications', included_units: 0, overage_unit_price: '0.0125' },
    { resource_type: 'storage_used', included_units: 50, overage_unit_price: '0.1' },
    { resource_type: 'user_count', included_units: 10, overage_unit_price: '1.25' },
  ];
  const hugePrice = '0.0000001235';

  it('exactly met or unused bills nothing; far over is priced exactly; a plan without resources is not metered', async () => {
    const [exact, unused, huge, flat] = ['tnt_exact', 'tnt_unused', 'tnt_huge', 'tnt_flat'];
    await givenPlan(t, 'quota', { name: 'Quota', monthly_price: 99, resources });
    await givenPlan(t, 'huge', {
      name: 'Huge',
      monthly_price: 99,
      resources: [{ resource_type: 'api_requests', included_units: 100_000, overage_unit_price: hugePrice }],
    });
    await givenPlan(t, 'flat', { name: 'Flat', monthly_price: 99 });
    for (const [tenant, planId] of [
      [exact, 'quota'],
      [unused, 'quota'],
      [huge, 'huge'],
      [flat, 'flat'],
    ] as const) {
      await givenMeteredTenant(tenant, 'UTC', [`app_${tenant}`]);
      await subscribe(tenant, { plan_id: planId, payment_method: 'sandbox_success', trial: false });
    }

    t.clock.set('2026-01-10T12:00:00Z');
    await ingestAccepted([
      usage({
        tenant: exact,
        app: 'app_tnt_exact',
        resource: 'api_requests',
        quantity: 70_000,
        at: '2026-01-09T10:00:00Z',
      }),
      usage({
        tenant: exact,
        app: 'app_tnt_exact',
        resource: 'api_requests',
        quantity: 30_000,
        at: '2026-01-10T10:00:00Z',
      }),
      // Highest day 50 (Jan 9), 90 over the two days: max, not sum.
      usage({
        tenant: exact,
        app: 'app_tnt_exact',
        resource: 'storage_used',
        quantity: 50,
        at: '2026-01-09T10:00:00Z',
      }),
      usage({
        tenant: exact,
        app: 'app_tnt_exact',
        resource: 'storage_used',
        quantity: 40,
        at: '2026-01-10T10:00:00Z',
      }),
      // The latest of Jan 10 is 10; 12 was earlier that day.
      usage({ tenant: exact, app: 'app_tnt_exact', resource: 'user_count', quantity: 12, at: '2026-01-10T08:00:00Z' }),
      usage({ tenant: exact, app: 'app_tnt_exact', resource: 'user_count', quantity: 10, at: '2026-01-10T11:00:00Z' }),
      // The largest quantity an event may carry, three times over two days.
      usage({
        tenant: huge,
        app: 'app_tnt_huge',
        resource: 'api_requests',
        quantity: 1e12,
        at: '2026-01-10T08:00:00Z',
      }),
      usage({
        tenant: huge,
        app: 'app_tnt_huge',
        resource: 'api_requests',
        quantity: 1e12,
        at: '2026-01-10T09:00:00Z',
      }),
      usage({
        tenant: flat,
        app: 'app_tnt_flat',
        resource: 'api_requests',
        quantity: 5_000_000,
        at: '2026-01-10T09:00:00Z',
      }),
    ]);
    t.clock.set('2026-01-11T12:00:00Z');
    await ingestAccepted([
      usage({
        tenant: huge,
        app: 'app_tnt_huge',
        resource: 'api_requests',
        quantity: 1e12,
        at: '2026-01-11T08:00:00Z',
      }),
    ]);
    expect(await metering(flat)).toEqual([]);

    expect(await billAt(january.end)).toEqual({ ...noSteps, period_end: 4 });
    expect(await metering(flat)).toEqual([]);
    // The plan without resources has nothing to close.
    expect(await billAt(januaryCloses)).toEqual({ ...noSteps, usage_close: 3 });

    // Nothing over: no usage record, every row 0 over and paid at once.
    for (const [tenant, used] of [
      [exact, { api_requests: 100_000, storage_used: 50, user_count: 10 } as Record<string, number>],
      [unused, {} as Record<string, number>],
    ] as const) {
      expect((await records(tenant)).map((record) => record.type)).toEqual(['subscription', 'subscription']);
      expect((await metering(tenant)).slice(resources.length)).toEqual(
        resources.map((resource) =>
          meteredRow(january, resource.resource_type, {
            used: used[resource.resource_type] ?? 0,
            included: resource.included_units,
            over: 0,
            amount: '0',
            price: resource.overage_unit_price,
            status: 'paid',
          }),
        ),
      );
    }
    expect(await metering(flat)).toEqual([]);
    expect((await records(flat)).map((record) => record.type)).toEqual(['subscription', 'subscription']);

    // 3,000,000,000,000 − 100,000 = 2,999,999,900,000 over × 0.0000001235 = 370,499.98765 exactly,
    // that is 37,049,998.765 fen → 37,049,999 half-up (a double product, 37049998.764999…, would
    // round down). Tax 6 % = 2,222,999.94 fen → 2,223,000.
    const over = 2_999_999_900_000;
    const exactAmount = '370499.98765';
    const amountMinor = 37_049_999n;
    const taxMinor = 2_223_000n;
    expect(overageLine(BigInt(over), hugePrice)).toEqual({ exact: exactAmount, minor: amountMinor });
    expect(sixPercentTax(amountMinor)).toBe(taxMinor);
    const usageInvoice = (await records(huge))[2]!;
    expect(usageInvoice).toMatchObject({
      invoice_number: 'INV-2026-003',
      type: 'usage',
      status: 'paid',
      created_at: januaryCloses,
      amount: cny(amountMinor),
      tax_amount: cny(taxMinor),
      total_amount: cny(amountMinor + taxMinor),
      line_items: [
        overageLineView({
          resourceType: 'api_requests',
          used: 3_000_000_000_000,
          included: 100_000,
          over,
          price: hugePrice,
          amountMinor,
        }),
      ],
    });
    expect((await metering(huge)).slice(1)).toEqual([
      meteredRow(january, 'api_requests', {
        used: 3_000_000_000_000,
        included: 100_000,
        over,
        amount: exactAmount,
        price: hugePrice,
        status: 'paid',
        recordId: usageInvoice.record_id,
      }),
    ]);
  });
});

// ---------------------------------------------------------------- the late-event window

describe('late events', () => {
  it('arriving in the window are counted in the ended period when it closes; older ones are refused', async () => {
    const tenant = 'tnt_late';
    const app = 'app_late';
    const price = '0.0005';
    await givenMeteredTenant(tenant, 'UTC', [app]);
    await givenPlan(t, 'late', {
      name: 'Late',
      monthly_price: 99,
      resources: [{ resource_type: 'api_requests', included_units: 100_000, overage_unit_price: price }],
    });
    await subscribe(tenant, { plan_id: 'late', payment_method: 'sandbox_success', trial: false });
    // Exactly the quota by the end of January.
    t.clock.set('2026-01-20T12:00:00Z');
    await ingestAccepted([
      usage({ tenant, app, resource: 'api_requests', quantity: 100_000, at: '2026-01-20T10:00:00Z' }),
    ]);
    expect(await billAt(january.end)).toEqual({ ...noSteps, period_end: 1 });

    t.clock.set('2026-02-02T12:00:00Z');
    const tooOld = usage({ tenant, app, resource: 'api_requests', quantity: 7_000, at: '2026-01-30T11:59:59Z' });
    const late = usage({ tenant, app, resource: 'api_requests', quantity: 2_000, at: '2026-01-31T23:00:00Z' });
    const firstOfFebruary = usage({ tenant, app, resource: 'api_requests', quantity: 5, at: '2026-02-01T00:00:00Z' });
    const outcome = await ingest([tooOld, late, firstOfFebruary]);
    expect(outcome).toMatchObject({ accepted: 2, duplicates: 0, rejected: 1 });
    expect(outcome.results[0]).toEqual({
      index: 0,
      event_id: tooOld.event_id,
      status: 'rejected',
      reason: 'timestamp is older than the late-event window of 3 days',
    });
    // January waits in its window, pending; like the current period it shows its usage so far
    // (102,000: 2,000 over × 0.0005 = 1).
    const inWindow = await metering(tenant);
    expect(inWindow.map((row) => [row.period_start, row.status, row.record_id])).toEqual([
      [february.start, 'pending', null],
      [january.start, 'pending', null],
    ]);
    expect(inWindow[1]).toEqual(
      meteredRow(january, 'api_requests', {
        used: 102_000,
        included: 100_000,
        over: 2_000,
        amount: '1',
        price,
        status: 'pending',
      }),
    );

    // Near the end of the window: still in.
    t.clock.set('2026-02-03T23:00:00Z');
    await ingestAccepted([usage({ tenant, app, resource: 'api_requests', quantity: 500, at: '2026-01-31T23:59:59Z' })]);
    expect(await billAt('2026-02-03T23:59:59Z')).toEqual(noSteps);
    expect((await metering(tenant))[1]).toMatchObject({ status: 'pending', record_id: null });

    // Closed with the late events: 100,000 + 2,000 + 500 = 102,500, 2,500 over × 0.0005 = 1.25,
    // tax 7.5 fen → 0.08 half-up.
    expect(await billAt(januaryCloses)).toEqual({ ...noSteps, usage_close: 1 });
    expect(overageLine(2_500n, price)).toEqual({ exact: '1.25', minor: 1_25n });
    const usageInvoice = (await records(tenant))[2]!;
    expect(usageInvoice).toMatchObject({
      type: 'usage',
      status: 'paid',
      created_at: januaryCloses,
      amount: 1.25,
      tax_amount: 0.08,
      total_amount: 1.33,
      line_items: [
        overageLineView({
          resourceType: 'api_requests',
          used: 102_500,
          included: 100_000,
          over: 2_500,
          price,
          amountMinor: 1_25n,
        }),
      ],
    });

    // After the close nothing can reach January any more; the window's edge is February's first instant.
    const afterClose = await ingest([
      usage({ tenant, app, resource: 'api_requests', quantity: 1, at: '2026-01-31T23:59:59Z' }),
      usage({ tenant, app, resource: 'api_requests', quantity: 1, at: '2026-02-01T00:00:00Z' }),
    ]);
    expect(afterClose.results.map((result) => result.status)).toEqual(['rejected', 'accepted']);
    expect(await metering(tenant)).toEqual([
      meteredRow(february, 'api_requests', {
        used: 6,
        included: 100_000,
        over: 0,
        amount: '0',
        price,
        status: 'pending',
      }),
      meteredRow(january, 'api_requests', {
        used: 102_500,
        included: 100_000,
        over: 2_500,
        amount: '1.25',
        price,
        status: 'paid',
        recordId: usageInvoice.record_id,
      }),
    ]);
  });
});

// ---------------------------------------------------------------- cancel now, trials

describe('what is metered', () => {
  it('the used part of a period canceled now, closed after the window; never a trial', async () => {
    const price = '0.0005';
    const apiRequests = [{ resource_type: 'api_requests', included_units: 100_000, overage_unit_price: price }];
    await givenPlan(t, 'metered', { name: 'Metered', monthly_price: 99, resources: apiRequests });
    await givenPlan(t, 'trial', { name: 'Trial', monthly_price: 99, trial_days: 14, resources: apiRequests });
    const [canceled, trialing, trialCanceled] = ['tnt_canceled', 'tnt_trialing', 'tnt_trial_canceled'];
    for (const tenant of [canceled, trialing, trialCanceled])
      await givenMeteredTenant(tenant, 'UTC', [`app_${tenant}`]);
    await subscribe(canceled, { plan_id: 'metered', payment_method: 'sandbox_success', trial: false });
    expect(await subscribe(trialing, { plan_id: 'trial', payment_method: 'sandbox_success' })).toMatchObject({
      status: 'trialing',
      current_period_end: '2026-01-15T00:00:00Z',
    });
    await subscribe(trialCanceled, { plan_id: 'trial', payment_method: 'sandbox_success' });

    t.clock.set('2026-01-05T12:00:00Z');
    await ingestAccepted([
      usage({
        tenant: canceled,
        app: 'app_tnt_canceled',
        resource: 'api_requests',
        quantity: 150_000,
        at: '2026-01-05T10:00:00Z',
      }),
      usage({
        tenant: trialing,
        app: 'app_tnt_trialing',
        resource: 'api_requests',
        quantity: 500_000,
        at: '2026-01-05T10:00:00Z',
      }),
      usage({
        tenant: trialCanceled,
        app: 'app_tnt_trial_canceled',
        resource: 'api_requests',
        quantity: 500_000,
        at: '2026-01-05T10:00:00Z',
      }),
    ]);
    // A trial shows nothing metered, and canceling it now meters nothing.
    expect(await metering(trialing)).toEqual([]);
    expect(await cancelNow(trialCanceled)).toMatchObject({ status: 'canceled' });
    expect(await metering(trialCanceled)).toEqual([]);

    // No period follows a cancellation: the day it is canceled on is the cut-short period's last day.
    t.clock.set('2026-01-10T11:00:00Z');
    await ingestAccepted([
      usage({
        tenant: canceled,
        app: 'app_tnt_canceled',
        resource: 'api_requests',
        quantity: 9_000,
        at: '2026-01-10T10:00:00Z',
      }),
    ]);
    const canceledAt = '2026-01-10T12:00:00Z';
    t.clock.set(canceledAt);
    expect(await cancelNow(canceled)).toMatchObject({ status: 'canceled', ended_at: canceledAt });
    const usedPart = { start: january.start, end: canceledAt };
    // No current period any more; the part used waits, pending, for late events.
    expect(await metering(canceled)).toEqual([
      expect.objectContaining({
        resource_type: 'api_requests',
        period_start: usedPart.start,
        period_end: usedPart.end,
        status: 'pending',
        record_id: null,
      }),
    ]);

    const canceledCloses = '2026-01-13T12:00:00Z';
    expect(await billAt('2026-01-13T11:59:59Z')).toEqual(noSteps);
    expect(await billAt(canceledCloses)).toEqual({ ...noSteps, usage_close: 1 });
    // 150,000 + 9,000 − 100,000 = 59,000 over × 0.0005 = 29.5 → 29.50, tax 1.77.
    const canceledRecords = await records(canceled);
    expect(canceledRecords.map((record) => record.type)).toEqual(['subscription', 'usage']);
    const canceledUsage = canceledRecords[1]!;
    expect(canceledUsage).toMatchObject({
      invoice_number: 'INV-2026-002',
      status: 'paid',
      description: 'Usage overage 2026-01-01 to 2026-01-10',
      created_at: canceledCloses,
      amount: 29.5,
      tax_amount: 1.77,
      total_amount: 31.27,
      line_items: [
        overageLineView({
          resourceType: 'api_requests',
          used: 159_000,
          included: 100_000,
          over: 59_000,
          price,
          amountMinor: 29_50n,
        }),
      ],
    });
    expect(await metering(canceled)).toEqual([
      meteredRow(usedPart, 'api_requests', {
        used: 159_000,
        included: 100_000,
        over: 59_000,
        amount: '29.5',
        price,
        status: 'paid',
        recordId: canceledUsage.record_id,
      }),
    ]);
    expect(await subscriptionOf(t, canceled)).toMatchObject({ status: 'canceled', open_record_id: null });

    // The trial's last day, then the first paid period from Jan 15.
    t.clock.set('2026-01-14T12:00:00Z');
    await ingestAccepted([
      usage({
        tenant: trialing,
        app: 'app_tnt_trialing',
        resource: 'api_requests',
        quantity: 7_000,
        at: '2026-01-14T10:00:00Z',
      }),
    ]);
    expect(await billAt('2026-01-15T00:00:00Z')).toEqual({ ...noSteps, trial_end: 1 });
    const paid = { start: '2026-01-15T00:00:00Z', end: '2026-02-15T00:00:00Z' };
    expect(await metering(trialing)).toEqual([
      meteredRow(paid, 'api_requests', { used: 0, included: 100_000, over: 0, amount: '0', price, status: 'pending' }),
    ]);
    t.clock.set('2026-01-20T12:00:00Z');
    await ingestAccepted([
      usage({
        tenant: trialing,
        app: 'app_tnt_trialing',
        resource: 'api_requests',
        quantity: 100_500,
        at: '2026-01-20T10:00:00Z',
      }),
    ]);

    expect(await billAt(paid.end)).toEqual({ ...noSteps, period_end: 1 });
    expect(await billAt('2026-02-18T00:00:00Z')).toEqual({ ...noSteps, usage_close: 1 });
    // Only the paid period's 100,500: 500 over × 0.0005 = 0.25, tax 1.5 fen → 0.02.
    const trialUsage = (await records(trialing))[2]!;
    expect(trialUsage).toMatchObject({
      invoice_number: 'INV-2026-003',
      type: 'usage',
      description: 'Usage overage 2026-01-15 to 2026-02-14',
      created_at: '2026-02-18T00:00:00Z',
      amount: 0.25,
      tax_amount: 0.02,
      total_amount: 0.27,
    });
    expect((await metering(trialing)).slice(1)).toEqual([
      meteredRow(paid, 'api_requests', {
        used: 100_500,
        included: 100_000,
        over: 500,
        amount: '0.25',
        price,
        status: 'paid',
        recordId: trialUsage.record_id,
      }),
    ]);
    // The trial canceled now was never billed.
    expect(await records(trialCanceled)).toEqual([]);
    expect(await metering(trialCanceled)).toEqual([]);
  });
});

// ---------------------------------------------------------------- time zones

describe('days in the tenant time zone', () => {
  /** A wall-clock time in Asia/Shanghai (UTC+8 all year, no DST), in UTC as the API prints it. */
  const shanghai = (local: string): string => new Date(`${local}+08:00`).toISOString().replace('.000Z', 'Z');

  it('bill the local day a period starts on in that period and the local day it ends on in the next', async () => {
    const tenant = 'tnt_shanghai';
    const app = 'app_shanghai';
    const price = '0.01';
    await givenMeteredTenant(tenant, 'Asia/Shanghai', [app]);
    await givenPlan(t, 'local', {
      name: 'Local',
      monthly_price: 99,
      resources: [{ resource_type: 'api_requests', included_units: 0, overage_unit_price: price }],
    });
    // Subscribed at 08:00 local on Jan 1 (00:00Z): the period runs to 08:00 local on Feb 1.
    await subscribe(tenant, { plan_id: 'local', payment_method: 'sandbox_success', trial: false });
    const first = { start: shanghai('2026-01-01T08:00:00'), end: shanghai('2026-02-01T08:00:00') };
    expect(first).toEqual(january);

    await ingestAccepted([
      // Dec 31 local: before the period's first day.
      usage({ tenant, app, resource: 'api_requests', quantity: 1_000, at: shanghai('2025-12-31T23:00:00') }),
      // Jan 1 local, before the subscription began (Dec 31 in UTC): the period's first day.
      usage({ tenant, app, resource: 'api_requests', quantity: 200, at: shanghai('2026-01-01T01:00:00') }),
    ]);
    expect(await metering(tenant)).toEqual([
      meteredRow(first, 'api_requests', { used: 200, included: 0, over: 200, amount: '2', price, status: 'pending' }),
    ]);

    t.clock.set(shanghai('2026-02-01T07:30:00'));
    await ingestAccepted([
      // Jan 31 local, the period's last day.
      usage({ tenant, app, resource: 'api_requests', quantity: 30, at: shanghai('2026-01-31T23:59:59') }),
      // Feb 1 local, still before the period's end instant (and Jan 31 in UTC): the next period's.
      usage({ tenant, app, resource: 'api_requests', quantity: 4_000, at: shanghai('2026-02-01T00:00:00') }),
    ]);
    expect(await billAt(first.end)).toEqual({ ...noSteps, period_end: 1 });
    t.clock.set(shanghai('2026-02-01T09:00:00'));
    await ingestAccepted([
      usage({ tenant, app, resource: 'api_requests', quantity: 50_000, at: shanghai('2026-02-01T08:30:00') }),
    ]);

    expect(await billAt('2026-02-04T00:00:00Z')).toEqual({ ...noSteps, usage_close: 1 });
    // 200 + 30 = 230 × 0.01 = 2.30, tax 13.8 fen → 0.14.
    const usageInvoice = (await records(tenant))[2]!;
    expect(usageInvoice).toMatchObject({
      type: 'usage',
      description: 'Usage overage 2026-01-01 to 2026-01-31',
      created_at: '2026-02-04T00:00:00Z',
      amount: 2.3,
      tax_amount: 0.14,
      total_amount: 2.44,
      line_items: [
        overageLineView({ resourceType: 'api_requests', used: 230, included: 0, over: 230, price, amountMinor: 2_30n }),
      ],
    });
    // February (local) so far: 4,000 + 50,000.
    expect(await metering(tenant)).toEqual([
      meteredRow(february, 'api_requests', {
        used: 54_000,
        included: 0,
        over: 54_000,
        amount: '540',
        price,
        status: 'pending',
      }),
      meteredRow(first, 'api_requests', {
        used: 230,
        included: 0,
        over: 230,
        amount: '2.3',
        price,
        status: 'paid',
        recordId: usageInvoice.record_id,
      }),
    ]);
  });
});
