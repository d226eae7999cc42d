import type { LightMyRequestResponse } from 'fastify';
import { sql } from 'kysely';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { eventsOf, eventTypesOf, onlyEvent } from '../../testing/billing-events.js';
import { givenTenant } from '../../testing/fixtures.js';
import { createTestApp, testStart, type TestApp } from '../../testing/test-app.js';
import { runBilling } from '../billing-run/billing-run.js';

let t: TestApp;
let keySeq = 0;
let tenantSeq = 0;

beforeAll(async () => {
  t = await createTestApp();
  const headers = await t.as.platformAdmin();
  for (const plan of [
    { plan_id: 'basic', name: 'Basic', currency: 'CNY', monthly_price: 49, yearly_price: 490 },
    { plan_id: 'pro', name: 'Pro', currency: 'CNY', monthly_price: 99, yearly_price: 990, trial_days: 14 },
  ]) {
    const created = await t.app.inject({ method: 'POST', url: '/admin/plans', headers, payload: plan });
    expect(created.statusCode, created.body).toBe(201);
  }
});
afterAll(() => t.close());
beforeEach(() => t.clock.set(testStart));

const givenFreshTenant = async (): Promise<string> => {
  const tenantId = `tnt_sub_events_${++tenantSeq}`;
  await givenTenant(t, tenantId, { time_zone: 'UTC' });
  return tenantId;
};

const post = async (url: string, payload?: Record<string, unknown>, headers?: Record<string, string>) =>
  t.app.inject({
    method: 'POST',
    url,
    headers: { ...(headers ?? (await t.as.platformAdmin())), 'idempotency-key': `sub-events-${++keySeq}` },
    ...(payload === undefined ? {} : { payload }),
  });

const subscriptionAction = (tenantId: string, action: string, payload?: Record<string, unknown>) =>
  post(`/billing/subscriptions/${tenantId}${action}`, payload);

const expectOk = (response: LightMyRequestResponse, status = 200): Record<string, unknown> => {
  expect(response.statusCode, response.body).toBe(status);
  return response.json<{ data: Record<string, unknown> }>().data;
};

const subscriptionNow = async (tenantId: string) =>
  expectOk(await t.app.inject({ url: `/billing/subscriptions/${tenantId}`, headers: await t.as.tenant(tenantId) }));

const recordNow = async (tenantId: string, recordId: string) => {
  const detail = expectOk(
    await t.app.inject({ url: `/billing/records/${tenantId}/${recordId}`, headers: await t.as.tenant(tenantId) }),
  );
  // The record's view without the detail's own fields (history, finalisation time, amount paid).
  const { status_history: _history, finalized_at: _finalized, amount_paid: _paid, ...view } = detail;
  return view;
};

const runAt = async (instant: string) => {
  t.clock.set(instant);
  const run = await runBilling(t.database.db, t.clock.now());
  expect(run.failures).toEqual([]);
};

describe('subscription events on the request path', () => {
  it('subscribe (trial), settings, cancel at period end, resume, change plan, cancel now: one event each, data as the API answered', async () => {
    const tenantId = await givenFreshTenant();
    const created = expectOk(await subscriptionAction(tenantId, '', { plan_id: 'pro', billing_cycle: 'monthly' }), 201);
    expect(created.status).toBe('trialing');
    expect((await onlyEvent(t, tenantId, 'subscription.created')).data).toEqual(created);

    const steps: [string, string, Record<string, unknown> | undefined, string][] = [
      ['PATCH', '', { auto_renew: false }, 'subscription.updated'],
      ['POST', '/cancel', { at_period_end: true }, 'subscription.cancel_scheduled'],
      ['POST', '/resume', undefined, 'subscription.resumed'],
      ['POST', '/change-plan', { plan_id: 'basic' }, 'subscription.plan_changed'],
      ['POST', '/cancel', { at_period_end: false }, 'subscription.canceled'],
    ];
    for (const [method, action, payload, type] of steps) {
      t.clock.advance(60_000);
      const response =
        method === 'PATCH'
          ? await t.app.inject({
              method: 'PATCH',
              url: `/billing/subscriptions/${tenantId}`,
              headers: await t.as.tenant(tenantId),
              ...(payload === undefined ? {} : { payload }),
            })
          : await subscriptionAction(tenantId, action, payload);
      const answered = expectOk(response);
      const event = await onlyEvent(t, tenantId, type);
      expect(event.data, type).toEqual(answered);
      expect(event.created_at).toBe(answered.updated_at);
    }
    expect(await eventTypesOf(t, tenantId)).toEqual(['subscription.created', ...steps.map(([, , , type]) => type)]);
  });

  it('a paid subscription without trial: created with its first invoice finalised and paid', async () => {
    const tenantId = await givenFreshTenant();
    const created = expectOk(
      await subscriptionAction(tenantId, '', {
        plan_id: 'basic',
        billing_cycle: 'monthly',
        payment_method: 'sandbox_success',
      }),
      201,
    );
    expect(await eventTypesOf(t, tenantId)).toEqual([
      'billing_record.finalized',
      'billing_record.paid',
      'subscription.created',
    ]);
    expect((await onlyEvent(t, tenantId, 'subscription.created')).data).toEqual(created);
    const paid = await onlyEvent(t, tenantId, 'billing_record.paid');
    const recordId = paid.data.record_id as string;
    expect(paid.data).toEqual(await recordNow(tenantId, recordId));
    expect((await onlyEvent(t, tenantId, 'billing_record.finalized')).data).toEqual({
      ...paid.data,
      status: 'pending',
    });
  });

  it('refused actions write no event', async () => {
    const tenantId = await givenFreshTenant();
    expectOk(await subscriptionAction(tenantId, '', { plan_id: 'pro', billing_cycle: 'monthly' }), 201);
    const before = await eventsOf(t, tenantId);
    for (const [action, payload, status] of [
      ['', { plan_id: 'pro', billing_cycle: 'monthly' }, 409],
      ['/change-plan', { plan_id: 'nothing' }, 404],
      ['/resume', undefined, 409],
    ] as const) {
      const response = await subscriptionAction(tenantId, action, payload);
      expect(response.statusCode, response.body).toBe(status);
    }
    expect(await eventsOf(t, tenantId)).toEqual(before);
  });
});

describe('subscription events of the billing run', () => {
  it('trial end, renewal, a declined payment (past due), suspension, cancellation, each once with its data', async () => {
    const tenantId = await givenFreshTenant();
    expectOk(
      await subscriptionAction(tenantId, '', {
        plan_id: 'pro',
        billing_cycle: 'monthly',
        payment_method: 'sandbox_success',
      }),
      201,
    );
    await runAt('2026-01-15T00:00:00Z');
    const trialEnded = await onlyEvent(t, tenantId, 'subscription.trial_ended');
    expect(trialEnded.data).toEqual(await subscriptionNow(tenantId));
    expect(trialEnded.created_at).toBe('2026-01-15T00:00:00Z');
    expect(await eventTypesOf(t, tenantId)).toEqual([
      'subscription.created',
      'subscription.trial_will_end',
      'billing_record.finalized',
      'billing_record.paid',
      'subscription.trial_ended',
    ]);

    await runAt('2026-02-15T00:00:00Z');
    expect((await onlyEvent(t, tenantId, 'subscription.renewed')).data).toEqual(await subscriptionNow(tenantId));
    // A second run as of the same instant changes nothing, so tells nothing.
    const afterRenewal = await eventsOf(t, tenantId);
    await runAt('2026-02-15T00:00:00Z');
    expect(await eventsOf(t, tenantId)).toEqual(afterRenewal);

    // The next renewal's payment is declined: the subscription is past due, then suspended, then canceled.
    const settings = await t.app.inject({
      method: 'PATCH',
      url: `/billing/subscriptions/${tenantId}`,
      headers: await t.as.tenant(tenantId),
      payload: { payment_method: 'sandbox_decline' },
    });
    expect(settings.statusCode, settings.body).toBe(200);
    await runAt('2026-03-15T00:00:00Z');
    const pastDue = await onlyEvent(t, tenantId, 'subscription.past_due');
    expect(pastDue.data).toEqual(await subscriptionNow(tenantId));
    expect(pastDue.data.status).toBe('past_due');
    const failed = await onlyEvent(t, tenantId, 'billing_record.payment_failed');
    expect(failed.data).toEqual(await recordNow(tenantId, pastDue.data.open_record_id as string));

    await runAt('2026-04-15T00:00:00Z');
    const suspended = await onlyEvent(t, tenantId, 'subscription.suspended');
    expect(suspended.data.status).toBe('suspended');
    const canceled = await onlyEvent(t, tenantId, 'subscription.canceled');
    expect(canceled.data).toEqual(await subscriptionNow(tenantId));
    expect(canceled.data.status).toBe('canceled');
    // Each retry that failed again is told of too, no more than once per attempt.
    const attempts = await eventsOf(t, tenantId, 'billing_record.payment_failed');
    expect(new Set(attempts.map((event) => event.created_at)).size).toBe(attempts.length);
  });

  it('a past-due subscription whose invoice is paid is payment_recovered, with the record paid', async () => {
    const tenantId = await givenFreshTenant();
    expectOk(
      await subscriptionAction(tenantId, '', {
        plan_id: 'basic',
        billing_cycle: 'monthly',
        payment_method: 'sandbox_decline',
      }),
      201,
    );
    const pastDue = await onlyEvent(t, tenantId, 'subscription.past_due');
    t.clock.set('2026-01-02T12:00:00Z');
    const paid = await post(`/admin/records/${tenantId}/${pastDue.data.open_record_id as string}/mark-paid`);
    expect(paid.statusCode, paid.body).toBe(200);
    const recovered = await onlyEvent(t, tenantId, 'subscription.payment_recovered');
    expect(recovered.data).toEqual(await subscriptionNow(tenantId));
    expect(recovered.data.status).toBe('active');
    const recordPaid = await onlyEvent(t, tenantId, 'billing_record.paid');
    expect(recordPaid.data).toEqual(await recordNow(tenantId, pastDue.data.open_record_id as string));
  });

  it('a subscription not renewed (auto_renew off) expires', async () => {
    const tenantId = await givenFreshTenant();
    expectOk(
      await subscriptionAction(tenantId, '', {
        plan_id: 'basic',
        billing_cycle: 'monthly',
        payment_method: 'sandbox_success',
        auto_renew: false,
      }),
      201,
    );
    await runAt('2026-02-01T00:00:00Z');
    const expired = await onlyEvent(t, tenantId, 'subscription.expired');
    expect(expired.data).toEqual(await subscriptionNow(tenantId));
    expect(expired.data.status).toBe('expired');
  });

  it('a batch that fails writes none of its events; redone one by one, each is written once', async () => {
    const db = t.database.db;
    const tenants = [await givenFreshTenant(), await givenFreshTenant(), await givenFreshTenant()];
    for (const tenantId of tenants) {
      expectOk(
        await subscriptionAction(tenantId, '', {
          plan_id: 'basic',
          billing_cycle: 'monthly',
          payment_method: 'sandbox_success',
        }),
        201,
      );
    }
    const broken = tenants[1]!;
    await sql`create function refuse_renewal_at_commit() returns trigger language plpgsql as $$
              begin raise exception 'renewal of % refused at commit', new.tenant_id; end $$`.execute(db);
    await sql`create constraint trigger refuse_renewal after insert on subscription_events
                deferrable initially deferred for each row
                when (new.tenant_id = ${sql.lit(broken)} and new.kind = 'renewed')
                execute function refuse_renewal_at_commit()`.execute(db);
    const before = await eventsOf(t, broken);
    t.clock.set('2026-02-01T00:00:00Z');
    const run = await runBilling(db, t.clock.now());
    expect(run.failures.map((failure) => failure.tenantId)).toEqual([broken]);
    expect(await eventsOf(t, broken)).toEqual(before);
    for (const tenantId of tenants.filter((id) => id !== broken)) {
      expect((await onlyEvent(t, tenantId, 'subscription.renewed')).data).toEqual(await subscriptionNow(tenantId));
      expect(await eventTypesOf(t, tenantId)).toEqual([
        'billing_record.finalized',
        'billing_record.paid',
        'subscription.created',
        'billing_record.finalized',
        'billing_record.paid',
        'subscription.renewed',
      ]);
    }
    await sql`drop trigger refuse_renewal on subscription_events`.execute(db);
  });
});
