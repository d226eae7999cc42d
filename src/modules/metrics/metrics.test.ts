import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, asPlatformAdmin, asTenantAdmin, asTenantViewer } from '../../testing/api.js';
import { expectAllItems, expectData, expectError, expectInvalid } from '../../testing/envelopes.js';
import {
  givenMetric,
  givenPlan,
  givenProduct,
  givenTenantWithApps,
  givenUsage,
  ingestEvents,
  usageEvent,
  type MetricView,
} from '../../testing/fixtures.js';
import { createTestApp, type TestApp } from '../../testing/test-app.js';

let t: TestApp;
const tenantId = 'tnt_metrics';
const appId = 'app_metrics';

beforeAll(async () => {
  t = await createTestApp();
  t.clock.set('2026-03-10T08:00:00Z');
  await givenTenantWithApps(t, tenantId, [appId]);
});
afterAll(() => t.close());

const admin = () => asPlatformAdmin(t);

describe('billable metrics', () => {
  it('lists the built-in metrics, monthly active users among them, fixed and in order of code', async () => {
    const metrics = expectAllItems<MetricView>(await admin().get('/admin/metrics?page_size=100'));
    const builtIn = metrics.filter((metric) => metric.built_in);
    expect(builtIn.map((metric) => [metric.code, metric.aggregation, metric.field])).toEqual([
      ['api_calls', 'sum', null],
      ['api_requests', 'sum', null],
      ['bandwidth_used', 'sum', null],
      ['failed_logins', 'sum', null],
      ['login_attempts', 'sum', null],
      ['mfa_verifications', 'sum', null],
      ['monthly_active_users', 'unique_count', 'user_id'],
      ['storage_used', 'max', null],
      ['user_count', 'latest', null],
    ]);
  });

  it('creates a metric of each aggregation, answered as it reads back', async () => {
    for (const [code, aggregation, field] of [
      ['gpu_seconds', 'sum', undefined],
      ['peak_seats', 'max', undefined],
      ['seats', 'latest', undefined],
      ['exports_run', 'count', undefined],
      ['active_devices', 'unique_count', 'device_id'],
    ] as const) {
      const created = await givenMetric(t, code, aggregation, field);
      expect(created).toMatchObject({
        code,
        aggregation,
        field: field ?? null,
        built_in: false,
        in_use: false,
        created_at: '2026-03-10T08:00:00Z',
      });
      expect(expectData(await admin().get(`/admin/metrics/${code}`))).toEqual(created);
    }
  });

  it('refuses a unique_count without field, and a field on any other aggregation, naming field', async () => {
    expectInvalid(
      await admin().post('/admin/metrics', { code: 'no_field', name: 'n', aggregation: 'unique_count' }),
      'field',
    );
    expectInvalid(
      await admin().post('/admin/metrics', { code: 'sum_field', name: 'n', aggregation: 'sum', field: 'user_id' }),
      'field',
    );
    expectInvalid(await admin().post('/admin/metrics', { code: 'Bad-Code', name: 'n', aggregation: 'sum' }), 'code');
    expectInvalid(
      await admin().post('/admin/metrics', { code: 'ok_code', name: 'n', aggregation: 'median' }),
      'aggregation',
    );
    expectInvalid(
      await admin().post('/admin/metrics', { code: 'ok_code', name: 'n', aggregation: 'unique_count', field: 'a.b' }),
      'field',
    );
    expect((await admin().get('/admin/metrics/no_field')).statusCode).toBe(404);
  });

  it('takes a code once: a metric or a product of that code is a 409, both ways', async () => {
    await givenMetric(t, 'taken_code', 'sum');
    expectError(
      await admin().post('/admin/metrics', { code: 'taken_code', name: 'n', aggregation: 'count' }),
      409,
      'conflict',
    );
    expectError(
      await admin().post('/admin/metrics', { code: 'api_requests', name: 'n', aggregation: 'sum' }),
      409,
      'conflict',
    );
    await givenProduct(t, { billing_key: 'sms_sent', display_name: 'SMS', unit_price: '0.05' });
    expectError(
      await admin().post('/admin/metrics', { code: 'sms_sent', name: 'n', aggregation: 'sum' }),
      409,
      'conflict',
    );
    const product = await admin().post('/admin/payg/products', {
      billing_key: 'taken_code',
      display_name: 'Taken',
      unit_price: '0.1',
    });
    expect(expectError(product, 409, 'conflict').message).toMatch(/taken_code is a billable metric/);
  });

  it('renames a metric at any time, reshapes it only while unused, and deletes it only while unused', async () => {
    await givenMetric(t, 'reshaped', 'sum');
    const renamed = expectData<MetricView>(await admin().patch('/admin/metrics/reshaped', { name: 'Renamed' }));
    expect(renamed).toMatchObject({ name: 'Renamed', aggregation: 'sum' });
    const reshaped = expectData<MetricView>(
      await admin().patch('/admin/metrics/reshaped', { aggregation: 'unique_count', field: 'session_id' }),
    );
    expect(reshaped).toMatchObject({ aggregation: 'unique_count', field: 'session_id', in_use: false });
    expectInvalid(
      await admin().patch('/admin/metrics/reshaped', { aggregation: 'unique_count', field: null }),
      'field',
    );
    // Back to a sum: the field goes with the unique_count.
    expect(
      expectData<MetricView>(await admin().patch('/admin/metrics/reshaped', { aggregation: 'sum' })),
    ).toMatchObject({
      aggregation: 'sum',
      field: null,
    });

    await givenUsage(t, { tenantId, appId, resourceType: 'reshaped', quantity: 3 });
    const used = expectData<MetricView>(await admin().get('/admin/metrics/reshaped'));
    expect(used.in_use).toBe(true);
    expectError(await admin().patch('/admin/metrics/reshaped', { aggregation: 'max' }), 409, 'conflict');
    expectError(await admin().delete('/admin/metrics/reshaped'), 409, 'conflict');
    expect(
      expectData<MetricView>(await admin().patch('/admin/metrics/reshaped', { name: 'Still renamable' })).name,
    ).toBe('Still renamable');

    await givenMetric(t, 'priced_only', 'count');
    await givenPlan(t, 'metric_plan', {
      resources: [{ resource_type: 'priced_only', included_units: 10, overage_unit_price: '1' }],
    });
    expect(expectData<MetricView>(await admin().get('/admin/metrics/priced_only')).in_use).toBe(true);
    expectError(await admin().patch('/admin/metrics/priced_only', { aggregation: 'sum' }), 409, 'conflict');
    expectError(await admin().delete('/admin/metrics/priced_only'), 409, 'conflict');

    await givenMetric(t, 'short_lived', 'max');
    expect(expectData(await admin().delete('/admin/metrics/short_lived'))).toEqual({
      code: 'short_lived',
      deleted: true,
    });
    expectError(await admin().get('/admin/metrics/short_lived'), 404, 'not_found');
    expectError(await admin().delete('/admin/metrics/short_lived'), 404, 'not_found');
  });

  it('counts events of a count metric and adds up a custom sum, shown by code in the usage stats', async () => {
    await givenMetric(t, 'reports_built', 'count');
    await givenMetric(t, 'cpu_ms', 'sum');
    const event = (resourceType: string, quantity: number) =>
      usageEvent({ tenantId, appId, resourceType, quantity, timestamp: t.clock.now().toISOString() });
    const result = await ingestEvents(t, [
      event('reports_built', 1),
      event('reports_built', 1),
      event('reports_built', 5),
      event('cpu_ms', 7),
      event('cpu_ms', 8),
    ]);
    expect(result.results.map((outcome) => outcome.status)).toEqual([
      'accepted',
      'accepted',
      'rejected',
      'accepted',
      'accepted',
    ]);
    expect(result.results[2]?.reason).toBe('quantity must be 1: reports_built counts events');
    const [today] = expectAllItems<{ date: string; metrics: Record<string, number> }>(
      await asTenantViewer(t, tenantId).get(`/billing/usage/${tenantId}/stats?date_from=2026-03-10&date_to=2026-03-10`),
    );
    expect(today?.metrics).toMatchObject({ reports_built: 2, cpu_ms: 15 });
  });

  it('never changes or deletes a built-in metric', async () => {
    expectError(await admin().patch('/admin/metrics/monthly_active_users', { name: 'MAU' }), 409, 'conflict');
    expectError(await admin().delete('/admin/metrics/api_requests'), 409, 'conflict');
  });

  it('refuses a plan or an alert on a code that is no metric, naming the field', async () => {
    expectInvalid(
      await admin().post('/admin/plans', {
        plan_id: 'bad_metric_plan',
        name: 'Bad',
        currency: 'CNY',
        monthly_price: 10,
        resources: [
          { resource_type: 'api_requests', included_units: 1, overage_unit_price: '1' },
          { resource_type: 'cpu_seconds', included_units: 1, overage_unit_price: '1' },
        ],
      }),
      'resources.1.resource_type',
    );
    expectInvalid(
      await asTenantAdmin(t, tenantId).post(`/billing/usage-alerts/${tenantId}`, {
        name: 'x',
        resource_type: 'cpu_seconds',
        threshold_percent: 80,
        notification_channels: 'in_app',
      }),
      'resource_type',
    );
  });

  it('is for platform staff only: a tenant admin is refused, and no token is a 401', async () => {
    expectError(await asTenantAdmin(t, tenantId).get('/admin/metrics'), 403, 'forbidden');
    expectError(
      await asTenantAdmin(t, tenantId).post('/admin/metrics', { code: 'sneaky', name: 'n', aggregation: 'sum' }),
      403,
      'forbidden',
    );
    expectError(await api(t).as({ headers: {} }).get('/admin/metrics'), 401, 'unauthorized');
    expectError(await admin().get('/admin/metrics/sneaky'), 404, 'not_found');
  });
});
