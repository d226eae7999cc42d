import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asPlatformAdmin, asService, asTenantAdmin } from '../../testing/api.js';
import { eventsOf } from '../../testing/billing-events.js';
import { dumpDatabase, type DatabaseDump } from '../../testing/database-dump.js';
import { expectAllItems, expectData, expectError, expectInvalid } from '../../testing/envelopes.js';
import {
  advanceTestClock,
  creditTransactionsOf,
  givenAlert,
  givenApp,
  givenCredit,
  givenPlan,
  givenSubscription,
  givenTenant,
  givenTestClock,
  givenWebhookEndpoint,
  ingestEvents,
  usageEvent,
  webhookEndpointsUrl,
} from '../../testing/fixtures.js';
import { createTestApp, type TestApp } from '../../testing/test-app.js';
import type { TenantView, TestClockView } from '../../testing/views.js';
import { runScheduledWork } from '../../jobs/scheduler.js';
import { createTransports } from '../notifications/transports.js';
import { tenantOwnedTables } from './delete-test-clock.js';
import { claimAdvance, staleAdvanceMs } from './repository.js';

let t: TestApp;
const admin = () => asPlatformAdmin(t);

beforeAll(async () => {
  t = await createTestApp();
  await givenPlan(t, 'basic', { monthly_price: 10, trial_days: 7 });
});
afterAll(() => t.close());

/** A tenant with an app, credit, a subscription, usage and an alert: rows in most tenant tables. */
const givenBusyTenant = async (tenantId: string, settings: Record<string, unknown> = {}) => {
  await givenTenant(t, tenantId, { time_zone: 'UTC', ...settings });
  await givenApp(t, tenantId, `app_${tenantId.slice(4)}`);
  await givenCredit(t, tenantId, { amount: 50 });
  await givenSubscription(t, tenantId, { plan_id: 'basic', payment_method: 'sandbox_success' });
  await givenAlert(t, tenantId, { resource_type: 'api_calls' });
  // A webhook endpoint nothing listens at, pinged: a delivery and its failed attempt in the log.
  const endpoint = await givenWebhookEndpoint(t, tenantId, { url: 'http://127.0.0.1:9/hooks' });
  expectData(await asTenantAdmin(t, tenantId).post(`${webhookEndpointsUrl(tenantId)}/${endpoint.id}/test`));
};

/** Every row not of `tenantId`, test clocks aside. */
const rowsNotOf = (dump: DatabaseDump, tenantIds: string[]): DatabaseDump =>
  Object.fromEntries(
    Object.entries(dump)
      .filter(([table]) => table !== 'test_clocks')
      .map(([table, rows]) => [
        table,
        rows.filter((row) => !tenantIds.includes(row.tenant_id ?? (table === 'tenants' ? (row.id ?? '') : ''))),
      ]),
  );

describe('test clock routes', () => {
  it('creates, gets and lists clocks for a platform admin', async () => {
    const created = await givenTestClock(t, '2025-06-01T12:00:00Z', 'june');
    expect(created).toEqual({
      id: expect.stringMatching(/^clk_[a-z0-9]{16}$/) as string,
      name: 'june',
      frozen_time: '2025-06-01T12:00:00Z',
      status: 'ready',
      advancing_to: null,
      created_at: '2026-01-01T00:00:00Z',
      updated_at: '2026-01-01T00:00:00Z',
    });
    expect(expectData(await admin().get(`/admin/test-clocks/${created.id}`))).toEqual(created);
    const unnamed = await givenTestClock(t, '2024-01-01T00:00:00Z');
    expect(unnamed.name).toBeNull();
    const listed = expectAllItems<TestClockView>(await admin().get('/admin/test-clocks?page_size=100'));
    expect(listed.map((clock) => clock.id)).toEqual(expect.arrayContaining([created.id, unnamed.id]));
  });

  it('refuses bad input, naming it, and answers 404 for an unknown clock', async () => {
    expectInvalid(await admin().post('/admin/test-clocks', { frozen_time: 'yesterday' }), 'frozen_time');
    expectInvalid(await admin().post('/admin/test-clocks', {}), 'frozen_time');
    expectInvalid(await admin().post('/admin/test-clocks', { frozen_time: '2025-01-01T00:00:00Z', name: '' }), 'name');
    expectError(await admin().get('/admin/test-clocks/clk_0000000000000000'), 404, 'not_found');
    expectInvalid(await admin().get('/admin/test-clocks/nope'), 'clock_id', 'path');
    expectError(await admin().delete('/admin/test-clocks/clk_0000000000000000'), 404, 'not_found');
    expectError(
      await admin().post('/admin/test-clocks/clk_0000000000000000/advance', { to: '2026-01-01T00:00:00Z' }),
      404,
      'not_found',
    );
  });

  it('lets no one but a platform admin near a clock', async () => {
    const clock = await givenTestClock(t, '2025-01-01T00:00:00Z');
    await givenTenant(t, 'tnt_outsider');
    for (const caller of [asTenantAdmin(t, 'tnt_outsider'), asService(t)]) {
      expectError(await caller.get('/admin/test-clocks'), 403, 'forbidden');
      expectError(await caller.get(`/admin/test-clocks/${clock.id}`), 403, 'forbidden');
      expectError(await caller.post('/admin/test-clocks', { frozen_time: '2025-01-01T00:00:00Z' }), 403, 'forbidden');
      expectError(
        await caller.post(`/admin/test-clocks/${clock.id}/advance`, { to: '2025-02-01T00:00:00Z' }),
        403,
        'forbidden',
      );
      expectError(await caller.delete(`/admin/test-clocks/${clock.id}`), 403, 'forbidden');
    }
    expect(expectData<TestClockView>(await admin().get(`/admin/test-clocks/${clock.id}`)).frozen_time).toBe(
      '2025-01-01T00:00:00Z',
    );
  });
});

describe('advancing', () => {
  it('goes forward only, at most two years at a time', async () => {
    const clock = await givenTestClock(t, '2025-01-01T00:00:00Z');
    const advance = (to: string) => admin().post(`/admin/test-clocks/${clock.id}/advance`, { to });
    expectInvalid(await advance('2025-01-01T00:00:00Z'), 'to');
    expectInvalid(await advance('2024-12-31T23:59:59Z'), 'to');
    expectInvalid(await advance('2027-01-01T00:00:01Z'), 'to');
    expectInvalid(await advance('soon'), 'to');
    const advanced = await advanceTestClock(t, clock.id, '2027-01-01T00:00:00Z');
    expect(advanced).toMatchObject({
      from: '2025-01-01T00:00:00Z',
      to: '2027-01-01T00:00:00Z',
      test_clock: { frozen_time: '2027-01-01T00:00:00Z', status: 'ready' },
      failures: [],
    });
  });

  it('lets one of two concurrent advances of a clock through; the other is refused', async () => {
    const clock = await givenTestClock(t, '2025-01-01T00:00:00Z');
    await givenBusyTenant('tnt_raced', { test_clock_id: clock.id });
    const [first, second] = await Promise.all(
      [0, 1].map(() => admin().post(`/admin/test-clocks/${clock.id}/advance`, { to: '2025-03-01T00:00:00Z' })),
    );
    // The later one finds the clock claimed (409), or, if the first finished before it read the
    // clock (the embedded database runs one statement at a time), already at its \`to\` (400).
    const statuses = [first?.statusCode, second?.statusCode].sort();
    expect(statuses[0]).toBe(200);
    expect([400, 409]).toContain(statuses[1]);
    const periods = await t.database.db
      .selectFrom('subscription_periods')
      .select('period_start')
      .where('tenant_id', '=', 'tnt_raced')
      .execute();
    // The trial's end and one renewal: each billed once.
    expect(periods).toHaveLength(2);
  });

  it('refuses an advance or a deletion while the clock is claimed by an advance, and takes over a dead one', async () => {
    const clock = await givenTestClock(t, '2025-01-01T00:00:00Z');
    const from = new Date(clock.frozen_time);
    const claimed = await claimAdvance(t.database.db, {
      id: clock.id,
      from,
      to: new Date('2025-02-01T00:00:00Z'),
      at: t.clock.now(),
    });
    expect(claimed).toMatchObject({ status: 'advancing' });
    expect(expectData<TestClockView>(await admin().get(`/admin/test-clocks/${clock.id}`))).toMatchObject({
      status: 'advancing',
      advancing_to: '2025-02-01T00:00:00Z',
    });
    expectError(
      await admin().post(`/admin/test-clocks/${clock.id}/advance`, { to: '2025-01-02T00:00:00Z' }),
      409,
      'conflict',
    );
    expectError(await admin().delete(`/admin/test-clocks/${clock.id}`), 409, 'conflict');
    // An advance that has not moved for ten minutes died with its process: the next one goes on.
    t.clock.advance(staleAdvanceMs + 1000);
    try {
      expect((await advanceTestClock(t, clock.id, '2025-01-02T00:00:00Z')).test_clock.status).toBe('ready');
    } finally {
      t.clock.set('2026-01-01T00:00:00Z');
    }
  });
});

describe('a tenant on a test clock', () => {
  it('is created at the clock time and shows its clock; an unknown clock is refused, named', async () => {
    const clock = await givenTestClock(t, '2025-03-01T08:00:00Z');
    const tenant = await givenTenant(t, 'tnt_clocked_view', { test_clock_id: clock.id });
    expect(tenant).toMatchObject({ test_clock_id: clock.id, created_at: '2025-03-01T08:00:00Z' });
    const read = expectData<TenantView>(
      await asTenantAdmin(t, 'tnt_clocked_view').get('/billing/tenants/tnt_clocked_view'),
    );
    expect(read.test_clock_id).toBe(clock.id);
    const refused = expectError(
      await admin().post('/admin/tenants', {
        tenant_id: 'tnt_unclocked',
        name: 'x',
        admin_user_id: 'usr_x',
        test_clock_id: 'clk_0000000000000000',
      }),
      422,
      'unprocessable',
    );
    expect(refused.error.details).toContainEqual({
      in: 'body',
      parameter: 'test_clock_id',
      reason: 'no such test clock',
    });
    expectInvalid(
      await admin().post('/admin/tenants', { name: 'x', admin_user_id: 'usr_x', test_clock_id: 'tomorrow' }),
      'test_clock_id',
    );
  });

  it('dates what a request does by the clock: subscription, credit, events, the usage window', async () => {
    const clock = await givenTestClock(t, '2025-03-01T08:00:00Z');
    const tenantId = 'tnt_clocked_requests';
    await givenTenant(t, tenantId, { time_zone: 'UTC', test_clock_id: clock.id });
    await givenApp(t, tenantId, 'app_clocked_requests');
    const sub = await givenSubscription(t, tenantId, { plan_id: 'basic' });
    expect(sub).toMatchObject({ current_period_start: '2025-03-01T08:00:00Z', trial_end_date: '2025-03-08T08:00:00Z' });
    await givenCredit(t, tenantId, { amount: 5 });
    expect((await creditTransactionsOf(t, tenantId)).map((row) => row.created_at)).toEqual(['2025-03-01T08:00:00Z']);
    expect(new Set((await eventsOf(t, tenantId)).map((event) => event.created_at))).toEqual(
      new Set(['2025-03-01T08:00:00Z']),
    );
    // The late-event window and the future tolerance are the clock's: real time is far in its future.
    const at = (timestamp: string) =>
      usageEvent({ tenantId, appId: 'app_clocked_requests', resourceType: 'api_calls', quantity: 1, timestamp });
    const result = await ingestEvents(t, [
      at('2025-03-01T07:00:00Z'),
      at(t.clock.now().toISOString()),
      at('2025-02-20T00:00:00Z'),
    ]);
    expect(result.results.map((outcome) => outcome.status)).toEqual(['accepted', 'rejected', 'rejected']);

    // Advanced past the trial, the tenant's requests are dated at the new time.
    await advanceTestClock(t, clock.id, '2025-03-09T00:00:00Z');
    await givenCredit(t, tenantId, { amount: 1 });
    expect((await creditTransactionsOf(t, tenantId))[0]?.created_at).toBe('2025-03-09T00:00:00Z');
  });

  it('is left alone by the scheduler: the real-time billing run, settlement and alerts pass it by', async () => {
    const clock = await givenTestClock(t, '2025-03-01T08:00:00Z');
    await givenBusyTenant('tnt_left_alone', { test_clock_id: clock.id });
    await givenBusyTenant('tnt_scheduled_real');
    const before = await dumpDatabase(t.database.db);
    t.clock.set('2026-03-15T00:00:00Z');
    await runScheduledWork({
      db: t.database.db,
      clock: t.clock,
      transports: createTransports({
        smtpUrl: undefined,
        smtpFrom: 'billing@localhost',
        clock: t.clock,
        composeDocumentEmail: null,
      }),
      log: t.app.log,
    });
    t.clock.set('2026-01-01T00:00:00Z');
    const after = await dumpDatabase(t.database.db);
    const own = (dump: DatabaseDump) =>
      Object.fromEntries(
        Object.entries(dump).map(([table, rows]) => [table, rows.filter((row) => row.tenant_id === 'tnt_left_alone')]),
      );
    expect(own(after)).toEqual(own(before));
    // The scheduler did run: the real-time tenant's trial ended, and its February and March began.
    const periodsOf = (dump: DatabaseDump) =>
      dump.subscription_periods?.filter((row) => row.tenant_id === 'tnt_scheduled_real').length;
    expect(periodsOf(before)).toBe(0);
    expect(periodsOf(after)).toBe(3);
  });
});

describe('deleting a test clock', () => {
  it('deletes the clock and its tenants with every row they own, in one go, and nothing else', async () => {
    const clock = await givenTestClock(t, '2025-03-01T08:00:00Z');
    // Platform-wide: it is sent every tenant's events, the doomed tenants' among them.
    await givenWebhookEndpoint(t, null, { url: 'http://127.0.0.1:9/platform-hooks' });
    await givenBusyTenant('tnt_doomed_a', { test_clock_id: clock.id });
    await givenBusyTenant('tnt_doomed_b', { test_clock_id: clock.id });
    await givenBusyTenant('tnt_survivor');
    await advanceTestClock(t, clock.id, '2025-05-01T00:00:00Z');
    const before = await dumpDatabase(t.database.db);
    // The clock's tenants hold rows in the insert-only tables the deletion has to get past.
    for (const table of [
      'webhook_delivery_attempts',
      'webhook_deliveries',
      'webhook_endpoints',
      'events',
      'ledger_entries',
      'subscription_periods',
      'payg_settlements',
      'billing_record_lines',
    ]) {
      expect(
        before[table]?.some((row) => row.tenant_id === 'tnt_doomed_a'),
        table,
      ).toBe(true);
    }
    const deleted = expectData(await admin().delete(`/admin/test-clocks/${clock.id}`));
    expect(deleted).toEqual({ id: clock.id, deleted: true, deleted_tenants: ['tnt_doomed_a', 'tnt_doomed_b'] });
    const after = await dumpDatabase(t.database.db);
    expect(rowsNotOf(after, [])).toEqual(rowsNotOf(before, ['tnt_doomed_a', 'tnt_doomed_b']));
    expect(after.test_clocks?.map((row) => row.id)).not.toContain(clock.id);
    expectError(await admin().get(`/admin/test-clocks/${clock.id}`), 404, 'not_found');
    expectError(await asTenantAdmin(t, 'tnt_doomed_a').get('/billing/tenants/tnt_doomed_a'), 404, 'not_found');
  });

  it("never lets a real tenant's history be deleted, setting or not, nor a tenant be put on a clock later", async () => {
    const clock = await givenTestClock(t, '2025-03-01T08:00:00Z');
    await givenBusyTenant('tnt_real_history');
    const db = t.database.db;
    const refused = (work: Promise<unknown>) => expect(work).rejects.toThrow(/immutable|fixed at its creation/);
    await refused(
      db.transaction().execute(async (trx) => {
        await sql`select set_config('billing.deleting_test_clock', ${clock.id}, true)`.execute(trx);
        await trx.deleteFrom('events').where('tenant_id', '=', 'tnt_real_history').execute();
      }),
    );
    await refused(
      db
        .updateTable('tenants')
        .set({ test_clock_id: clock.id } as never)
        .where('id', '=', 'tnt_real_history')
        .execute(),
    );
    await refused(db.deleteFrom('ledger_entries').where('tenant_id', '=', 'tnt_real_history').execute());
    expect((await eventsOf(t, 'tnt_real_history')).length).toBeGreaterThan(0);
  });

  it('knows every tenant-owned table of the schema', async () => {
    const { rows } = await sql<{ table_name: string }>`
      select table_name from information_schema.columns
       where table_schema = current_schema() and column_name = 'tenant_id'`.execute(t.database.db);
    expect(rows.map((row) => row.table_name).sort()).toEqual([...tenantOwnedTables].sort());
  });
});
