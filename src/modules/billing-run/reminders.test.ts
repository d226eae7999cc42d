import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { asPlatformAdmin, asTenantAdmin, asTenantViewer } from '../../testing/api.js';
import { eventsOf, onlyEvent, type BillingEventView } from '../../testing/billing-events.js';
import { atOnce, openConnections } from '../../testing/concurrency.js';
import { expectData, expectInvalid } from '../../testing/envelopes.js';
import {
  billingRun,
  changeSubscription,
  givenPlan,
  givenRecord,
  givenSubscription,
  givenTenant,
  recordOf,
  recordsOf,
  subscriptionOf,
  updateSubscriptionSettings,
} from '../../testing/fixtures.js';
import { createTestApp, testStart, type TestApp } from '../../testing/test-app.js';
import type { TenantView } from '../../testing/views.js';
import { sendOverdueBatch } from '../billing-records/send-overdue-reminders.js';
import { sendTrialReminderBatch } from '../subscriptions/send-trial-reminders.js';
import { runBilling } from './billing-run.js';

/*
 * The time-driven events: subscription.trial_will_end (three days before a trial ends, at once
 * for a shorter trial) and billing_record.overdue (a finalised record still unpaid after its due
 * date: finalisation + the tenant's payment terms). Both are written once, by the billing run or
 * by a request that catches its tenant up, in the transaction that marks them.
 */

let t: TestApp;
let tenantSeq = 0;

beforeAll(async () => {
  t = await createTestApp();
  await givenPlan(t, 'trial14', { trial_days: 14 });
  await givenPlan(t, 'trial2', { trial_days: 2 });
  await givenPlan(t, 'paid', {});
});
afterAll(() => t.close());
beforeEach(() => t.clock.set(testStart));
// Each test's tenants are billed to the far future after it, so a run's counts in the next are its own.
afterEach(async () => {
  const later = new Date('2028-01-01T00:00:00Z');
  t.clock.set(later);
  await runBilling(t.database.db, later);
});

const givenFreshTenant = async (settings: Record<string, unknown> = {}): Promise<string> => {
  const tenantId = `tnt_reminders_${++tenantSeq}`;
  await givenTenant(t, tenantId, { time_zone: 'UTC', ...settings });
  return tenantId;
};

const runAt = async (instant: string) => {
  t.clock.set(instant);
  const run = await billingRun(t, instant);
  expect(run.failures).toEqual([]);
  return run;
};

const finalizedRecord = (tenantId: string) =>
  givenRecord(t, tenantId, {
    type: 'one_time',
    description: 'Onboarding',
    lines: [{ description: 'Onboarding', resource_type: 'service', quantity: 1, unit_price: 100 }],
    finalize: true,
  });

const recordAction = async (tenantId: string, recordId: string, action: 'mark-paid' | 'mark-failed') =>
  expectData(await asPlatformAdmin(t).post(`/admin/records/${tenantId}/${recordId}/${action}`, {}));

/** What two tenants' events have in common: type, time and data, their own ids aside. */
const comparable = (events: BillingEventView[]) =>
  events.map(({ type, created_at, data }) => ({
    type,
    created_at,
    data: JSON.parse(
      JSON.stringify(data)
        .replace(/(tnt|sub|rec)_[A-Za-z0-9_]+/g, '$1')
        .replace(/INV-\d+-\d+/g, 'INV'),
    ) as unknown,
  }));

describe('subscription.trial_will_end', () => {
  it('is written once, three days before the trial ends, dated then, with the trialing subscription', async () => {
    const tenantId = await givenFreshTenant();
    await givenSubscription(t, tenantId, { plan_id: 'trial14' });
    const early = await runAt('2026-01-11T23:59:59Z');
    expect(early.reminders).toEqual({ trial_will_end: 0, overdue: 0 });
    expect(await eventsOf(t, tenantId, 'subscription.trial_will_end')).toEqual([]);

    const due = await runAt('2026-01-12T08:00:00Z');
    expect(due.reminders.trial_will_end).toBe(1);
    const reminder = await onlyEvent(t, tenantId, 'subscription.trial_will_end');
    expect(reminder.created_at).toBe('2026-01-12T00:00:00Z');
    expect(reminder.data).toEqual(await subscriptionOf(t, tenantId));
    expect(reminder.data).toMatchObject({ status: 'trialing', trial_end_date: '2026-01-15T00:00:00Z' });

    expect((await runAt('2026-01-12T08:00:00Z')).reminders.trial_will_end).toBe(0);
    await runAt('2026-01-16T00:00:00Z');
    await onlyEvent(t, tenantId, 'subscription.trial_will_end');
    await onlyEvent(t, tenantId, 'subscription.trial_ended');
  });

  it('a run that comes after the trial ended tells it first, dated three days before the end', async () => {
    const tenantId = await givenFreshTenant();
    await givenSubscription(t, tenantId, { plan_id: 'trial14', payment_method: 'sandbox_success' });
    await runAt('2026-01-20T00:00:00Z');
    const events = (await eventsOf(t, tenantId, 'subscription.*')).map((event) => [event.type, event.created_at]);
    expect(events).toEqual([
      ['subscription.created', '2026-01-01T00:00:00Z'],
      ['subscription.trial_will_end', '2026-01-12T00:00:00Z'],
      ['subscription.trial_ended', '2026-01-15T00:00:00Z'],
    ]);
  });

  it('is written at once, in the subscribing transaction, for a trial of three days or less', async () => {
    const tenantId = await givenFreshTenant();
    const created = await givenSubscription(t, tenantId, { plan_id: 'trial2' });
    const events = await eventsOf(t, tenantId, 'subscription.*');
    expect(events.map((event) => [event.type, event.created_at])).toEqual([
      ['subscription.created', testStart],
      ['subscription.trial_will_end', testStart],
    ]);
    expect(events[1]?.data).toEqual(created);
    expect((await runAt('2026-01-02T00:00:00Z')).reminders.trial_will_end).toBe(0);
    await onlyEvent(t, tenantId, 'subscription.trial_will_end');
  });

  it('is not written for a trial canceled before its reminder was due', async () => {
    const tenantId = await givenFreshTenant();
    await givenSubscription(t, tenantId, { plan_id: 'trial14' });
    t.clock.set('2026-01-05T00:00:00Z');
    await changeSubscription(t, tenantId, '/cancel', { at_period_end: false });
    expect((await runAt('2026-01-13T00:00:00Z')).reminders.trial_will_end).toBe(0);
    expect(await eventsOf(t, tenantId, 'subscription.trial_will_end')).toEqual([]);
  });

  it('a request that catches the tenant up writes the same event the run writes', async () => {
    const [byRun, byRequest] = [await givenFreshTenant(), await givenFreshTenant()];
    await givenSubscription(t, byRun, { plan_id: 'trial14' });
    await givenSubscription(t, byRequest, { plan_id: 'trial14' });
    t.clock.set('2026-01-13T00:00:00Z');
    await updateSubscriptionSettings(t, byRequest, { auto_renew: true });
    await runBilling(t.database.db, t.clock.now());
    const [run, request] = [await eventsOf(t, byRun), await eventsOf(t, byRequest)];
    expect(comparable(request.filter((event) => event.type !== 'subscription.updated'))).toEqual(comparable(run));
    await onlyEvent(t, byRequest, 'subscription.trial_will_end');
  });
});

describe('due dates and billing_record.overdue', () => {
  it("a record is due its tenant's payment terms after finalisation; a draft has no due date", async () => {
    const tenantId = await givenFreshTenant({ payment_terms_days: 10 });
    const record = await finalizedRecord(tenantId);
    expect(record).toMatchObject({ due_at: '2026-01-11T00:00:00Z', overdue_at: null, status: 'pending' });
    const draft = await givenRecord(t, tenantId, {
      type: 'one_time',
      description: 'Draft',
      lines: [{ description: 'Draft', resource_type: 'service', quantity: 1, unit_price: 5 }],
    });
    expect(draft).toMatchObject({ due_at: null, overdue_at: null, status: 'draft' });
    t.clock.set('2026-01-03T00:00:00Z');
    const finalized = expectData<{ due_at: string }>(
      await asPlatformAdmin(t).post(`/admin/records/${tenantId}/${draft.record_id}/finalize`, {}),
    );
    expect(finalized.due_at).toBe('2026-01-13T00:00:00Z');
    // The finalized event shows the due date too.
    const events = await eventsOf(t, tenantId, 'billing_record.finalized');
    expect(events.map((event) => event.data.due_at)).toEqual(['2026-01-11T00:00:00Z', '2026-01-13T00:00:00Z']);
  });

  it('is written once for a record unpaid after its due date, dated when the run found it, with the record as listed', async () => {
    const tenantId = await givenFreshTenant({ payment_terms_days: 10 });
    const record = await finalizedRecord(tenantId);
    expect((await runAt('2026-01-11T00:00:00Z')).reminders.overdue).toBe(0);
    const found = await runAt('2026-01-11T06:00:00Z');
    expect(found.reminders.overdue).toBe(1);
    const overdue = await onlyEvent(t, tenantId, 'billing_record.overdue');
    expect(overdue.created_at).toBe('2026-01-11T06:00:00Z');
    const [listed] = await recordsOf(t, tenantId);
    expect(overdue.data).toEqual(listed);
    expect(listed).toMatchObject({
      record_id: record.record_id,
      status: 'pending',
      overdue_at: '2026-01-11T06:00:00Z',
    });
    expect((await runAt('2026-01-20T00:00:00Z')).reminders.overdue).toBe(0);
    await onlyEvent(t, tenantId, 'billing_record.overdue');
    // Paid late, it stays marked as having been overdue.
    await recordAction(tenantId, record.record_id, 'mark-paid');
    expect(await recordOf(t, tenantId, record.record_id)).toMatchObject({
      status: 'paid',
      overdue_at: '2026-01-11T06:00:00Z',
    });
  });

  it('is written for a failed record, not for a paid one, a draft, or one paid and refunded', async () => {
    const tenantId = await givenFreshTenant({ payment_terms_days: 1 });
    const failed = await finalizedRecord(tenantId);
    await recordAction(tenantId, failed.record_id, 'mark-failed');
    const paid = await finalizedRecord(tenantId);
    await recordAction(tenantId, paid.record_id, 'mark-paid');
    await givenRecord(t, tenantId, {
      type: 'one_time',
      description: 'Draft',
      lines: [{ description: 'Draft', resource_type: 'service', quantity: 1, unit_price: 5 }],
    });
    expect((await runAt('2026-01-05T00:00:00Z')).reminders.overdue).toBe(1);
    const overdue = await onlyEvent(t, tenantId, 'billing_record.overdue');
    expect(overdue.data).toMatchObject({ record_id: failed.record_id, status: 'failed' });
  });

  it('with the default terms (0, due on receipt) a record is overdue at the first run after it was finalised', async () => {
    const tenantId = await givenFreshTenant();
    const record = await finalizedRecord(tenantId);
    expect(record.due_at).toBe('2026-01-01T00:00:00Z');
    expect((await runAt('2026-01-01T00:00:00Z')).reminders.overdue).toBe(0);
    expect((await runAt('2026-01-01T00:01:00Z')).reminders.overdue).toBe(1);
  });

  it('a request catching a subscription up writes the overdue events the run writes, invoices it issued past due among them', async () => {
    const [byRun, byRequest] = [await givenFreshTenant(), await givenFreshTenant()];
    for (const tenantId of [byRun, byRequest]) {
      await givenSubscription(t, tenantId, { plan_id: 'paid', payment_method: 'sandbox_success' });
      t.clock.set('2026-01-20T00:00:00Z');
      await updateSubscriptionSettings(t, tenantId, { payment_method: 'sandbox_decline' });
      t.clock.set(testStart);
    }
    // Nothing ran since: the renewal of Feb 1 is declined, retried on Feb 2, and overdue by now.
    t.clock.set('2026-02-03T00:00:00Z');
    await updateSubscriptionSettings(t, byRequest, { auto_renew: false });
    const run = await runBilling(t.database.db, t.clock.now());
    expect(run.reminders.overdue).toBe(1);
    const [fromRun, fromRequest] = [await eventsOf(t, byRun), await eventsOf(t, byRequest)];
    const overdue = fromRun.filter((event) => event.type === 'billing_record.overdue');
    expect(overdue.map((event) => [event.created_at, event.data.status, event.data.due_at])).toEqual([
      ['2026-02-03T00:00:00Z', 'failed', '2026-02-01T00:00:00Z'],
    ]);
    const told = (events: BillingEventView[]) =>
      comparable(events.filter((event) => event.type !== 'subscription.updated'));
    expect(told(fromRequest)).toEqual(told(fromRun));
  });
});

describe('reminders under concurrency and rollback', () => {
  it('runs racing as of the same time write each reminder once', async () => {
    const tenantIds = [await givenFreshTenant(), await givenFreshTenant(), await givenFreshTenant()];
    for (const tenantId of tenantIds) {
      await givenSubscription(t, tenantId, { plan_id: 'trial14' });
      for (let index = 0; index < 4; index += 1) await finalizedRecord(tenantId);
    }
    const asOf = new Date('2026-01-13T00:00:00Z');
    t.clock.set(asOf);
    await openConnections(t.database.db, 4);
    const runs = await atOnce(4, () => runBilling(t.database.db, asOf, { batchSize: 2 }));
    const written = runs.reduce(
      (sum, run) => ({
        trial_will_end: sum.trial_will_end + run.reminders.trial_will_end,
        overdue: sum.overdue + run.reminders.overdue,
      }),
      { trial_will_end: 0, overdue: 0 },
    );
    expect(written).toEqual({ trial_will_end: 3, overdue: 12 });
    for (const tenantId of tenantIds) {
      await onlyEvent(t, tenantId, 'subscription.trial_will_end');
      expect(await eventsOf(t, tenantId, 'billing_record.overdue')).toHaveLength(4);
    }
  });

  it('a batch that rolls back leaves no event and no mark', async () => {
    const tenantId = await givenFreshTenant();
    await givenSubscription(t, tenantId, { plan_id: 'trial14' });
    const record = await finalizedRecord(tenantId);
    const asOf = new Date('2026-01-13T00:00:00Z');
    const tenantIds = [tenantId];
    await expect(
      t.database.db.transaction().execute(async (trx) => {
        expect(await sendTrialReminderBatch(trx, { asOf, limit: 10, tenantIds })).toBe(1);
        expect(await sendOverdueBatch(trx, { asOf, limit: 10, tenantIds })).toBe(1);
        throw new Error('rolled back');
      }),
    ).rejects.toThrow('rolled back');
    expect(await eventsOf(t, tenantId, 'subscription.trial_will_end')).toEqual([]);
    expect(await eventsOf(t, tenantId, 'billing_record.overdue')).toEqual([]);
    expect(await recordOf(t, tenantId, record.record_id)).toMatchObject({ overdue_at: null });
    // Not marked: the next run writes them.
    t.clock.set(asOf);
    await runBilling(t.database.db, asOf);
    await onlyEvent(t, tenantId, 'subscription.trial_will_end');
    await onlyEvent(t, tenantId, 'billing_record.overdue');
  });

  it('a subscribe refused after the tenant was caught up writes none of the catch-up', async () => {
    const tenantId = await givenFreshTenant();
    await givenSubscription(t, tenantId, { plan_id: 'trial14' });
    t.clock.set('2026-01-13T00:00:00Z');
    // Refused (a live subscription exists): its transaction, the reminder it wrote included, rolls back.
    const refused = await asTenantAdmin(t, tenantId).post('/billing/subscriptions/' + tenantId, {
      plan_id: 'paid',
      billing_cycle: 'monthly',
    });
    expect(refused.statusCode, refused.body).toBe(409);
    expect(await eventsOf(t, tenantId, 'subscription.trial_will_end')).toEqual([]);
  });
});

describe("a tenant's payment terms", () => {
  it('default to 0, are set at creation and by PATCH, and are refused outside 0–365 naming payment_terms_days', async () => {
    const tenantId = await givenFreshTenant();
    expect(
      expectData<TenantView>(await asTenantViewer(t, tenantId).get(`/billing/tenants/${tenantId}`)).payment_terms_days,
    ).toBe(0);
    const updated = expectData<TenantView>(
      await asPlatformAdmin(t).patch(`/admin/tenants/${tenantId}`, { payment_terms_days: 30 }),
    );
    expect(updated.payment_terms_days).toBe(30);
    expect((await finalizedRecord(tenantId)).due_at).toBe('2026-01-31T00:00:00Z');
    for (const bad of [-1, 366, 1.5, '30']) {
      expectInvalid(
        await asPlatformAdmin(t).patch(`/admin/tenants/${tenantId}`, { payment_terms_days: bad }),
        'payment_terms_days',
      );
    }
    expectInvalid(
      await asPlatformAdmin(t).post('/admin/tenants', {
        name: 'Bad terms',
        admin_user_id: 'usr_bad_terms',
        payment_terms_days: 400,
      }),
      'payment_terms_days',
    );
    expect(
      (await asTenantAdmin(t, tenantId).patch(`/admin/tenants/${tenantId}`, { payment_terms_days: 5 })).statusCode,
    ).toBe(403);
  });
});
