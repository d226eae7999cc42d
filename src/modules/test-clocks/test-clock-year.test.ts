import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runScheduledWork } from '../../jobs/scheduler.js';
import { createTransports } from '../notifications/transports.js';
import { dumpDatabase, labelGeneratedIds, type DatabaseDump } from '../../testing/database-dump.js';
import {
  advanceTestClock,
  givenAlert,
  givenApp,
  givenCredit,
  givenPlan,
  givenSubscription,
  givenTenant,
  givenTestClock,
  ingestEvents,
} from '../../testing/fixtures.js';
import { createTestApp, type TestApp } from '../../testing/test-app.js';

/*
 * A year on a test clock against the same year on real time. Two tenants play one scenario: a
 * monthly plan with a trial, usage over the included units in two periods, a usage alert and
 * credit. The real-time tenant is driven by the scheduler's own work, one tick at every midnight
 * (UTC) as the wall clock passes; the other lives on a test clock that is advanced to the same
 * instants. Afterwards each tenant's rows, its id renamed to the other's and generated ids
 * labelled (src/testing/database-dump.ts), must be the same: every renewal, invoice, number,
 * amount, date, ledger posting, settlement day and event. Along the way, the scheduler's ticks
 * must leave the clock's tenant alone and the clock's advances the real-time tenant.
 */

const dayMs = 86_400_000;
const start = '2025-03-10T09:30:00Z';
const onClock = { tenant: 'tnt_on_clock', app: 'app_on_clock' };
const onRealTime = { tenant: 'tnt_real_time', app: 'app_real_time' };

let t: TestApp;
let clockId: string;

const work = () => ({
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

/** Every row of `tenantId` (its own tenant row aside), or every row of anyone else (`others`). */
const rowsOf = (dump: DatabaseDump, tenantId: string, which: 'own' | 'others'): DatabaseDump =>
  Object.fromEntries(
    Object.entries(dump)
      .filter(([table]) => table !== 'test_clocks')
      .map(([table, rows]) => [
        table,
        rows.filter(
          (row) => ((row.tenant_id ?? (table === 'tenants' ? row.id : null)) === tenantId) === (which === 'own'),
        ),
      ]),
  );

/** The tenant's rows as the other tenant's would be: its ids renamed, generated ids labelled. */
const comparableRowsOf = (dump: DatabaseDump, from: typeof onClock): DatabaseDump => {
  const own = rowsOf(dump, from.tenant, 'own');
  // The tenant row (its clock, its name) and the stored idempotent responses (each request's key) differ by design.
  delete own.tenants;
  delete own.idempotency_keys;
  // A usage event's fingerprint hashes its tenant id with the rest.
  own.usage_events = (own.usage_events ?? []).map(({ fingerprint: _fingerprint, ...row }) => row);
  const renamed = JSON.parse(
    JSON.stringify(own).replaceAll(from.tenant, onRealTime.tenant).replaceAll(from.app, onRealTime.app),
  ) as DatabaseDump;
  return labelGeneratedIds(renamed, ['subscriptions', 'billing_records', 'ledger_transactions']);
};

/** The same usage for both tenants, under the same event ids, at `at`. */
const ingestBoth = async (at: string, quantity: number, eventId: string) => {
  const result = await ingestEvents(
    t,
    [onClock, onRealTime].map(({ tenant, app }) => ({
      event_id: eventId,
      tenant_id: tenant,
      app_id: app,
      resource_type: 'api_calls',
      quantity,
      timestamp: at,
    })),
  );
  expect(result.accepted, JSON.stringify(result)).toBe(2);
};

/**
 * Time passes to `to` for both tenants: the scheduler ticks at every midnight (UTC) on the way
 * and at `to`, for the real-time tenant; then the clock is advanced to `to`. Neither may touch
 * the other tenant's rows.
 */
const passTime = async (to: string): Promise<void> => {
  const clockTenantBefore = rowsOf(await dumpDatabase(t.database.db), onClock.tenant, 'own');
  const end = new Date(to).getTime();
  for (let at = Math.floor(t.clock.now().getTime() / dayMs + 1) * dayMs; at < end; at += dayMs) {
    t.clock.set(new Date(at));
    await runScheduledWork(work());
  }
  t.clock.set(to);
  await runScheduledWork(work());
  const afterTicks = await dumpDatabase(t.database.db);
  expect(rowsOf(afterTicks, onClock.tenant, 'own'), 'the scheduler touched the test clock tenant').toEqual(
    clockTenantBefore,
  );
  const started = performance.now();
  const advanced = await advanceTestClock(t, clockId, to);
  console.log(`advance to ${to}: ${advanced.steps} steps in ${((performance.now() - started) / 1000).toFixed(2)} s`);
  expect(advanced.failures).toEqual([]);
  expect(advanced.test_clock).toMatchObject({ frozen_time: to, status: 'ready', advancing_to: null });
  expect(rowsOf(await dumpDatabase(t.database.db), onClock.tenant, 'others'), 'the advance touched others').toEqual(
    rowsOf(afterTicks, onClock.tenant, 'others'),
  );
};

beforeAll(async () => {
  t = await createTestApp();
  t.clock.set(start);
  clockId = (await givenTestClock(t, start, 'a year')).id;
  await givenPlan(t, 'metered', {
    monthly_price: 99,
    trial_days: 14,
    resources: [{ resource_type: 'api_calls', included_units: 1000, overage_unit_price: '0.01' }],
  });
  for (const { tenant, app } of [onClock, onRealTime]) {
    await givenTenant(t, tenant, {
      time_zone: 'UTC',
      ...(tenant === onClock.tenant ? { test_clock_id: clockId } : {}),
    });
    await givenApp(t, tenant, app);
    await givenCredit(t, tenant, { amount: 150 });
    await givenSubscription(t, tenant, { plan_id: 'metered', payment_method: 'sandbox_success' });
    await givenAlert(t, tenant);
  }
});
afterAll(() => t.close());

describe('a year on a test clock', () => {
  it('bills, settles and alerts exactly as the same year on real time, each touching only its own tenant', async () => {
    await passTime('2025-03-11T09:30:00Z');
    await ingestBoth('2025-03-11T08:00:00Z', 1500, 'evt_trial_usage');
    await passTime('2025-05-20T12:00:00Z');
    await ingestBoth('2025-05-20T10:00:00Z', 3000, 'evt_may_usage');
    await passTime('2026-03-10T09:30:00Z');

    const dump = await dumpDatabase(t.database.db);
    const realTime = comparableRowsOf(dump, onRealTime);
    // The year did happen: the trial's end, a renewal every month, overage invoiced, an alert, a settled day each day.
    const eventTypes = (realTime.events ?? []).map((row) => row.type);
    expect(eventTypes).toEqual(
      expect.arrayContaining([
        'subscription.trial_ended',
        'subscription.renewed',
        'billing_record.finalized',
        'billing_record.paid',
        'usage_alert.triggered',
      ]),
    );
    expect(eventTypes.filter((type) => type === 'subscription.renewed').length).toBeGreaterThanOrEqual(11);
    expect((realTime.metered_billings ?? []).filter((row) => row.overage_amount !== '0').length).toBeGreaterThan(0);
    expect(realTime.payg_settlements?.length).toBeGreaterThanOrEqual(365);
    expect(realTime.billing_records?.length).toBeGreaterThanOrEqual(13);

    const onTheClock = comparableRowsOf(dump, onClock);
    for (const table of Object.keys(realTime)) expect(onTheClock[table], table).toEqual(realTime[table]);
    // Events in the same order, at the same instants.
    expect((onTheClock.events ?? []).map((row) => [row.type, row.created_at])).toEqual(
      (realTime.events ?? []).map((row) => [row.type, row.created_at]),
    );
  }, 600_000);
});
