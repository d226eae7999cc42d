import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { givenPlan, givenSubscription, givenTenant } from '../testing/fixtures.js';
import { createTestApp, type TestApp } from '../testing/test-app.js';
import { createTransports } from '../modules/notifications/transports.js';
import { asPlatformAdmin } from '../testing/api.js';
import { expectData } from '../testing/envelopes.js';
import { runScheduledWork, startScheduler } from './scheduler.js';

let t: TestApp;
const tenantId = 'tnt_scheduled';

beforeAll(async () => {
  t = await createTestApp();
  await givenTenant(t, tenantId, { time_zone: 'UTC' });
  await givenPlan(t, 'starter', { name: 'Starter', monthly_price: 10, trial_days: 14 });
  await givenSubscription(t, tenantId, { plan_id: 'starter', payment_method: 'sandbox_success' });
});
afterAll(() => t.close());

const periodCount = async (): Promise<number> =>
  (
    await t.database.db
      .selectFrom('subscription_periods')
      .select('period_start')
      .where('tenant_id', '=', tenantId)
      .execute()
  ).length;

describe('the scheduler', () => {
  it('runs billing as of its clock on every tick, and each period is billed once however many ticks pass', async () => {
    t.clock.set('2026-01-20T00:00:00Z');
    const transports = createTransports({
      smtpUrl: undefined,
      smtpFrom: 'billing@localhost',
      clock: t.clock,
      composeDocumentEmail: null,
    });
    const stop = startScheduler({ db: t.database.db, clock: t.clock, transports, log: t.app.log }, 20);
    try {
      for (let waited = 0; (await periodCount()) === 0 && waited < 5000; waited += 20) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      // Several more ticks at the same clock find nothing more to do.
      await new Promise((resolve) => setTimeout(resolve, 200));
    } finally {
      await stop();
    }
    expect(await periodCount()).toBe(1);
    const sub = await t.database.db
      .selectFrom('subscriptions')
      .select(['status', 'current_period_start', 'current_period_end'])
      .where('tenant_id', '=', tenantId)
      .executeTakeFirstOrThrow();
    expect(sub).toEqual({
      status: 'active',
      current_period_start: new Date('2026-01-15T00:00:00Z'),
      current_period_end: new Date('2026-02-15T00:00:00Z'),
    });
  });

  it('lists its billing run and settlement among the jobs of the process, with their progress', async () => {
    // Settled up to 2026-01-19 by the ticks above: five more days have ended by the 25th.
    t.clock.set('2026-01-25T00:00:00Z');
    const transports = createTransports({
      smtpUrl: undefined,
      smtpFrom: 'billing@localhost',
      clock: t.clock,
      composeDocumentEmail: null,
    });
    await runScheduledWork({ db: t.database.db, clock: t.clock, transports, log: t.app.log, jobs: t.jobs });
    const { jobs } = expectData<{ jobs: Record<string, unknown>[] }>(await asPlatformAdmin(t).get('/admin/jobs'));
    expect(jobs).toEqual([
      expect.objectContaining({ run: 2, job: 'payg_settlement', status: 'finished', done: 5, total: 5 }),
      expect.objectContaining({ run: 1, job: 'billing_run', status: 'finished', done: 0, total: 0 }),
    ]);
  });
});
