import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asPlatformAdmin, asService, asTenantAdmin, asTenantViewer } from '../../testing/api.js';
import { expectData, expectError, expectInvalid } from '../../testing/envelopes.js';
import { givenPlan, planBody } from '../../testing/fixtures.js';
import { createTestApp, type TestApp } from '../../testing/test-app.js';
import type { PlanView } from '../../testing/views.js';

let t: TestApp;

beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t.close());

const graduatedTiers = [
  { up_to: 1000, unit_price: '0' },
  { up_to: 10_000, unit_price: '0.01', flat_fee: '5' },
  { up_to: null, unit_price: '0.005' },
];

const storedResources = (planId: string) =>
  t.database.db
    .selectFrom('plan_version_resources')
    .selectAll()
    .where('plan_id', '=', planId)
    .orderBy('version')
    .orderBy('resource_type')
    .execute();

describe('plans with charge models', () => {
  it('creates a version with each model, showing the fields of its model only', async () => {
    const plan = await givenPlan(t, 'tiered', {
      resources: [
        { resource_type: 'api_requests', charge_model: 'graduated', tiers: graduatedTiers },
        {
          resource_type: 'api_calls',
          charge_model: 'volume',
          tiers: [
            { up_to: 500, unit_price: '0.02' },
            { up_to: null, unit_price: '0.0125', flat_fee: '1.5' },
          ],
        },
        { resource_type: 'mfa_verifications', charge_model: 'package', package_size: 100, package_price: '2.5' },
        {
          resource_type: 'login_attempts',
          charge_model: 'package',
          included_units: 1000,
          package_size: 1000,
          package_price: '0.35',
        },
        { resource_type: 'storage_used', included_units: 5, overage_unit_price: '2' },
      ],
    });
    expect(plan.resources).toEqual([
      {
        resource_type: 'api_calls',
        charge_model: 'volume',
        // The first tier costs something: nothing is free.
        included_units: 0,
        tiers: [
          { up_to: 500, unit_price: '0.02', flat_fee: null },
          { up_to: null, unit_price: '0.0125', flat_fee: '1.5' },
        ],
      },
      {
        resource_type: 'api_requests',
        charge_model: 'graduated',
        // The free first tier's units: what usage alerts measure against.
        included_units: 1000,
        tiers: [
          { up_to: 1000, unit_price: '0', flat_fee: null },
          { up_to: 10_000, unit_price: '0.01', flat_fee: '5' },
          { up_to: null, unit_price: '0.005', flat_fee: null },
        ],
      },
      {
        resource_type: 'login_attempts',
        charge_model: 'package',
        included_units: 1000,
        package_size: 1000,
        package_price: '0.35',
      },
      {
        resource_type: 'mfa_verifications',
        charge_model: 'package',
        included_units: 0,
        package_size: 100,
        package_price: '2.5',
      },
      { resource_type: 'storage_used', charge_model: 'per_unit', included_units: 5, overage_unit_price: '2' },
    ]);
    expect(expectData<PlanView>(await asPlatformAdmin(t).get('/admin/plans/tiered'))).toEqual(plan);
    const stored = await storedResources('tiered');
    expect(stored.find((row) => row.resource_type === 'api_requests')).toMatchObject({
      charge_model: 'graduated',
      included_units: 1000n,
      overage_unit_price: null,
      package_size: null,
      package_price: null,
    });
    expect(stored.find((row) => row.resource_type === 'login_attempts')).toMatchObject({
      package_size: 1000n,
      package_price: '0.35',
      tiers: null,
    });
  });

  it('a new version changes the model; the old version stays as it was', async () => {
    const v1 = await givenPlan(t, 'switch', {
      resources: [{ resource_type: 'api_requests', included_units: 100, overage_unit_price: '0.01' }],
    });
    const v2 = expectData<PlanView>(
      await asPlatformAdmin(t).post('/admin/plans/switch/versions', {
        currency: 'CNY',
        monthly_price: 99,
        resources: [{ resource_type: 'api_requests', charge_model: 'graduated', tiers: graduatedTiers }],
      }),
      201,
    );
    expect(v2).toMatchObject({ version: 2, resources: [{ charge_model: 'graduated', included_units: 1000 }] });
    const old = expectData<PlanView>(await asPlatformAdmin(t).get('/admin/plans/switch?version=1'));
    expect(old.resources).toEqual(v1.resources);
    // Versions are insert-only in the database too, tiers included.
    await expect(
      sql`update plan_version_resources set tiers = '[]'::jsonb where plan_id = 'switch'`.execute(t.database.db),
    ).rejects.toThrow();
  });

  it('the database refuses a model without its fields, or with another model’s', async () => {
    await givenPlan(t, 'raw');
    const row = { plan_id: 'raw', version: 1, resource_type: 'api_calls', included_units: 0n };
    const refused = [
      { ...row, charge_model: 'graduated' as const, overage_unit_price: null },
      { ...row, charge_model: 'per_unit' as const, overage_unit_price: '1', package_size: 10n, package_price: '1' },
      { ...row, charge_model: 'package' as const, overage_unit_price: null, package_size: 10n },
      { ...row, charge_model: 'volume' as const, overage_unit_price: null, tiers: '[]' },
    ];
    for (const values of refused) {
      await expect(t.database.db.insertInto('plan_version_resources').values(values).execute()).rejects.toThrow(
        /check constraint/,
      );
    }
  });

  describe('refuses bad charges with a 400 naming the field, and writes nothing', () => {
    const resource = (fields: Record<string, unknown>) => ({
      resources: [
        { resource_type: 'api_calls', included_units: 1, overage_unit_price: '1' },
        { resource_type: 'api_requests', ...fields },
      ],
    });
    const tiers = (...list: Record<string, unknown>[]) => resource({ charge_model: 'graduated', tiers: list });
    const cases: [string, Record<string, unknown>, string][] = [
      [
        'an unknown charge model',
        resource({ charge_model: 'stairstep', tiers: graduatedTiers }),
        'resources.1.charge_model',
      ],
      ['graduated without tiers', resource({ charge_model: 'graduated' }), 'resources.1.tiers'],
      ['volume with no tiers', resource({ charge_model: 'volume', tiers: [] }), 'resources.1.tiers'],
      [
        'tiers with included units',
        resource({ charge_model: 'volume', tiers: graduatedTiers, included_units: 5 }),
        'resources.1.included_units',
      ],
      [
        'tiers with an overage price',
        resource({ charge_model: 'graduated', tiers: graduatedTiers, overage_unit_price: '1' }),
        'resources.1.overage_unit_price',
      ],
      [
        'per_unit with tiers',
        resource({ included_units: 1, overage_unit_price: '1', tiers: graduatedTiers }),
        'resources.1.tiers',
      ],
      ['per_unit without a price', resource({ included_units: 1 }), 'resources.1.overage_unit_price'],
      ['per_unit without included units', resource({ overage_unit_price: '1' }), 'resources.1.included_units'],
      ['package without a size', resource({ charge_model: 'package', package_price: '1' }), 'resources.1.package_size'],
      ['package without a price', resource({ charge_model: 'package', package_size: 10 }), 'resources.1.package_price'],
      [
        'a package of 0 units',
        resource({ charge_model: 'package', package_size: 0, package_price: '1' }),
        'resources.1.package_size',
      ],
      [
        'a package price with 11 decimals',
        resource({ charge_model: 'package', package_size: 10, package_price: '0.00000000001' }),
        'resources.1.package_price',
      ],
      [
        'package with tiers',
        resource({ charge_model: 'package', package_size: 10, package_price: '1', tiers: graduatedTiers }),
        'resources.1.tiers',
      ],
      [
        'a first tier of 0 units',
        tiers({ up_to: 0, unit_price: '1' }, { up_to: null, unit_price: '1' }),
        'resources.1.tiers.0.up_to',
      ],
      [
        'tiers not ascending',
        tiers(
          { up_to: 10, unit_price: '1' },
          { up_to: 20, unit_price: '1' },
          { up_to: 15, unit_price: '1' },
          { up_to: null, unit_price: '1' },
        ),
        'resources.1.tiers.2.up_to',
      ],
      [
        'two tiers ending at the same unit',
        tiers({ up_to: 10, unit_price: '1' }, { up_to: 10, unit_price: '1' }, { up_to: null, unit_price: '1' }),
        'resources.1.tiers.1.up_to',
      ],
      [
        'an open tier before the last',
        tiers({ up_to: 10, unit_price: '1' }, { up_to: null, unit_price: '1' }, { up_to: null, unit_price: '1' }),
        'resources.1.tiers.1.up_to',
      ],
      [
        'a gap: the last tier bounded',
        tiers({ up_to: 10, unit_price: '1' }, { up_to: 20, unit_price: '1' }),
        'resources.1.tiers.1.up_to',
      ],
      [
        'a fractional bound',
        tiers({ up_to: 10.5, unit_price: '1' }, { up_to: null, unit_price: '1' }),
        'resources.1.tiers.0.up_to',
      ],
      ['a missing bound', tiers({ unit_price: '1' }), 'resources.1.tiers.0.up_to'],
      [
        'a negative unit price',
        tiers({ up_to: 10, unit_price: '1' }, { up_to: null, unit_price: '-1' }),
        'resources.1.tiers.1.unit_price',
      ],
      [
        'a unit price with 11 decimals',
        tiers({ up_to: 10, unit_price: '1' }, { up_to: null, unit_price: '0.00000000001' }),
        'resources.1.tiers.1.unit_price',
      ],
      ['a unit price as a number', tiers({ up_to: null, unit_price: 0.5 }), 'resources.1.tiers.0.unit_price'],
      [
        'a negative flat fee',
        tiers({ up_to: 10, unit_price: '1', flat_fee: '-5' }, { up_to: null, unit_price: '1' }),
        'resources.1.tiers.0.flat_fee',
      ],
      [
        'a flat fee with more decimals than CNY has',
        tiers({ up_to: 10, unit_price: '1' }, { up_to: null, unit_price: '1', flat_fee: '0.005' }),
        'resources.1.tiers.1.flat_fee',
      ],
      ['an unknown tier field', tiers({ up_to: null, unit_price: '1', from: 0 }), 'resources.1.tiers.0.from'],
      [
        '51 tiers',
        tiers(...Array.from({ length: 51 }, (_, i) => ({ up_to: i === 50 ? null : i + 1, unit_price: '1' }))),
        'resources.1.tiers',
      ],
    ];
    it.each(cases)('%s', async (_label, overrides, parameter) => {
      const planId = `bad-${parameter.replaceAll(/[._]/g, '-')}`;
      const error = expectInvalid(
        await asPlatformAdmin(t).post('/admin/plans', planBody(planId, overrides)),
        parameter,
      );
      expect(error.error.details[0]?.reason).toBeTruthy();
      expectError(await asPlatformAdmin(t).get(`/admin/plans/${planId}`), 404, 'not_found');
    });

    it('names the field on a new version too, and leaves the plan at its version', async () => {
      await givenPlan(t, 'keep');
      expectInvalid(
        await asPlatformAdmin(t).post('/admin/plans/keep/versions', {
          currency: 'JPY',
          monthly_price: 100,
          resources: [
            {
              resource_type: 'api_calls',
              charge_model: 'volume',
              // JPY has no minor unit: a flat fee of 0.5 yen cannot be charged.
              tiers: [{ up_to: null, unit_price: '0.5', flat_fee: '0.5' }],
            },
          ],
        }),
        'resources.0.tiers.0.flat_fee',
      );
      expect(expectData<PlanView>(await asPlatformAdmin(t).get('/admin/plans/keep'))).toMatchObject({ versions: [1] });
    });
  });

  it('only a platform admin writes tiered prices: others get 401/403 and nothing is written', async () => {
    const body = planBody('sneaky-tiers', {
      resources: [{ resource_type: 'api_requests', charge_model: 'graduated', tiers: graduatedTiers }],
    });
    expectError(await t.app.inject({ method: 'POST', url: '/admin/plans', payload: body }), 401, 'unauthorized');
    for (const caller of [asTenantAdmin(t, 'tnt_someone'), asTenantViewer(t, 'tnt_someone'), asService(t)]) {
      expectError(await caller.post('/admin/plans', body), 403, 'forbidden');
      expectError(await caller.post('/admin/plans/tiered/versions', body), 403, 'forbidden');
    }
    expectError(await asPlatformAdmin(t).get('/admin/plans/sneaky-tiers'), 404, 'not_found');
  });
});
