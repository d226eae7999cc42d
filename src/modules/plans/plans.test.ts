import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toRfc3339 } from '../../core/clock.js';
import { asPlatformAdmin } from '../../testing/api.js';
import { expectError, expectInvalid } from '../../testing/envelopes.js';
import { givenPlan, planBody } from '../../testing/fixtures.js';
import { createTestApp, testStart, type TestApp } from '../../testing/test-app.js';
import type { PlanView } from '../../testing/views.js';

let t: TestApp;

beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t.close());

const dataOf = (response: LightMyRequestResponse): PlanView => response.json<{ data: PlanView }>().data;

/** Platform-admin calls, each with a token minted then: the tests move the clock past a token's lifetime. */
const admin = () => asPlatformAdmin(t);

const post = (url: string, payload: Record<string, unknown>) => admin().post(url, payload);

const createPlan = (payload: Record<string, unknown>) => post('/admin/plans', payload);

const get = (url: string) => admin().get(url);

const patch = (url: string, payload: Record<string, unknown>) => admin().patch(url, payload);

const storedVersion = (planId: string, version: number) =>
  t.database.db
    .selectFrom('plan_versions')
    .selectAll()
    .where('plan_id', '=', planId)
    .where('version', '=', version)
    .executeTakeFirstOrThrow();

describe('POST /admin/plans', () => {
  it('creates a plan with its first version and resources', async () => {
    const response = await createPlan({
      plan_id: 'pro',
      name: 'Pro',
      description: 'For growing teams',
      currency: 'CNY',
      monthly_price: 99,
      yearly_price: 990.5,
      trial_days: 14,
      grace_period_days: 10,
      downgrade_policy: 'immediate',
      resources: [
        { resource_type: 'mfa_verifications', included_units: 1000, overage_unit_price: '0.05' },
        { resource_type: 'api_requests', included_units: 100000, overage_unit_price: '0.0005' },
      ],
    });
    expect(response.statusCode, response.body).toBe(201);
    expect(response.json()).toMatchObject({ code: 201, message: 'ok', timestamp: testStart });
    expect(dataOf(response)).toEqual({
      plan_id: 'pro',
      name: 'Pro',
      description: 'For growing teams',
      status: 'active',
      version: 1,
      currency: 'CNY',
      monthly_price: 99,
      yearly_price: 990.5,
      trial_days: 14,
      grace_period_days: 10,
      downgrade_policy: 'immediate',
      resources: [
        {
          resource_type: 'api_requests',
          charge_model: 'per_unit',
          included_units: 100000,
          overage_unit_price: '0.0005',
        },
        {
          resource_type: 'mfa_verifications',
          charge_model: 'per_unit',
          included_units: 1000,
          overage_unit_price: '0.05',
        },
      ],
      versions: [1],
      created_at: testStart,
      updated_at: testStart,
    });
    const stored = await storedVersion('pro', 1);
    expect(stored).toMatchObject({ monthly_price: 9900n, yearly_price: 99050n, currency: 'CNY' });
  });

  it('applies the defaults: no trial, 7 grace days, downgrade at period end, no resources', async () => {
    const plan = await givenPlan(t, 'defaults', { monthly_price: undefined, yearly_price: 990 });
    expect(plan).toMatchObject({
      description: '',
      monthly_price: null,
      yearly_price: 990,
      trial_days: 0,
      grace_period_days: 7,
      downgrade_policy: 'at_period_end',
      resources: [],
    });
  });

  it('takes a null price as "no price for that cycle", never as 0', async () => {
    const plan = await givenPlan(t, 'yearly-only', { monthly_price: null, yearly_price: 990 });
    expect(plan).toMatchObject({ monthly_price: null, yearly_price: 990 });
    expect(await storedVersion('yearly-only', 1)).toMatchObject({ monthly_price: null, yearly_price: 99000n });
  });

  it('accepts a free plan (price 0)', async () => {
    const plan = await givenPlan(t, 'free', { monthly_price: 0 });
    expect(plan).toMatchObject({ monthly_price: 0, yearly_price: null });
  });

  it('refuses a taken plan id with 409 and leaves the plan as it was', async () => {
    await givenPlan(t, 'dup');
    const response = await createPlan(planBody('dup', { name: 'Other', monthly_price: 1 }));
    expectError(response, 409, 'conflict');
    expect(dataOf(await get('/admin/plans/dup'))).toMatchObject({ name: 'Plan dup', monthly_price: 99, versions: [1] });
  });

  describe('refuses bad input with a 400 naming the parameter', () => {
    const cases: [string, Record<string, unknown>, string][] = [
      ['a plan id with capitals and symbols', { plan_id: 'Pro!' }, 'plan_id'],
      ['a plan id starting with a dash', { plan_id: '-pro' }, 'plan_id'],
      ['an empty name', { name: '' }, 'name'],
      ['a missing currency', { currency: undefined }, 'currency'],
      ['a lower-case currency', { currency: 'cny' }, 'currency'],
      ['an unsupported currency', { currency: 'XYZ' }, 'currency'],
      ['a CNY price with 3 decimals', { monthly_price: 9.999 }, 'monthly_price'],
      ['a negative price', { yearly_price: -1 }, 'yearly_price'],
      ['a price as a string', { monthly_price: 'lots' }, 'monthly_price'],
      ['a price too large for exact minor units', { monthly_price: 90071992547409.92 }, 'monthly_price'],
      ['no price at all', { monthly_price: undefined }, 'monthly_price'],
      ['two null prices', { monthly_price: null, yearly_price: null }, 'monthly_price'],
      ['366 trial days', { trial_days: 366 }, 'trial_days'],
      ['91 grace days', { grace_period_days: 91 }, 'grace_period_days'],
      ['an unknown downgrade policy', { downgrade_policy: 'never' }, 'downgrade_policy'],
      ['an unknown body field', { color: 'blue' }, 'color'],
      [
        'an unknown resource type',
        { resources: [{ resource_type: 'sms', included_units: 1, overage_unit_price: '1' }] },
        'resources.0.resource_type',
      ],
      [
        'a duplicate resource type',
        {
          resources: [
            { resource_type: 'api_calls', included_units: 1, overage_unit_price: '1' },
            { resource_type: 'api_calls', included_units: 2, overage_unit_price: '2' },
          ],
        },
        'resources.1.resource_type',
      ],
      [
        'an overage price in exponent notation',
        { resources: [{ resource_type: 'api_calls', included_units: 1, overage_unit_price: '1e-3' }] },
        'resources.0.overage_unit_price',
      ],
      [
        'a negative overage price',
        { resources: [{ resource_type: 'api_calls', included_units: 1, overage_unit_price: '-1' }] },
        'resources.0.overage_unit_price',
      ],
      [
        'an overage price as a number',
        { resources: [{ resource_type: 'api_calls', included_units: 1, overage_unit_price: 0.5 }] },
        'resources.0.overage_unit_price',
      ],
      [
        'negative included units',
        { resources: [{ resource_type: 'api_calls', included_units: -1, overage_unit_price: '1' }] },
        'resources.0.included_units',
      ],
      [
        'fractional included units',
        { resources: [{ resource_type: 'api_calls', included_units: 1.5, overage_unit_price: '1' }] },
        'resources.0.included_units',
      ],
      [
        'an unknown resource field',
        { resources: [{ resource_type: 'api_calls', included_units: 1, overage_unit_price: '1', tier: 2 }] },
        'resources.0.tier',
      ],
    ];
    it.each(cases)('%s', async (_label, overrides, parameter) => {
      const planId = `bad-${parameter.replaceAll('.', '-').replaceAll('_', '-')}`;
      expectInvalid(await createPlan(planBody(planId, overrides)), parameter);
      // Nothing was written.
      if (parameter !== 'plan_id') expect((await get(`/admin/plans/${planId}`)).statusCode).toBe(404);
    });
  });
});

describe('GET /admin/plans/:plan_id', () => {
  it('returns the plan with its current version', async () => {
    const created = await givenPlan(t, 'basic', {
      resources: [{ resource_type: 'storage_used', included_units: 5, overage_unit_price: '2' }],
    });
    const response = await get('/admin/plans/basic');
    expect(response.statusCode, response.body).toBe(200);
    expect(response.json()).toMatchObject({ code: 200, message: 'ok' });
    expect(dataOf(response)).toEqual(created);
  });

  it('404s an unknown plan and an unknown version', async () => {
    expectError(await get('/admin/plans/nope'), 404, 'not_found');
    await givenPlan(t, 'one-version');
    expectError(await get('/admin/plans/one-version?version=2'), 404, 'not_found');
    expectError(await get('/admin/plans/one-version?version=2147483647'), 404, 'not_found');
  });

  it('400s a bad plan id in the path and a bad version in the query', async () => {
    expectInvalid(await get('/admin/plans/Bad!Id'), 'plan_id', 'path');
    expectInvalid(await get('/admin/plans/basic?version=0'), 'version', 'query');
    expectInvalid(await get('/admin/plans/basic?version=abc'), 'version', 'query');
    expectInvalid(await get('/admin/plans/basic?version=2147483648'), 'version', 'query');
    expectInvalid(await get('/admin/plans/basic?color=blue'), 'color', 'query');
  });
});

describe('POST /admin/plans/:plan_id/versions', () => {
  it('adds a version that becomes current and leaves the old one readable and unchanged', async () => {
    const v1 = await givenPlan(t, 'team', {
      yearly_price: 990,
      trial_days: 7,
      resources: [{ resource_type: 'api_requests', included_units: 1000, overage_unit_price: '0.001' }],
    });
    const storedV1 = await storedVersion('team', 1);
    t.clock.advance(60_000);
    const later = '2026-01-01T00:01:00Z';

    const response = await post('/admin/plans/team/versions', {
      currency: 'USD',
      monthly_price: 19.99,
      grace_period_days: 3,
      resources: [
        { resource_type: 'api_requests', included_units: 2000, overage_unit_price: '0.0008' },
        { resource_type: 'user_count', included_units: 50, overage_unit_price: '0.5' },
      ],
    });
    expect(response.statusCode, response.body).toBe(201);
    expect(response.json()).toMatchObject({ code: 201, timestamp: later });
    const v2 = dataOf(response);
    expect(v2).toEqual({
      plan_id: 'team',
      name: 'Plan team',
      description: '',
      status: 'active',
      version: 2,
      currency: 'USD',
      monthly_price: 19.99,
      yearly_price: null,
      trial_days: 0,
      grace_period_days: 3,
      downgrade_policy: 'at_period_end',
      resources: [
        { resource_type: 'api_requests', charge_model: 'per_unit', included_units: 2000, overage_unit_price: '0.0008' },
        { resource_type: 'user_count', charge_model: 'per_unit', included_units: 50, overage_unit_price: '0.5' },
      ],
      versions: [1, 2],
      created_at: testStart,
      updated_at: later,
    });

    expect(dataOf(await get('/admin/plans/team'))).toEqual(v2);
    const old = await get('/admin/plans/team?version=1');
    expect(old.statusCode, old.body).toBe(200);
    expect(dataOf(old)).toEqual({ ...v1, versions: [1, 2], updated_at: later });
    expect(await storedVersion('team', 1)).toEqual(storedV1);
  });

  it('gives concurrent version creations distinct, consecutive numbers', async () => {
    await givenPlan(t, 'busy');
    const responses = await Promise.all(
      [1, 2, 3, 4, 5].map((price) => post('/admin/plans/busy/versions', { currency: 'CNY', monthly_price: price })),
    );
    for (const response of responses) expect(response.statusCode, response.body).toBe(201);
    const numbers = responses.map((response) => dataOf(response).version).sort((a, b) => a - b);
    expect(numbers).toEqual([2, 3, 4, 5, 6]);
    const current = dataOf(await get('/admin/plans/busy'));
    expect(current).toMatchObject({ version: 6, versions: [1, 2, 3, 4, 5, 6] });
    // Each version holds the price of the request that created it.
    for (const response of responses) {
      const { version, monthly_price } = dataOf(response);
      expect(dataOf(await get(`/admin/plans/busy?version=${version}`)).monthly_price).toBe(monthly_price);
    }
  });

  it('validates like create, 404s an unknown plan, and writes nothing when refused', async () => {
    await givenPlan(t, 'strict');
    expectInvalid(await post('/admin/plans/strict/versions', { currency: 'XYZ', monthly_price: 1 }), 'currency');
    expectInvalid(await post('/admin/plans/strict/versions', { currency: 'CNY' }), 'monthly_price');
    expectInvalid(await post('/admin/plans/strict/versions', { currency: 'JPY', monthly_price: 1.5 }), 'monthly_price');
    expectInvalid(
      await post('/admin/plans/strict/versions', { currency: 'CNY', monthly_price: 1, name: 'Renamed' }),
      'name',
    );
    expectError(await post('/admin/plans/ghost/versions', { currency: 'CNY', monthly_price: 1 }), 404, 'not_found');
    expect(dataOf(await get('/admin/plans/strict'))).toMatchObject({ version: 1, versions: [1], monthly_price: 99 });
  });
});

describe('PATCH /admin/plans/:plan_id', () => {
  it('changes name, description and status, never the prices', async () => {
    await givenPlan(t, 'legacy', { yearly_price: 900 });
    await post('/admin/plans/legacy/versions', { currency: 'CNY', monthly_price: 120 });
    t.clock.advance(1000);
    const response = await patch('/admin/plans/legacy', {
      name: 'Legacy',
      description: 'No longer sold',
      status: 'archived',
    });
    expect(response.statusCode, response.body).toBe(200);
    const plan = dataOf(response);
    expect(plan).toMatchObject({
      name: 'Legacy',
      description: 'No longer sold',
      status: 'archived',
      version: 2,
      monthly_price: 120,
      yearly_price: null,
      versions: [1, 2],
      updated_at: toRfc3339(t.clock.now()),
    });
    expect(plan.updated_at).not.toBe(plan.created_at);
    expect(dataOf(await get('/admin/plans/legacy'))).toEqual(plan);
    // The plan-level fields show on every version; the old version's prices are its own.
    expect(dataOf(await get('/admin/plans/legacy?version=1'))).toMatchObject({
      name: 'Legacy',
      status: 'archived',
      version: 1,
      monthly_price: 99,
      yearly_price: 900,
    });

    const reactivated = await patch('/admin/plans/legacy', { status: 'active' });
    expect(dataOf(reactivated)).toMatchObject({ status: 'active', name: 'Legacy' });
  });

  it('refuses price fields, unknown fields and an empty body with a 400; 404s an unknown plan', async () => {
    await givenPlan(t, 'fixed');
    expectInvalid(await patch('/admin/plans/fixed', { monthly_price: 1 }), 'monthly_price');
    expectInvalid(await patch('/admin/plans/fixed', { name: 'X', currency: 'USD' }), 'currency');
    expectInvalid(await patch('/admin/plans/fixed', { status: 'deleted' }), 'status');
    expectError(await patch('/admin/plans/fixed', {}), 400, 'validation_error');
    expectError(await patch('/admin/plans/ghost', { name: 'Ghost' }), 404, 'not_found');
    expect(dataOf(await get('/admin/plans/fixed'))).toMatchObject({ name: 'Plan fixed', monthly_price: 99 });
  });
});

describe('GET /admin/plans', () => {
  const listAll = async (query: string, pageSize: number): Promise<{ items: PlanView[]; total: number }> => {
    const items: PlanView[] = [];
    let total = 0;
    for (let page = 1; ; page += 1) {
      const response = await get(`/admin/plans?page=${page}&page_size=${pageSize}${query}`);
      expect(response.statusCode, response.body).toBe(200);
      const body = response.json<{
        code: number;
        items: PlanView[];
        total: number;
        pagination: { page: number; page_size: number; total: number; has_next: boolean; has_prev: boolean };
      }>();
      expect(body.code).toBe(200);
      expect(body.pagination).toMatchObject({ page, page_size: pageSize, total: body.total, has_prev: page > 1 });
      expect(body.items.length).toBeLessThanOrEqual(pageSize);
      items.push(...body.items);
      total = body.total;
      if (!body.pagination.has_next) break;
    }
    return { items, total };
  };

  it('lists newest first, ties by id, in pages that neither overlap nor skip', async () => {
    t.clock.advance(3_600_000);
    await givenPlan(t, 'tie-a');
    await givenPlan(t, 'tie-c');
    await givenPlan(t, 'tie-b');
    t.clock.advance(1000);
    await givenPlan(t, 'newest', { currency: 'JPY', monthly_price: 500 });

    const { items, total } = await listAll('', 3);
    expect(items).toHaveLength(total);
    const ids = items.map((item) => item.plan_id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.slice(0, 4)).toEqual(['newest', 'tie-c', 'tie-b', 'tie-a']);
    const keys = items.map((item) => [item.created_at, item.plan_id] as const);
    const sorted = [...keys].sort(([a, x], [b, y]) => (a === b ? (x < y ? 1 : -1) : a < b ? 1 : -1));
    expect(keys).toEqual(sorted);
    // Each item carries its current version, as the single-plan read does.
    expect(items[0]).toEqual(dataOf(await get('/admin/plans/newest')));
    const team = items.find((item) => item.plan_id === 'team');
    expect(team).toMatchObject({ version: 2, currency: 'USD', versions: [1, 2] });
  });

  it('filters by status', async () => {
    await givenPlan(t, 'retired');
    await patch('/admin/plans/retired', { status: 'archived' });
    const archived = await listAll('&status=archived', 100);
    expect(archived.items.map((item) => item.plan_id)).toContain('retired');
    expect(archived.items.every((item) => item.status === 'archived')).toBe(true);
    const active = await listAll('&status=active', 100);
    expect(active.items.every((item) => item.status === 'active')).toBe(true);
    const all = await listAll('', 100);
    expect(all.total).toBe(archived.total + active.total);
  });

  it('has the default page and refuses out-of-range paging and unknown filters', async () => {
    const response = await get('/admin/plans');
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({ pagination: { page: 1, page_size: 20 } });
    expectInvalid(await get('/admin/plans?page=0'), 'page', 'query');
    expectInvalid(await get('/admin/plans?page_size=101'), 'page_size', 'query');
    expectInvalid(await get('/admin/plans?status=deleted'), 'status', 'query');
    const far = await get('/admin/plans?page=1000');
    expect(far.json()).toMatchObject({ items: [], pagination: { page: 1000, has_next: false } });
  });
});

describe('money stays exact', () => {
  it('JPY has no decimals', async () => {
    const plan = await givenPlan(t, 'yen', { currency: 'JPY', monthly_price: 500, yearly_price: 5000 });
    expect(plan).toMatchObject({ monthly_price: 500, yearly_price: 5000 });
    expect(await storedVersion('yen', 1)).toMatchObject({ monthly_price: 500n, yearly_price: 5000n });
    expectInvalid(await createPlan(planBody('yen-bad', { currency: 'JPY', monthly_price: 500.5 })), 'monthly_price');
  });

  it('BHD has three decimals', async () => {
    const plan = await givenPlan(t, 'dinar', { currency: 'BHD', monthly_price: 12.345 });
    expect(plan.monthly_price).toBe(12.345);
    expect(await storedVersion('dinar', 1)).toMatchObject({ monthly_price: 12345n });
    expectInvalid(await createPlan(planBody('dinar-bad', { currency: 'BHD', monthly_price: 1.2345 })), 'monthly_price');
  });

  it('0.29 CNY stays 0.29 (no float rounding on the way in or out)', async () => {
    const plan = await givenPlan(t, 'cheap', { monthly_price: 0.29, yearly_price: 1.1 });
    expect(plan).toMatchObject({ monthly_price: 0.29, yearly_price: 1.1 });
    expect(await storedVersion('cheap', 1)).toMatchObject({ monthly_price: 29n, yearly_price: 110n });
    const read = await get('/admin/plans/cheap');
    expect(read.body).toContain('"monthly_price":0.29');
    expect(read.body).toContain('"yearly_price":1.1');
  });

  it('the largest accepted price round-trips exactly; larger ones, which a JSON number may not hold, are refused', async () => {
    const plan = await givenPlan(t, 'max', { monthly_price: 9999999999999.99, yearly_price: 0.01 });
    expect(plan).toMatchObject({ monthly_price: 9999999999999.99, yearly_price: 0.01 });
    expect(await storedVersion('max', 1)).toMatchObject({ monthly_price: 999999999999999n, yearly_price: 1n });
    expect((await get('/admin/plans/max')).body).toContain('"monthly_price":9999999999999.99');
    const yen = await givenPlan(t, 'max-yen', { currency: 'JPY', monthly_price: 999999999999999 });
    expect(yen.monthly_price).toBe(999999999999999);
    for (const [currency, price] of [
      ['CNY', 10000000000000],
      ['CNY', 90071992547409.91], // arrives as ...409.9: not what the client wrote
      ['JPY', 1000000000000000],
    ] as const) {
      const response = await createPlan(planBody('too-big', { currency, monthly_price: price }));
      expect(expectInvalid(response, 'monthly_price').error.details[0]?.reason).toBe('is too large');
    }
  });

  it('overage unit prices stay the decimal text they were given', async () => {
    const plan = await givenPlan(t, 'overage', {
      resources: [
        { resource_type: 'bandwidth_used', included_units: 0, overage_unit_price: '0.0000000001' },
        { resource_type: 'login_attempts', included_units: 9007199254740991, overage_unit_price: '999999999999.5' },
      ],
    });
    expect(plan.resources).toEqual([
      {
        resource_type: 'bandwidth_used',
        charge_model: 'per_unit',
        included_units: 0,
        overage_unit_price: '0.0000000001',
      },
      {
        resource_type: 'login_attempts',
        charge_model: 'per_unit',
        included_units: 9007199254740991,
        overage_unit_price: '999999999999.5',
      },
    ]);
  });
});

describe('access', () => {
  const routes: { method: 'GET' | 'POST' | 'PATCH'; url: string; payload?: Record<string, unknown> }[] = [
    { method: 'POST', url: '/admin/plans', payload: planBody('sneaky') },
    { method: 'GET', url: '/admin/plans' },
    { method: 'GET', url: '/admin/plans/pro' },
    { method: 'POST', url: '/admin/plans/pro/versions', payload: { currency: 'CNY', monthly_price: 0 } },
    { method: 'PATCH', url: '/admin/plans/pro', payload: { name: 'Hacked' } },
  ];

  it.each(routes)('$method $url needs a token (401)', async (route) => {
    const response = await t.app.inject({ ...route });
    expectError(response, 401, 'unauthorized');
  });

  it.each(routes)('$method $url refuses tenant admins and services (403)', async (route) => {
    for (const headers of [await t.as.tenant('tnt_someone'), await t.as.service()]) {
      const response = await t.app.inject({ ...route, headers });
      expectError(response, 403, 'forbidden');
    }
  });

  it('left everything untouched', async () => {
    expect((await get('/admin/plans/sneaky')).statusCode).toBe(404);
    expect(dataOf(await get('/admin/plans/pro'))).toMatchObject({ name: 'Pro', versions: [1] });
  });
});
