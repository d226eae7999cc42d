import type { Static } from 'typebox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, asPlatformAdmin, asService, asTenantAdmin } from '../../testing/api.js';
import { expectData, expectError } from '../../testing/envelopes.js';
import { givenPlan, givenSubscription, givenTenant } from '../../testing/fixtures.js';
import { createTestApp, type TestApp } from '../../testing/test-app.js';
import { runBilling } from '../billing-run/billing-run.js';
import type { JobListSchema } from './schemas.js';

type JobList = Static<typeof JobListSchema>;

let t: TestApp;
const tenants = ['tnt_jobs_a', 'tnt_jobs_b', 'tnt_jobs_c'];

beforeAll(async () => {
  t = await createTestApp();
  await givenPlan(t, 'monthly99');
  for (const tenantId of tenants) {
    await givenTenant(t, tenantId);
    // Paid by card, so each renews every month.
    await givenSubscription(t, tenantId, { plan_id: 'monthly99', payment_method: 'sandbox_success' });
  }
});
afterAll(() => t.close());

const listJobs = async (): Promise<JobList> => expectData<JobList>(await asPlatformAdmin(t).get('/admin/jobs'));

describe('GET /admin/jobs', () => {
  it('lists a billing run while it is going, with its progress, then as finished', async () => {
    t.clock.set('2026-02-01T00:00:00Z');
    const asOf = t.clock.now();
    let release: () => void = () => undefined;
    const released = new Promise<void>((resolve) => (release = resolve));
    let reachedFirstBatch: () => void = () => undefined;
    const firstBatch = new Promise<void>((resolve) => (reachedFirstBatch = resolve));
    // One subscription per batch; the run waits after the first until the API has been asked.
    const run = t.jobs.track('billing_run', (onProgress) =>
      runBilling(t.database.db, asOf, {
        batchSize: 1,
        onProgress: async (progress) => {
          onProgress(progress);
          if (progress.done === 1) {
            reachedFirstBatch();
            await released;
          }
        },
      }),
    );
    await firstBatch;
    t.clock.advance(2000);
    const during = await listJobs();
    release();
    expect(during.scope).toBe('process');
    expect(during.jobs).toEqual([
      {
        run: 1,
        job: 'billing_run',
        status: 'running',
        started_at: '2026-02-01T00:00:00Z',
        finished_at: null,
        done: 1,
        total: 3,
        total_is_estimate: true,
        rate_per_second: 0.5,
        eta_seconds: 4,
      },
    ]);
    const summary = await run;
    expect(summary.subscriptions).toBe(3);
    const after = await listJobs();
    expect(after.jobs).toEqual([
      expect.objectContaining({
        run: 1,
        status: 'finished',
        finished_at: '2026-02-01T00:00:02Z',
        done: 3,
        total: 3,
        eta_seconds: 0,
      }),
    ]);
  });

  it('lists the admin billing run too, and shows the latest run as gauges', async () => {
    t.clock.set('2026-03-01T00:00:00Z');
    const { subscriptions } = expectData<{ subscriptions: number }>(
      await asPlatformAdmin(t).post('/admin/billing-run', {}),
    );
    expect(subscriptions).toBe(3);
    const { jobs } = await listJobs();
    expect(jobs.map(({ run, status }) => ({ run, status }))).toEqual([
      { run: 2, status: 'finished' },
      { run: 1, status: 'finished' },
    ]);
    expect(jobs[0]).toMatchObject({ job: 'billing_run', done: subscriptions, total: subscriptions });
    const metrics = (await t.app.inject('/metrics')).body;
    expect(metrics).toContain(`billing_job_progress_done{job="billing_run"} ${subscriptions}`);
    expect(metrics).toContain(`billing_job_progress_total{job="billing_run"} ${subscriptions}`);
    expect(metrics).toContain('billing_job_running{job="billing_run"} 0');
  });

  it('answers services, and refuses tenant admins (403) and callers without a token (401)', async () => {
    expectData(await asService(t).get('/admin/jobs'));
    expectError(await asTenantAdmin(t, tenants[0]!).get('/admin/jobs'), 403, 'forbidden');
    expectError(await api(t).as({ headers: {} }).get('/admin/jobs'), 401, 'unauthorized');
  });
});
