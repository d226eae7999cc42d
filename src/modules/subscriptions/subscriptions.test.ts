import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { api, asPlatformAdmin, freshKey } from '../../testing/api.js';
import { comparable, expectData, expectError, expectInvalid, rfc3339Utc } from '../../testing/envelopes.js';
import { creditTransactionsOf, givenPlan, givenTenant, recordsOf, subscriptionUrl } from '../../testing/fixtures.js';
import { createTestApp, testStart, type TestApp } from '../../testing/test-app.js';
import type { SubscriptionView } from '../../testing/views.js';

let t: TestApp;

type Headers = Record<string, string>;
type Action = '' | '/change-plan' | '/cancel' | '/resume';

const periodEnd = '2026-02-01T00:00:00Z';
const trialEnd = '2026-01-15T00:00:00Z';

/** As the tenant's own admin unless other headers are given. */
const caller = (tenantId: string, headers?: Headers) =>
  api(t).as(headers === undefined ? { role: 'tenant_admin', tenant: tenantId } : { headers });

/** A write with a fresh Idempotency-Key unless one is given or null. */
const post = async (
  tenantId: string,
  action: Action,
  payload?: Record<string, unknown>,
  options: { headers?: Headers; key?: string | null } = {},
): Promise<LightMyRequestResponse> =>
  caller(tenantId, options.headers).post(subscriptionUrl(tenantId, action), payload, { key: options.key });

const subscribe = (
  tenantId: string,
  payload?: Record<string, unknown>,
  options?: { headers?: Headers; key?: string | null },
) => post(tenantId, '', payload, options);
const changePlan = (tenantId: string, payload?: Record<string, unknown>, options?: { headers?: Headers }) =>
  post(tenantId, '/change-plan', payload, options);
const cancel = (tenantId: string, payload?: Record<string, unknown>, options?: { headers?: Headers }) =>
  post(tenantId, '/cancel', payload, options);
const resume = (tenantId: string, payload?: Record<string, unknown>, options?: { headers?: Headers }) =>
  post(tenantId, '/resume', payload, options);

const patchSettings = (tenantId: string, payload: Record<string, unknown>, headers?: Headers) =>
  caller(tenantId, headers).patch(subscriptionUrl(tenantId), payload);

const getSubscription = (tenantId: string, headers?: Headers) =>
  caller(tenantId, headers).get(subscriptionUrl(tenantId));

const billingRun = (payload?: Record<string, unknown>, headers?: Headers) =>
  api(t)
    .as(headers === undefined ? { role: 'platform_admin' } : { headers })
    .post('/admin/billing-run', payload, { key: null });

/** The subscription a successful write or read answered with, failing the test on any other status. */
const expectSubscription = (response: LightMyRequestResponse, status = 200): SubscriptionView =>
  expectData<SubscriptionView>(response, status);

const givenSubscription = async (tenantId: string, payload: Record<string, unknown>): Promise<SubscriptionView> =>
  expectSubscription(await subscribe(tenantId, payload), 201);

/** A subscription in its trial: no invoice and no payment, for tests about something else. */
const givenTrial = (tenantId: string): Promise<SubscriptionView> =>
  givenSubscription(tenantId, { plan_id: 'pro', billing_cycle: 'monthly' });

/** A tenant of its own per test, so no test sees another's subscriptions, records or keys. */
const givenFreshTenant = async (label: string): Promise<string> => {
  const tenantId = `tnt_sub_${label}`;
  await givenTenant(t, tenantId);
  return tenantId;
};

const subscriptionCount = async (tenantId: string): Promise<number> => {
  const row = await t.database.db
    .selectFrom('subscriptions')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('tenant_id', '=', tenantId)
    .executeTakeFirstOrThrow();
  return Number(row.n);
};

beforeAll(async () => {
  t = await createTestApp();
  const plans = [
    { plan_id: 'basic', name: 'Basic', currency: 'CNY', monthly_price: 49, yearly_price: 490 },
    { plan_id: 'pro', name: 'Pro', currency: 'CNY', monthly_price: 99, yearly_price: 990, trial_days: 14 },
    {
      plan_id: 'enterprise',
      name: 'Enterprise',
      currency: 'CNY',
      monthly_price: 199,
      yearly_price: 1990,
      grace_period_days: 10,
    },
    { plan_id: 'monthly_only', name: 'Monthly only', currency: 'CNY', monthly_price: 29 },
    { plan_id: 'dollar', name: 'Dollar', currency: 'USD', monthly_price: 10 },
    { plan_id: 'retired', name: 'Retired', currency: 'CNY', monthly_price: 9 },
  ];
  for (const plan of plans) await givenPlan(t, plan.plan_id, plan);
  expectData(await asPlatformAdmin(t).patch('/admin/plans/retired', { status: 'archived' }));
});
afterAll(() => t.close());

// Tests move the clock; each starts at the test start so subscriptions begin on 2026-01-01.
beforeEach(() => t.clock.set(testStart));

describe('GET /billing/subscriptions/{tenant_id}', () => {
  it('shows a tenant viewer every SubscriptionResponse field of the seed with its JSON type', async () => {
    const tenantId = await givenFreshTenant('get_fields');
    const subscribed = await givenSubscription(tenantId, { plan_id: 'pro', billing_cycle: 'monthly' });

    const response = await getSubscription(tenantId, await t.as.tenant(tenantId, 'tenant_viewer'));
    expect(response.statusCode, response.body).toBe(200);
    expect(response.json()).toMatchObject({ code: 200, message: 'ok', timestamp: testStart });
    const data = expectSubscription(response) as unknown as Record<string, unknown>;
    const seedFieldTypes = {
      admin_user_id: 'string',
      amount: 'number',
      auto_renew: 'boolean',
      billing_cycle: 'string',
      cancel_at_period_end: 'boolean',
      currency: 'string',
      current_period_end: 'string',
      current_period_start: 'string',
      grace_period_days: 'number',
      plan_id: 'string',
      status: 'string',
      tenant_id: 'string',
      trial_end_date: 'string',
    };
    for (const [field, type] of Object.entries(seedFieldTypes)) expect(typeof data[field], field).toBe(type);
    expect(Number.isInteger(data.grace_period_days)).toBe(true);
    for (const field of ['current_period_start', 'current_period_end', 'trial_end_date']) {
      expect(data[field], field).toMatch(rfc3339Utc);
    }
    expect(data).toMatchObject({
      id: expect.stringMatching(/^sub_[a-z0-9]{16}$/) as string,
      admin_user_id: `usr_admin_of_${tenantId}`,
      amount: 99,
      auto_renew: true,
      billing_cycle: 'monthly',
      cancel_at_period_end: false,
      currency: 'CNY',
      current_period_start: testStart,
      current_period_end: trialEnd,
      grace_period_days: 7,
      plan_id: 'pro',
      status: 'trialing',
      tenant_id: tenantId,
      trial_end_date: trialEnd,
      plan_version: 1,
      payment_method: 'manual',
      scheduled_change: null,
      ended_at: null,
    });
    expect(data).toEqual(subscribed);
  });

  it('answers 404 when the tenant never subscribed', async () => {
    const tenantId = await givenFreshTenant('get_none');
    const body = expectError(await getSubscription(tenantId), 404, 'not_found');
    expect(body.message).toContain('subscription');
  });

  it('shows the latest ended subscription when none is live', async () => {
    const tenantId = await givenFreshTenant('get_ended');
    const first = await givenSubscription(tenantId, {
      plan_id: 'basic',
      billing_cycle: 'monthly',
      payment_method: 'sandbox_success',
    });
    t.clock.set('2026-01-01T01:00:00Z');
    expectSubscription(await cancel(tenantId, { at_period_end: false }));
    expect(expectSubscription(await getSubscription(tenantId))).toMatchObject({ id: first.id, status: 'canceled' });

    t.clock.set('2026-01-02T00:00:00Z');
    const second = await givenSubscription(tenantId, {
      plan_id: 'enterprise',
      billing_cycle: 'monthly',
      payment_method: 'sandbox_success',
    });
    t.clock.set('2026-01-03T00:00:00Z');
    expectSubscription(await cancel(tenantId, { at_period_end: false }));

    expect(expectSubscription(await getSubscription(tenantId))).toMatchObject({
      id: second.id,
      plan_id: 'enterprise',
      status: 'canceled',
      ended_at: '2026-01-03T00:00:00Z',
    });
  });
});

describe('POST /billing/subscriptions/{tenant_id}', () => {
  it("starts the plan's trial when it has one: 201, trialing until the trial end, nothing charged", async () => {
    const tenantId = await givenFreshTenant('trial');
    const response = await subscribe(tenantId, { plan_id: 'pro', billing_cycle: 'monthly' });
    expect(response.statusCode, response.body).toBe(201);
    expect(response.headers['idempotent-replayed']).toBe('false');
    expect(response.json()).toMatchObject({ code: 201, timestamp: testStart });
    expect(expectSubscription(response, 201)).toMatchObject({
      status: 'trialing',
      plan_id: 'pro',
      amount: 99,
      current_period_start: testStart,
      // 14 calendar days in Asia/Shanghai, at the wall-clock time of subscribing.
      current_period_end: trialEnd,
      trial_end_date: trialEnd,
      open_record_id: null,
    });
    expect(await recordsOf(t, tenantId)).toEqual([]);
  });

  it('charges the first period at once without a trial: a paid subscription record with tax', async () => {
    const tenantId = await givenFreshTenant('paid');
    const sub = await givenSubscription(tenantId, {
      plan_id: 'basic',
      billing_cycle: 'monthly',
      payment_method: 'sandbox_success',
    });
    expect(sub).toMatchObject({
      status: 'active',
      amount: 49,
      trial_end_date: null,
      current_period_start: testStart,
      current_period_end: periodEnd,
      payment_method: 'sandbox_success',
      open_record_id: null,
      past_due_since: null,
    });
    const records = await recordsOf(t, tenantId);
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({
      type: 'subscription',
      status: 'paid',
      description: 'Basic Monthly Subscription',
      invoice_number: expect.stringMatching(/^INV-2026-\d{3,}$/) as string,
      currency: 'CNY',
      amount: 49,
      tax_amount: 2.94,
      total_amount: 51.94,
      line_items: [
        {
          description: 'Basic Monthly Subscription, 2026-01-01 to 2026-02-01',
          resource_type: 'subscription',
          quantity: 1,
          unit_price: 49,
          amount: 49,
          tax_rate: 0.06,
          tax_amount: 2.94,
        },
      ],
    });
  });

  it('leaves the first invoice pending and the subscription past due when the payment is manual', async () => {
    const tenantId = await givenFreshTenant('manual');
    const sub = await givenSubscription(tenantId, { plan_id: 'enterprise', billing_cycle: 'yearly' });
    const records = await recordsOf(t, tenantId);
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({
      type: 'subscription',
      status: 'pending',
      description: 'Enterprise Yearly Subscription',
      amount: 1990,
      tax_amount: 119.4,
      total_amount: 2109.4,
    });
    expect(sub).toMatchObject({
      status: 'past_due',
      billing_cycle: 'yearly',
      amount: 1990,
      grace_period_days: 10,
      current_period_end: '2027-01-01T00:00:00Z',
      open_record_id: records[0]?.record_id,
      past_due_since: testStart,
      grace_ends_at: '2026-01-11T00:00:00Z',
      next_payment_attempt_at: '2026-01-02T00:00:00Z',
    });
  });

  it('gives a tenant one trial: after a cancel no trial by default, and trial: true is a 400 naming trial', async () => {
    const tenantId = await givenFreshTenant('one_trial');
    expect((await givenSubscription(tenantId, { plan_id: 'pro', billing_cycle: 'monthly' })).status).toBe('trialing');
    expectSubscription(await cancel(tenantId, { at_period_end: false }));

    const refused = await subscribe(tenantId, { plan_id: 'pro', billing_cycle: 'monthly', trial: true });
    expectInvalid(refused, 'trial');
    expect(await subscriptionCount(tenantId)).toBe(1);

    const again = await givenSubscription(tenantId, {
      plan_id: 'pro',
      billing_cycle: 'monthly',
      payment_method: 'sandbox_success',
    });
    expect(again).toMatchObject({ status: 'active', trial_end_date: null, current_period_end: periodEnd });
    expect((await recordsOf(t, tenantId)).map((record) => [record.type, record.status, record.amount])).toEqual([
      ['subscription', 'paid', 99],
    ]);
  });

  it('lets a tenant decline the trial with trial: false', async () => {
    const tenantId = await givenFreshTenant('decline_trial');
    const sub = await givenSubscription(tenantId, {
      plan_id: 'pro',
      billing_cycle: 'monthly',
      trial: false,
      payment_method: 'sandbox_success',
    });
    expect(sub).toMatchObject({ status: 'active', trial_end_date: null });
  });

  it('refuses trial: true on a plan without a trial with a 400 naming trial, and writes nothing', async () => {
    const tenantId = await givenFreshTenant('no_trial_plan');
    expectInvalid(await subscribe(tenantId, { plan_id: 'basic', billing_cycle: 'monthly', trial: true }), 'trial');
    expect(await subscriptionCount(tenantId)).toBe(0);
    expect(await recordsOf(t, tenantId)).toEqual([]);
  });

  it('refuses a second live subscription with 409', async () => {
    const tenantId = await givenFreshTenant('twice');
    await givenSubscription(tenantId, {
      plan_id: 'basic',
      billing_cycle: 'monthly',
      payment_method: 'sandbox_success',
    });
    expectError(await subscribe(tenantId, { plan_id: 'enterprise', billing_cycle: 'monthly' }), 409, 'conflict');
    expect(await subscriptionCount(tenantId)).toBe(1);
    expect(await recordsOf(t, tenantId)).toHaveLength(1);
  });

  it.each([
    {
      label: 'an unknown plan',
      tenantLabel: 'unknown_plan',
      payload: { plan_id: 'nonexistent', billing_cycle: 'monthly' },
      status: 404,
      type: 'not_found',
    },
    {
      label: 'an archived plan',
      tenantLabel: 'archived_plan',
      payload: { plan_id: 'retired', billing_cycle: 'monthly' },
      status: 422,
      type: 'unprocessable',
    },
    {
      label: "a plan priced in another currency than the tenant's",
      tenantLabel: 'other_currency',
      payload: { plan_id: 'dollar', billing_cycle: 'monthly' },
      status: 422,
      type: 'unprocessable',
    },
  ])('refuses $label and writes nothing', async ({ tenantLabel, payload, status, type }) => {
    const tenantId = await givenFreshTenant(tenantLabel);
    expectError(await subscribe(tenantId, payload), status, type);
    expect(await subscriptionCount(tenantId)).toBe(0);
  });

  it('refuses a cycle the plan has no price for with a 400 naming billing_cycle', async () => {
    const tenantId = await givenFreshTenant('no_yearly');
    expectInvalid(await subscribe(tenantId, { plan_id: 'monthly_only', billing_cycle: 'yearly' }), 'billing_cycle');
    expect(await subscriptionCount(tenantId)).toBe(0);
  });

  describe('with a malformed body', () => {
    let tenantId: string;
    beforeAll(async () => {
      tenantId = await givenFreshTenant('bad_body');
    });

    it.each([
      ['plan_id', 'no body at all', undefined],
      ['plan_id', 'no plan_id', { billing_cycle: 'monthly' }],
      ['plan_id', 'a number for plan_id', { plan_id: 42, billing_cycle: 'monthly' }],
      ['plan_id', 'a plan_id outside the pattern', { plan_id: 'Pro Plan!', billing_cycle: 'monthly' }],
      ['billing_cycle', 'no billing_cycle', { plan_id: 'basic' }],
      ['billing_cycle', 'an unknown billing_cycle', { plan_id: 'basic', billing_cycle: 'weekly' }],
      ['coupon', 'an unknown field', { plan_id: 'basic', billing_cycle: 'monthly', coupon: 'FREE' }],
      ['trial', 'a string for trial', { plan_id: 'pro', billing_cycle: 'monthly', trial: 'yes' }],
      ['auto_renew', 'a string for auto_renew', { plan_id: 'basic', billing_cycle: 'monthly', auto_renew: 'false' }],
      [
        'payment_method',
        'an unknown payment_method',
        { plan_id: 'basic', billing_cycle: 'monthly', payment_method: 'card' },
      ],
      ['payment_method', 'a null payment_method', { plan_id: 'basic', billing_cycle: 'monthly', payment_method: null }],
    ])('answers 400 naming %s for %s, and writes nothing', async (parameter, _label, payload) => {
      expectInvalid(await subscribe(tenantId, payload), parameter);
      expect(await subscriptionCount(tenantId)).toBe(0);
    });

    it('answers 400 naming the Idempotency-Key header when it is missing, and writes nothing', async () => {
      const response = await subscribe(tenantId, { plan_id: 'basic', billing_cycle: 'monthly' }, { key: null });
      const body = expectError(response, 400, 'validation_error');
      expect(body.message.toLowerCase()).toContain('idempotency-key');
      expect(body.error.details[0]?.in).toBe('header');
      expect(await subscriptionCount(tenantId)).toBe(0);
    });
  });

  it('replays the same key and body byte for byte with Idempotent-Replayed, and refuses the key for another body', async () => {
    const tenantId = await givenFreshTenant('replay');
    const payload = { plan_id: 'basic', billing_cycle: 'monthly', payment_method: 'sandbox_success' };
    const first = await subscribe(tenantId, payload, { key: 'subscribe-once' });
    expect(first.statusCode, first.body).toBe(201);

    // Later, when running it again would be a 409: the replay must not run it.
    t.clock.set('2026-01-01T00:05:00Z');
    const replay = await subscribe(tenantId, payload, { key: 'subscribe-once' });
    expect(replay.statusCode).toBe(201);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.body).toBe(first.body);

    const otherBody = await subscribe(tenantId, { ...payload, plan_id: 'enterprise' }, { key: 'subscribe-once' });
    expectError(otherBody, 422, 'unprocessable');
    expect(await subscriptionCount(tenantId)).toBe(1);
    expect(await recordsOf(t, tenantId)).toHaveLength(1);
  });
});

describe('POST /billing/subscriptions/{tenant_id}/change-plan', () => {
  it('upgrades at once and invoices the difference for the rest of the period on a proration record', async () => {
    const tenantId = await givenFreshTenant('upgrade');
    const before = await givenSubscription(tenantId, {
      plan_id: 'basic',
      billing_cycle: 'monthly',
      payment_method: 'sandbox_success',
    });
    // 16 of the 31 days left: (199 − 49) × 1,382,400 s / 2,678,400 s = 77.419… → 77.42.
    t.clock.set('2026-01-16T00:00:00Z');
    const after = expectSubscription(await changePlan(tenantId, { plan_id: 'enterprise' }));
    expect(after).toMatchObject({
      id: before.id,
      status: 'active',
      plan_id: 'enterprise',
      plan_version: 1,
      billing_cycle: 'monthly',
      amount: 199,
      grace_period_days: 10,
      current_period_start: testStart,
      current_period_end: periodEnd,
      scheduled_change: null,
      open_record_id: null,
    });
    const [proration, ...others] = await recordsOf(t, tenantId);
    expect(others.map((record) => record.type)).toEqual(['subscription']);
    expect(proration).toMatchObject({
      type: 'proration',
      status: 'paid',
      amount: 77.42,
      tax_amount: 4.65,
      total_amount: 82.07,
      line_items: [{ quantity: 1, unit_price: 77.42, amount: 77.42, tax_rate: 0.06, tax_amount: 4.65 }],
    });
    expect(proration?.description).toContain('basic to enterprise');
  });

  it('schedules a downgrade for the period end, and asking for the current terms drops it', async () => {
    const tenantId = await givenFreshTenant('downgrade');
    await givenSubscription(tenantId, {
      plan_id: 'pro',
      billing_cycle: 'monthly',
      trial: false,
      payment_method: 'sandbox_success',
    });
    t.clock.set('2026-01-10T00:00:00Z');
    const scheduled = expectSubscription(await changePlan(tenantId, { plan_id: 'basic' }));
    expect(scheduled).toMatchObject({
      plan_id: 'pro',
      amount: 99,
      status: 'active',
      current_period_end: periodEnd,
      scheduled_change: { plan_id: 'basic', plan_version: 1, billing_cycle: 'monthly', effective_at: periodEnd },
    });
    expect(expectSubscription(await getSubscription(tenantId)).scheduled_change).toEqual(scheduled.scheduled_change);
    // At period end: no money moves now, neither a record nor a credit.
    expect(await recordsOf(t, tenantId)).toHaveLength(1);
    expect(await creditTransactionsOf(t, tenantId)).toHaveLength(0);

    const unscheduled = expectSubscription(await changePlan(tenantId, { plan_id: 'pro', billing_cycle: 'monthly' }));
    expect(unscheduled).toMatchObject({ plan_id: 'pro', amount: 99, scheduled_change: null });

    expectError(await changePlan(tenantId, { plan_id: 'pro' }), 409, 'conflict');
  });

  it('refuses the terms the subscription already has, with nothing scheduled, with 409', async () => {
    const tenantId = await givenFreshTenant('same_terms');
    const before = await givenTrial(tenantId);
    expectError(await changePlan(tenantId, { plan_id: 'pro', billing_cycle: 'monthly' }), 409, 'conflict');
    expect(expectSubscription(await getSubscription(tenantId))).toEqual(before);
  });

  it('schedules a cycle change for the period end', async () => {
    const tenantId = await givenFreshTenant('cycle');
    await givenSubscription(tenantId, {
      plan_id: 'basic',
      billing_cycle: 'monthly',
      payment_method: 'sandbox_success',
    });
    const changed = expectSubscription(await changePlan(tenantId, { plan_id: 'basic', billing_cycle: 'yearly' }));
    expect(changed).toMatchObject({
      billing_cycle: 'monthly',
      amount: 49,
      current_period_end: periodEnd,
      scheduled_change: { plan_id: 'basic', plan_version: 1, billing_cycle: 'yearly', effective_at: periodEnd },
    });
    expect(await recordsOf(t, tenantId)).toHaveLength(1);
  });

  it('changes plan and cycle at once and for free during a trial', async () => {
    const tenantId = await givenFreshTenant('trial_change');
    await givenTrial(tenantId);
    t.clock.set('2026-01-05T00:00:00Z');
    const changed = expectSubscription(await changePlan(tenantId, { plan_id: 'enterprise', billing_cycle: 'yearly' }));
    expect(changed).toMatchObject({
      status: 'trialing',
      plan_id: 'enterprise',
      billing_cycle: 'yearly',
      amount: 1990,
      trial_end_date: trialEnd,
      current_period_end: trialEnd,
      scheduled_change: null,
    });
    expect(await recordsOf(t, tenantId)).toEqual([]);
    expect(await creditTransactionsOf(t, tenantId)).toHaveLength(0);
  });

  it('refuses a change while past due with 409: the open invoice is paid first', async () => {
    const tenantId = await givenFreshTenant('past_due_change');
    const before = await givenSubscription(tenantId, { plan_id: 'basic', billing_cycle: 'monthly' });
    expect(before.status).toBe('past_due');
    expectError(await changePlan(tenantId, { plan_id: 'enterprise' }), 409, 'conflict');
    expect(expectSubscription(await getSubscription(tenantId))).toEqual(before);
    expect(await recordsOf(t, tenantId)).toHaveLength(1);
  });

  it('answers 404 when the tenant has no live subscription', async () => {
    const tenantId = await givenFreshTenant('change_none');
    expectError(await changePlan(tenantId, { plan_id: 'basic' }), 404, 'not_found');
  });

  it.each([
    ['plan_id', 'no plan_id', {}],
    ['billing_cycle', 'an unknown billing_cycle', { plan_id: 'basic', billing_cycle: 'weekly' }],
    ['at_period_end', 'an unknown field', { plan_id: 'basic', at_period_end: true }],
  ])('answers 400 naming %s for %s', async (parameter, _label, payload) => {
    const tenantId = await givenFreshTenant(`change_bad_${parameter}`);
    const before = await givenTrial(tenantId);
    expectInvalid(await changePlan(tenantId, payload), parameter);
    expect(expectSubscription(await getSubscription(tenantId))).toEqual(before);
  });
});

describe('cancel and resume', () => {
  it('cancels at the period end by default; resume takes that back, and then has nothing to resume', async () => {
    const tenantId = await givenFreshTenant('cancel_end');
    await givenSubscription(tenantId, {
      plan_id: 'basic',
      billing_cycle: 'monthly',
      payment_method: 'sandbox_success',
    });
    t.clock.set('2026-01-10T00:00:00Z');
    const canceling = expectSubscription(await cancel(tenantId));
    expect(canceling).toMatchObject({
      status: 'active',
      cancel_at_period_end: true,
      current_period_end: periodEnd,
      ended_at: null,
    });
    // Asking again changes nothing and is no error.
    expect(expectSubscription(await cancel(tenantId, { at_period_end: true }))).toEqual(canceling);

    const resumed = expectSubscription(await resume(tenantId));
    expect(resumed).toMatchObject({ status: 'active', cancel_at_period_end: false, ended_at: null });
    expectError(await resume(tenantId), 409, 'conflict');
  });

  it('cancels now with at_period_end false: canceled, ended now, nothing refunded', async () => {
    const tenantId = await givenFreshTenant('cancel_now');
    await givenSubscription(tenantId, {
      plan_id: 'basic',
      billing_cycle: 'monthly',
      payment_method: 'sandbox_success',
    });
    t.clock.set('2026-01-10T00:00:00Z');
    const canceled = expectSubscription(await cancel(tenantId, { at_period_end: false, reason: 'Moving on' }));
    expect(canceled).toMatchObject({
      status: 'canceled',
      ended_at: '2026-01-10T00:00:00Z',
      cancel_at_period_end: false,
      scheduled_change: null,
    });
    expect(expectSubscription(await getSubscription(tenantId))).toEqual(canceled);
    expect((await recordsOf(t, tenantId)).map((record) => record.status)).toEqual(['paid']);
    expect(await creditTransactionsOf(t, tenantId)).toHaveLength(0);

    // Nothing live is left to act on.
    expectError(await resume(tenantId), 404, 'not_found');
    expectError(await cancel(tenantId), 404, 'not_found');
    expectError(await changePlan(tenantId, { plan_id: 'enterprise' }), 404, 'not_found');
    expectError(await patchSettings(tenantId, { auto_renew: false }), 404, 'not_found');
  });

  it('answers 404 to cancel and resume when the tenant never subscribed', async () => {
    const tenantId = await givenFreshTenant('cancel_none');
    expectError(await cancel(tenantId), 404, 'not_found');
    expectError(await resume(tenantId), 404, 'not_found');
  });

  it.each([
    ['cancel', 'at_period_end', { at_period_end: 'no' }],
    ['cancel', 'reason', { reason: '' }],
    ['cancel', 'when', { when: 'now' }],
    ['resume', 'force', { force: true }],
  ] as const)('%s answers 400 naming %s', async (action, parameter, payload) => {
    const tenantId = await givenFreshTenant(`${action}_bad_${parameter}`);
    const before = await givenTrial(tenantId);
    expectInvalid(await (action === 'cancel' ? cancel : resume)(tenantId, payload), parameter);
    expect(expectSubscription(await getSubscription(tenantId))).toEqual(before);
  });
});

describe('a request that arrives before the billing run', () => {
  it('renews the subscription first, then prorates an upgrade within the new period', async () => {
    const tenantId = await givenFreshTenant('lagging_upgrade');
    await givenSubscription(tenantId, {
      plan_id: 'basic',
      billing_cycle: 'monthly',
      payment_method: 'sandbox_success',
    });
    // No billing run since the January period ended: the request does the February renewal itself.
    t.clock.set('2026-02-15T00:00:00Z');
    const upgraded = expectSubscription(await changePlan(tenantId, { plan_id: 'enterprise' }));
    expect(upgraded).toMatchObject({
      status: 'active',
      plan_id: 'enterprise',
      current_period_start: '2026-02-01T00:00:00Z',
      current_period_end: '2026-03-01T00:00:00Z',
    });
    // (199 − 49) × 14 of 28 days = 75 net, 4.50 tax.
    const records = await recordsOf(t, tenantId);
    expect(records.map((record) => [record.type, record.amount, record.tax_amount, record.status])).toEqual([
      ['proration', 75, 4.5, 'paid'],
      ['subscription', 49, 2.94, 'paid'],
      ['subscription', 49, 2.94, 'paid'],
    ]);
    // A billing run afterwards finds February already billed: two periods, not three.
    expect((await billingRun()).statusCode).toBe(200);
    const periods = await t.database.db
      .selectFrom('subscription_periods')
      .select('period_start')
      .where('tenant_id', '=', tenantId)
      .orderBy('period_start')
      .execute();
    expect(periods.map((period) => period.period_start)).toEqual([new Date(testStart), new Date(periodEnd)]);
  });

  it('lets a tenant subscribe again once a subscription canceled at its period end is over', async () => {
    const tenantId = await givenFreshTenant('lagging_cancel');
    await givenSubscription(tenantId, {
      plan_id: 'basic',
      billing_cycle: 'monthly',
      payment_method: 'sandbox_success',
    });
    expectSubscription(await cancel(tenantId));
    t.clock.set('2026-02-10T00:00:00Z');
    const again = await givenSubscription(tenantId, {
      plan_id: 'enterprise',
      billing_cycle: 'monthly',
      payment_method: 'sandbox_success',
    });
    expect(again).toMatchObject({
      status: 'active',
      plan_id: 'enterprise',
      current_period_start: '2026-02-10T00:00:00Z',
    });
    expect(await subscriptionCount(tenantId)).toBe(2);
    const statuses = await t.database.db
      .selectFrom('subscriptions')
      .select(['status', 'ended_at'])
      .where('tenant_id', '=', tenantId)
      .orderBy('created_at')
      .execute();
    expect(statuses).toEqual([
      { status: 'canceled', ended_at: new Date(periodEnd) },
      { status: 'active', ended_at: null },
    ]);
  });
});

describe('PATCH /billing/subscriptions/{tenant_id}', () => {
  it('turns renewal off and changes the payment method, without an Idempotency-Key', async () => {
    const tenantId = await givenFreshTenant('patch');
    await givenTrial(tenantId);
    t.clock.set('2026-01-03T00:00:00Z');
    const renewalOff = expectSubscription(await patchSettings(tenantId, { auto_renew: false }));
    expect(renewalOff).toMatchObject({
      auto_renew: false,
      payment_method: 'manual',
      updated_at: '2026-01-03T00:00:00Z',
    });
    const bothChanged = expectSubscription(
      await patchSettings(tenantId, { auto_renew: true, payment_method: 'sandbox_decline' }),
    );
    expect(bothChanged).toMatchObject({ auto_renew: true, payment_method: 'sandbox_decline', status: 'trialing' });
    expect(expectSubscription(await getSubscription(tenantId))).toEqual(bothChanged);
  });

  describe('with a malformed body', () => {
    let tenantId: string;
    let before: SubscriptionView;
    beforeAll(async () => {
      tenantId = await givenFreshTenant('patch_bad');
      before = await givenTrial(tenantId);
    });

    it('answers 400 to an empty body and changes nothing', async () => {
      expectError(await patchSettings(tenantId, {}), 400, 'validation_error');
      expect(expectSubscription(await getSubscription(tenantId))).toEqual(before);
    });

    it.each([
      ['plan_id', 'an unknown field', { plan_id: 'enterprise' }],
      ['payment_method', 'an unknown payment_method', { payment_method: 'card' }],
      ['auto_renew', 'a string for auto_renew', { auto_renew: 'false' }],
    ])('answers 400 naming %s for %s and changes nothing', async (parameter, _label, payload) => {
      expectInvalid(await patchSettings(tenantId, payload), parameter);
      expect(expectSubscription(await getSubscription(tenantId))).toEqual(before);
    });
  });

  it('answers 404 when the tenant has no live subscription', async () => {
    const tenantId = await givenFreshTenant('patch_none');
    expectError(await patchSettings(tenantId, { auto_renew: false }), 404, 'not_found');
  });
});

describe('access to subscription routes', () => {
  const tenantA = 'tnt_sub_sec_a';
  const tenantB = 'tnt_sub_sec_b';
  const missingTenant = 'tnt_sub_sec_missing';

  /** Every subscription route with a body it would accept. */
  const routes = [
    { method: 'GET', action: '', payload: undefined },
    { method: 'GET', action: '/upcoming-invoice', payload: undefined },
    { method: 'POST', action: '', payload: { plan_id: 'basic', billing_cycle: 'monthly' } },
    { method: 'POST', action: '/change-plan', payload: { plan_id: 'enterprise' } },
    // A preview, but of a change: viewers may not make it, so they may not preview it either.
    { method: 'POST', action: '/change-plan/preview', payload: { plan_id: 'enterprise' } },
    { method: 'POST', action: '/cancel', payload: { at_period_end: false } },
    { method: 'POST', action: '/resume', payload: {} },
    { method: 'PATCH', action: '', payload: { auto_renew: false } },
  ] as const;
  const writeRoutes = routes.filter((route) => route.method !== 'GET');
  const readRoutes = routes.filter((route) => route.method === 'GET');

  const send = (tenantId: string, route: (typeof routes)[number], headers: Headers) =>
    t.app.inject({
      method: route.method,
      url: subscriptionUrl(tenantId, route.action),
      headers: { ...headers, ...(route.method === 'POST' ? { 'idempotency-key': freshKey() } : {}) },
      ...(route.payload === undefined ? {} : { payload: route.payload }),
    });

  let subscriptionOfB: SubscriptionView;
  beforeAll(async () => {
    await givenTenant(t, tenantA);
    await givenTenant(t, tenantB);
    t.clock.set(testStart);
    subscriptionOfB = expectSubscription(
      await subscribe(tenantB, { plan_id: 'pro', billing_cycle: 'monthly' }, { headers: await t.as.platformAdmin() }),
      201,
    );
  });

  const expectBUntouched = async () => {
    expect(expectSubscription(await getSubscription(tenantB, await t.as.platformAdmin()))).toEqual(subscriptionOfB);
    expect(await subscriptionCount(tenantB)).toBe(1);
  };

  it("refuses a tenant admin on another tenant's routes with the same 403 whether or not that tenant exists", async () => {
    const adminOfA = await t.as.tenant(tenantA);
    for (const route of routes) {
      const label = `${route.method} ${route.action || '/'}`;
      const otherTenant = await send(tenantB, route, adminOfA);
      const nonexistent = await send(missingTenant, route, adminOfA);
      expect(otherTenant.statusCode, label).toBe(403);
      expectError(otherTenant, 403, 'forbidden');
      expectError(nonexistent, 403, 'forbidden');
      expect(comparable(otherTenant.body), label).toEqual(comparable(nonexistent.body));
    }
    await expectBUntouched();
  });

  it('refuses writes by a tenant viewer of the tenant with 403', async () => {
    const viewerOfB = await t.as.tenant(tenantB, 'tenant_viewer');
    for (const route of writeRoutes) {
      const response = await send(tenantB, route, viewerOfB);
      expect(response.statusCode, `${route.method} ${route.action || '/'}`).toBe(403);
      expectError(response, 403, 'forbidden');
    }
    await expectBUntouched();
  });

  it('lets a tenant viewer of the tenant read', async () => {
    const viewerOfB = await t.as.tenant(tenantB, 'tenant_viewer');
    for (const route of readRoutes) {
      const response = await send(tenantB, route, viewerOfB);
      expect(response.statusCode, `${route.method} ${route.action || '/'}: ${response.body}`).toBe(200);
    }
    await expectBUntouched();
  });

  it('refuses a request without a token, or with a bad one, with 401', async () => {
    for (const headers of [{}, { authorization: 'Bearer not-a-jwt' }, { authorization: 'Basic dXNlcjpwYXNz' }]) {
      for (const route of routes) {
        const response = await send(tenantB, route, headers);
        expect(response.statusCode, `${route.method} ${route.action || '/'}`).toBe(401);
        expectError(response, 401, 'unauthorized');
        expect(response.headers['www-authenticate']).toMatch(/^Bearer/);
      }
    }
    await expectBUntouched();
  });

  it('lets a platform admin act on any tenant, and answers 404 for a tenant that does not exist', async () => {
    const tenantId = await givenFreshTenant('platform');
    const platformAdmin = await t.as.platformAdmin();
    const headers = { headers: platformAdmin };
    const subscribed = expectSubscription(
      await subscribe(tenantId, { plan_id: 'pro', billing_cycle: 'monthly' }, headers),
      201,
    );
    // The subscriber is the tenant's admin, whoever made the call.
    expect(subscribed).toMatchObject({ status: 'trialing', admin_user_id: `usr_admin_of_${tenantId}` });
    expect(expectSubscription(await changePlan(tenantId, { plan_id: 'enterprise' }, headers)).plan_id).toBe(
      'enterprise',
    );
    expect(expectSubscription(await cancel(tenantId, {}, headers)).cancel_at_period_end).toBe(true);
    expect(expectSubscription(await resume(tenantId, {}, headers)).cancel_at_period_end).toBe(false);
    expect(expectSubscription(await patchSettings(tenantId, { auto_renew: false }, platformAdmin)).auto_renew).toBe(
      false,
    );
    expect(expectSubscription(await getSubscription(tenantId, platformAdmin))).toMatchObject({
      plan_id: 'enterprise',
      auto_renew: false,
    });

    for (const route of routes) {
      const response = await send(missingTenant, route, platformAdmin);
      expectError(response, 404, 'not_found');
    }
  });
});

describe('POST /admin/billing-run', () => {
  it('refuses an as_of in the future with a 400 naming as_of', async () => {
    expectInvalid(await billingRun({ as_of: '2026-01-01T00:00:01Z' }), 'as_of');
  });

  it.each([
    ['text that is no time', 'yesterday'],
    ['a month that does not exist', '2026-13-01T00:00:00Z'],
    ['a date without a time', '2026-01-01'],
    ['a number', 1767225600],
  ])('refuses %s as as_of with a 400 naming as_of', async (_label, asOf) => {
    expectInvalid(await billingRun({ as_of: asOf }), 'as_of');
  });

  it('refuses an unknown field with a 400 naming it', async () => {
    expectInvalid(await billingRun({ tenant_id: 'tnt_sub_paid' }), 'tenant_id');
  });

  it('is for platform admins: a tenant token gets 403, no token 401', async () => {
    expectError(await billingRun({}, await t.as.tenant('tnt_sub_paid')), 403, 'forbidden');
    expectError(await billingRun({}, await t.as.tenant('tnt_sub_paid', 'tenant_viewer')), 403, 'forbidden');
    expectError(await billingRun({}, await t.as.service()), 403, 'forbidden');
    expectError(await billingRun({}, {}), 401, 'unauthorized');
  });

  // Last in the file: a run advances every tenant's subscriptions that are due.
  it('ends a trial due as of the run, and a second run as of the same time finds nothing to do', async () => {
    const tenantId = await givenFreshTenant('run_trial');
    await givenSubscription(tenantId, { plan_id: 'pro', billing_cycle: 'monthly', payment_method: 'sandbox_success' });
    t.clock.set('2026-01-20T00:00:00Z');

    const run = await billingRun({ as_of: trialEnd });
    expect(run.statusCode, run.body).toBe(200);
    const summary = run.json<{ data: { as_of: string; subscriptions: number; steps: Record<string, number> } }>().data;
    expect(summary).toMatchObject({ as_of: trialEnd, failures: [] });
    expect(summary.subscriptions).toBeGreaterThanOrEqual(1);
    expect(summary.steps.trial_end).toBeGreaterThanOrEqual(1);
    expect(expectSubscription(await getSubscription(tenantId))).toMatchObject({
      status: 'active',
      current_period_start: trialEnd,
      current_period_end: '2026-02-15T00:00:00Z',
      open_record_id: null,
    });
    expect((await recordsOf(t, tenantId)).map((record) => [record.type, record.status, record.amount])).toEqual([
      ['subscription', 'paid', 99],
    ]);

    const again = await billingRun({ as_of: trialEnd });
    expect(again.json()).toMatchObject({
      data: {
        as_of: trialEnd,
        subscriptions: 0,
        steps: { usage_close: 0, trial_end: 0, period_end: 0, payment_retry: 0, grace_expiry: 0 },
      },
    });
  });
});
