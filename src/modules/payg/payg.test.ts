import type { LightMyRequestResponse } from 'fastify';
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { settlePayg } from './settle-payg.js';
import { api, asService, asTenantAdmin } from '../../testing/api.js';
import { expectError, expectInvalid, expectNothingLeaked } from '../../testing/envelopes.js';
import {
  balanceOf,
  creditTransactionsOf,
  givenApiKey,
  givenApp,
  givenCredit,
  givenInstrument,
  instrumentsOf,
  givenProduct,
  givenTenant,
  givenUsage,
  recordsOf,
  type InstrumentPath,
} from '../../testing/fixtures.js';
import { createTestApp, testStart, type TestApp } from '../../testing/test-app.js';
import type { DetailBody, DetailItemView, InstrumentView, ProductView, RecordView } from '../../testing/views.js';

type Headers = Record<string, string>;

// Settlement products, created once: prices chosen so half-up and half-even rounding differ
// (5 × 0.045 = 0.225 → 0.23; 10 × 0.0125 = 0.125 → 0.13).
const sms = 'pg_sms';
const voice = 'pg_voice';
const smsName = 'SMS verifications';
const voiceName = 'Voice minutes';

let t: TestApp;

beforeAll(async () => {
  t = await createTestApp();
  await givenProduct(t, { billing_key: sms, display_name: smsName, unit_price: '0.045' });
  await givenProduct(t, { billing_key: voice, display_name: voiceName, unit_price: '0.0125' });
});
afterAll(() => t.close());

// Tests move the clock; each starts at the test start, when its tenants are created.
beforeEach(() => t.clock.set(testStart));

const platformAdmin = (headers?: Headers) =>
  api(t).as(headers === undefined ? { role: 'platform_admin' } : { headers });

const postProduct = (payload: unknown, headers?: Headers) =>
  platformAdmin(headers).post('/admin/payg/products', payload as Record<string, unknown>);

const patchProduct = (billingKey: string, payload: Record<string, unknown>, headers?: Headers) =>
  platformAdmin(headers).patch(`/admin/payg/products/${billingKey}`, payload);

const listProducts = (headers?: Headers) => platformAdmin(headers).get('/admin/payg/products?page_size=100');

/** Issues an instrument as a platform admin unless told otherwise, with a fresh Idempotency-Key unless one is given or null. */
const issue = (
  tenantId: string,
  path: InstrumentPath,
  payload: Record<string, unknown>,
  options: { headers?: Headers; key?: string | null } = {},
): Promise<LightMyRequestResponse> =>
  platformAdmin(options.headers).post(`/admin/payg/${tenantId}/${path}`, payload, { key: options.key });

const balancesOf = async (tenantId: string): Promise<Record<string, number>> =>
  Object.fromEntries((await instrumentsOf(t, tenantId)).map((view) => [view.id, view.balance]));

const paygRecordsOf = async (tenantId: string): Promise<RecordView[]> =>
  (await recordsOf(t, tenantId)).filter((record) => record.type === 'payg').reverse();

/** Consumption of a product, counted through usage ingestion at the clock's time unless told. */
const consume = ({
  tenantId,
  appId,
  billingKey,
  quantity,
  timestamp,
}: {
  tenantId: string;
  appId: string;
  billingKey: string;
  quantity: number;
  timestamp?: string | undefined;
}) =>
  givenUsage(t, {
    tenantId,
    appId,
    resourceType: billingKey,
    quantity,
    ...(timestamp === undefined ? {} : { timestamp }),
  });

/** The scheduler's job at the clock's time; no tenant may fail. */
const settle = async () => {
  const summary = await settlePayg(t.database.db, t.clock);
  expect(summary.failures).toEqual([]);
  return summary;
};

const markersOf = (tenantId: string) =>
  t.database.db
    .selectFrom('payg_settlements')
    .selectAll()
    .where('tenant_id', '=', tenantId)
    .orderBy('settled_day')
    .execute();

const linesOf = (tenantId: string) =>
  t.database.db
    .selectFrom('payg_settlement_lines')
    .selectAll()
    .where('tenant_id', '=', tenantId)
    .orderBy('settled_day')
    .orderBy('app_id')
    .orderBy('billing_key')
    .execute();

const deductionsOf = (tenantId: string) =>
  t.database.db
    .selectFrom('payg_deductions')
    .selectAll()
    .where('tenant_id', '=', tenantId)
    .orderBy('settled_day')
    .orderBy('app_id')
    .orderBy('billing_key')
    .orderBy('seq')
    .execute();

const ledgerTransactionsOf = (tenantId: string) =>
  t.database.db.selectFrom('ledger_transactions').selectAll().where('tenant_id', '=', tenantId).orderBy('id').execute();

/** Everything settlement writes for a tenant, to compare before and after a run. */
const settlementStateOf = async (tenantId: string) => ({
  markers: await markersOf(tenantId),
  lines: await linesOf(tenantId),
  deductions: await deductionsOf(tenantId),
  transactions: await ledgerTransactionsOf(tenantId),
  accounts: await t.database.db
    .selectFrom('ledger_accounts')
    .select(['id', 'balance', 'version'])
    .where('tenant_id', '=', tenantId)
    .orderBy('id')
    .execute(),
  records: await t.database.db
    .selectFrom('billing_records')
    .select(['id', 'type', 'status', 'amount', 'invoice_number'])
    .where('tenant_id', '=', tenantId)
    .orderBy('id')
    .execute(),
});

describe('pay-as-you-go products', () => {
  it('creates a product with the documented defaults, and lists and reprices it', async () => {
    const created = await postProduct({
      billing_key: 'pg_prod_session_replay',
      display_name: 'Session Replay',
      unit_price: '0.0000000001',
    });
    expect(created.statusCode, created.body).toBe(201);
    expect(created.json()).toEqual({
      code: 201,
      message: 'ok',
      data: {
        billing_key: 'pg_prod_session_replay',
        display_name: 'Session Replay',
        unit_price: '0.0000000001',
        billing_cycle: 'Day',
        category: 'pay-as-you-go',
        status: 'active',
        created_at: testStart,
        updated_at: testStart,
      },
      timestamp: testStart,
    });
    const monthly = await postProduct({
      billing_key: 'pg_prod_seats',
      display_name: 'Seats',
      unit_price: '12',
      billing_cycle: 'Month',
      category: 'subscription',
    });
    expect(monthly.statusCode, monthly.body).toBe(201);
    expect(monthly.json<{ data: ProductView }>().data).toMatchObject({
      billing_cycle: 'Month',
      category: 'subscription',
    });

    const listed = await listProducts();
    expect(listed.statusCode, listed.body).toBe(200);
    const keys = listed.json<{ items: ProductView[] }>().items.map((product) => product.billing_key);
    expect(keys).toEqual(expect.arrayContaining(['pg_prod_session_replay', 'pg_prod_seats', sms, voice]));
    expect(keys).toEqual([...keys].sort());

    t.clock.set('2026-01-01T09:30:00Z');
    const repriced = await patchProduct('pg_prod_session_replay', { unit_price: '0.25', display_name: 'Replays' });
    expect(repriced.statusCode, repriced.body).toBe(200);
    expect(repriced.json<{ data: ProductView }>().data).toEqual({
      ...created.json<{ data: ProductView }>().data,
      display_name: 'Replays',
      unit_price: '0.25',
      updated_at: '2026-01-01T09:30:00Z',
    });
  });

  it('refuses a second product with the same key, and a metered resource type as a key, with 409', async () => {
    const first = await postProduct({ billing_key: 'pg_prod_dup', display_name: 'Dup', unit_price: '1' });
    expect(first.statusCode, first.body).toBe(201);
    const again = await postProduct({ billing_key: 'pg_prod_dup', display_name: 'Other', unit_price: '2' });
    expectError(again, 409, 'conflict');
    const metered = await postProduct({ billing_key: 'api_requests', display_name: 'API', unit_price: '1' });
    expectError(metered, 409, 'conflict');
    // Neither refusal wrote anything: the first product is as it was.
    const listed = (await listProducts()).json<{ items: ProductView[] }>().items;
    expect(listed.filter((product) => product.billing_key === 'pg_prod_dup')).toEqual([
      first.json<{ data: ProductView }>().data,
    ]);
    expect(listed.some((product) => product.billing_key === 'api_requests')).toBe(false);
  });

  it('refuses a unit price that is not decimal text of at most 10 decimals, naming unit_price', async () => {
    for (const unitPrice of ['0.12345678901', '-1', '1e-3', '', '1.', ' 1', 0.5]) {
      const response = await postProduct({
        billing_key: 'pg_prod_bad_price',
        display_name: 'Bad',
        unit_price: unitPrice,
      });
      expectInvalid(response, 'unit_price');
    }
    expectInvalid(await patchProduct(sms, { unit_price: '0.12345678901' }), 'unit_price');
    expectInvalid(await postProduct({ billing_key: 'Bad-Key', display_name: 'Bad', unit_price: '1' }), 'billing_key');
    expectInvalid(
      await postProduct({
        billing_key: 'pg_prod_bad_cycle',
        display_name: 'Bad',
        unit_price: '1',
        billing_cycle: 'Week',
      }),
      'billing_cycle',
    );
    expect(
      (await listProducts())
        .json<{ items: ProductView[] }>()
        .items.some((p) => p.billing_key.startsWith('pg_prod_bad')),
    ).toBe(false);
    expectError(await patchProduct('pg_prod_missing', { unit_price: '1' }), 404, 'not_found');
  });

  it('lets only platform admins manage products', async () => {
    const payload = { billing_key: 'pg_prod_guarded', display_name: 'Guarded', unit_price: '1' };
    for (const headers of [await t.as.service(), await t.as.tenant('tnt_pg_someone')]) {
      expectError(await postProduct(payload, headers), 403, 'forbidden');
      expectError(await listProducts(headers), 403, 'forbidden');
      expectError(await patchProduct(sms, { unit_price: '9' }, headers), 403, 'forbidden');
    }
    expectError(await postProduct(payload, {}), 401, 'unauthorized');
    expectError(await listProducts({}), 401, 'unauthorized');
    expectError(await patchProduct(sms, { unit_price: '9' }, {}), 401, 'unauthorized');
    const products = (await listProducts()).json<{ items: ProductView[] }>().items;
    expect(products.some((product) => product.billing_key === 'pg_prod_guarded')).toBe(false);
    expect(products.find((product) => product.billing_key === sms)?.unit_price).toBe('0.045');
  });

  it('counts consumption only of active products', async () => {
    await givenTenant(t, 'tnt_pg_archived');
    await givenApp(t, 'tnt_pg_archived', 'app_pg_archived');
    const created = await postProduct({ billing_key: 'pg_prod_retired', display_name: 'Retired', unit_price: '1' });
    expect(created.statusCode, created.body).toBe(201);
    await consume({
      tenantId: 'tnt_pg_archived',
      appId: 'app_pg_archived',
      billingKey: 'pg_prod_retired',
      quantity: 1,
    });
    expect((await patchProduct('pg_prod_retired', { status: 'archived' })).statusCode).toBe(200);
    const refused = await asService(t).post('/billing/usage/events', {
      events: [
        {
          event_id: 'evt_payg_archived',
          tenant_id: 'tnt_pg_archived',
          app_id: 'app_pg_archived',
          resource_type: 'pg_prod_retired',
          quantity: 1,
          timestamp: testStart,
        },
      ],
    });
    expect(refused.statusCode, refused.body).toBe(200);
    expect(refused.json<{ data: { rejected: number } }>().data.rejected).toBe(1);
  });
});

describe('pay-as-you-go instruments', () => {
  it('issues a coupon once per Idempotency-Key: the replay is the same answer and credits nothing more', async () => {
    await givenTenant(t, 'tnt_pg_coupon');
    const payload = {
      amount: 10.5,
      valid_from: '2026-01-01T00:00:00Z',
      valid_to: '2026-02-01T00:00:00Z',
      product_keys: [sms],
    };
    const first = await issue('tnt_pg_coupon', 'coupons', payload, { key: 'coupon-once' });
    expect(first.statusCode, first.body).toBe(201);
    expect(first.headers['idempotent-replayed']).toBe('false');
    const coupon = first.json<{ data: InstrumentView }>().data;
    expect(coupon).toEqual({
      id: expect.stringMatching(/^cpn_[a-z0-9]{16}$/) as string,
      tenant_id: 'tnt_pg_coupon',
      kind: 'coupon',
      issued_amount: 10.5,
      balance: 10.5,
      currency: 'CNY',
      valid_from: '2026-01-01T00:00:00Z',
      valid_to: '2026-02-01T00:00:00Z',
      product_keys: [sms],
      customer_identifier: null,
      created_at: testStart,
    });

    const replay = await issue('tnt_pg_coupon', 'coupons', payload, { key: 'coupon-once' });
    expect(replay.statusCode).toBe(201);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.body).toBe(first.body);
    expect(await instrumentsOf(t, 'tnt_pg_coupon')).toEqual([coupon]);
    const issues = (await ledgerTransactionsOf('tnt_pg_coupon')).filter((row) => row.source === 'coupon_issue');
    expect(issues.map((row) => [row.type, row.amount, row.source_id])).toEqual([['credit', 1050n, coupon.id]]);
    // An instrument's money is not cash: its credit is not a credit transaction of the tenant.
    expect(await creditTransactionsOf(t, 'tnt_pg_coupon')).toEqual([]);
    expect(await balanceOf(t, 'tnt_pg_coupon')).toBe(0);

    // The same key with another body is refused and issues nothing.
    const reused = await issue('tnt_pg_coupon', 'coupons', { ...payload, amount: 11 }, { key: 'coupon-once' });
    expectError(reused, 422, 'unprocessable');
    expect(await instrumentsOf(t, 'tnt_pg_coupon')).toHaveLength(1);
  });

  it('issues stored-value cards and keeps one marketplace balance, topped up by its account', async () => {
    await givenTenant(t, 'tnt_pg_cards');
    const card = await givenInstrument(t, 'tnt_pg_cards', 'stored-cards', { amount: 20 });
    expect(card).toMatchObject({
      id: expect.stringMatching(/^svc_[a-z0-9]{16}$/) as string,
      kind: 'stored_card',
      balance: 20,
      valid_from: null,
      valid_to: null,
      product_keys: null,
    });
    const expiring = await givenInstrument(t, 'tnt_pg_cards', 'stored-cards', {
      amount: 5.25,
      valid_to: '2026-03-01T00:00:00Z',
    });

    const topUp = { amount: 30, customer_identifier: 'aws-acct-0001' };
    const first = await issue('tnt_pg_cards', 'cloud-marketplace', topUp, { key: 'top-up-1' });
    expect(first.statusCode, first.body).toBe(201);
    const marketplace = first.json<{ data: InstrumentView }>().data;
    expect(marketplace).toMatchObject({
      id: expect.stringMatching(/^cmk_[a-z0-9]{16}$/) as string,
      kind: 'cloud_marketplace',
      issued_amount: 30,
      balance: 30,
      customer_identifier: 'aws-acct-0001',
    });
    const replay = await issue('tnt_pg_cards', 'cloud-marketplace', topUp, { key: 'top-up-1' });
    expect(replay.body).toBe(first.body);
    expect(replay.headers['idempotent-replayed']).toBe('true');

    const second = await issue('tnt_pg_cards', 'cloud-marketplace', { ...topUp, amount: 12.34 });
    expect(second.statusCode, second.body).toBe(201);
    expect(second.json<{ data: InstrumentView }>().data).toMatchObject({
      id: marketplace.id,
      issued_amount: 42.34,
      balance: 42.34,
    });

    // Another account for the same tenant: 409, and the balance is untouched.
    const otherAccount = await issue('tnt_pg_cards', 'cloud-marketplace', {
      amount: 1,
      customer_identifier: 'aws-acct-0002',
    });
    expectError(otherAccount, 409, 'conflict');

    const listed = await instrumentsOf(t, 'tnt_pg_cards', 'tenant_viewer');
    expect(listed.map((view) => [view.id, view.kind, view.balance, view.issued_amount])).toEqual(
      expect.arrayContaining([
        [card.id, 'stored_card', 20, 20],
        [expiring.id, 'stored_card', 5.25, 5.25],
        [marketplace.id, 'cloud_marketplace', 42.34, 42.34],
      ]),
    );
    expect(listed).toHaveLength(3);
    const sources = (await ledgerTransactionsOf('tnt_pg_cards')).map((row) => [row.source, row.amount]);
    expect(sources).toEqual(
      expect.arrayContaining([
        ['stored_card_issue', 2000n],
        ['stored_card_issue', 525n],
        ['cloud_marketplace_top_up', 3000n],
        ['cloud_marketplace_top_up', 1234n],
      ]),
    );
    expect(sources).toHaveLength(4);
  });

  it('refuses invalid instruments with a 400 naming the parameter, issuing nothing', async () => {
    await givenTenant(t, 'tnt_pg_invalid');
    const cases: [InstrumentPath, Record<string, unknown>, string][] = [
      ['coupons', { amount: 5, valid_from: '2026-02-01T00:00:00Z', valid_to: '2026-02-01T00:00:00Z' }, 'valid_to'],
      ['coupons', { amount: 5, valid_from: '2026-02-01T00:00:00Z', valid_to: '2026-01-31T23:59:59Z' }, 'valid_to'],
      ['stored-cards', { amount: 5, valid_from: '2026-02-01T00:00:00Z', valid_to: '2026-01-01T00:00:00Z' }, 'valid_to'],
      ['coupons', { amount: 5, valid_to: '2026-02-01T00:00:00Z', product_keys: [sms, 'pg_unknown'] }, 'product_keys'],
      ['coupons', { amount: 5 }, 'valid_to'],
      ['coupons', { amount: 1.234, valid_to: '2026-02-01T00:00:00Z' }, 'amount'],
      ['stored-cards', { amount: 0.001 }, 'amount'],
      ['cloud-marketplace', { amount: 10.005, customer_identifier: 'acct' }, 'amount'],
      ['stored-cards', { amount: 0 }, 'amount'],
      ['stored-cards', { amount: '5' }, 'amount'],
      ['cloud-marketplace', { amount: 5 }, 'customer_identifier'],
      ['coupons', { amount: 5, valid_to: 'tomorrow' }, 'valid_to'],
    ];
    for (const [path, payload, parameter] of cases) {
      expectInvalid(await issue('tnt_pg_invalid', path, payload), parameter);
    }
    expectInvalid(
      await issue('tnt_pg_invalid', 'stored-cards', { amount: 5 }, { key: null }),
      'idempotency-key',
      'header',
    );
    expect(await instrumentsOf(t, 'tnt_pg_invalid')).toEqual([]);
    expect(await ledgerTransactionsOf('tnt_pg_invalid')).toEqual([]);
  });

  it('lets platform admins and services issue, tenants only read, and nobody reach another tenant', async () => {
    await givenTenant(t, 'tnt_pg_access');
    await givenTenant(t, 'tnt_pg_access_other');
    const byService = await issue('tnt_pg_access', 'stored-cards', { amount: 1 }, { headers: await t.as.service() });
    expect(byService.statusCode, byService.body).toBe(201);
    expectError(
      await issue('tnt_pg_access', 'stored-cards', { amount: 1 }, { headers: await t.as.tenant('tnt_pg_access') }),
      403,
      'forbidden',
    );
    expectError(await issue('tnt_pg_missing', 'stored-cards', { amount: 1 }), 404, 'not_found');
    const foreign = await asTenantAdmin(t, 'tnt_pg_access_other').get('/billing/payg/tnt_pg_access/instruments');
    expectError(foreign, 403, 'forbidden');
    expectError(await t.app.inject({ url: '/billing/payg/tnt_pg_access/instruments' }), 401, 'unauthorized');
    expect(await instrumentsOf(t, 'tnt_pg_access')).toHaveLength(1);
  });
});

describe('daily settlement', () => {
  it("settles a day once it has ended in the tenant's time zone, dated at that midnight", async () => {
    await givenTenant(t, 'tnt_pg_tz_sh'); // Asia/Shanghai, the default
    await givenTenant(t, 'tnt_pg_tz_utc', { time_zone: 'UTC' });
    await givenApp(t, 'tnt_pg_tz_sh', 'app_pg_tz_sh');
    await givenApp(t, 'tnt_pg_tz_utc', 'app_pg_tz_utc');
    // 18:00 on 1 January in Shanghai, 10:00 in UTC: the same day in both.
    t.clock.set('2026-01-01T10:00:00Z');
    await consume({ tenantId: 'tnt_pg_tz_sh', appId: 'app_pg_tz_sh', billingKey: sms, quantity: 5 });
    await consume({ tenantId: 'tnt_pg_tz_utc', appId: 'app_pg_tz_utc', billingKey: sms, quantity: 5 });

    t.clock.set('2026-01-01T15:59:59Z');
    await settle();
    expect(await markersOf('tnt_pg_tz_sh')).toEqual([]);
    expect(await markersOf('tnt_pg_tz_utc')).toEqual([]);

    // Midnight in Shanghai.
    t.clock.set('2026-01-01T16:00:00Z');
    await settle();
    expect((await markersOf('tnt_pg_tz_sh')).map((marker) => [marker.settled_day, marker.settled_at])).toEqual([
      ['2026-01-01', new Date('2026-01-01T16:00:00Z')],
    ]);
    expect(await markersOf('tnt_pg_tz_utc')).toEqual([]);

    t.clock.set('2026-01-01T23:59:59Z');
    await settle();
    expect(await markersOf('tnt_pg_tz_utc')).toEqual([]);

    t.clock.set('2026-01-02T00:00:00Z');
    await settle();
    expect((await markersOf('tnt_pg_tz_utc')).map((marker) => [marker.settled_day, marker.settled_at])).toEqual([
      ['2026-01-01', new Date('2026-01-02T00:00:00Z')],
    ]);
    expect(await markersOf('tnt_pg_tz_sh')).toHaveLength(1);

    for (const [tenantId, appId, midnight] of [
      ['tnt_pg_tz_sh', 'app_pg_tz_sh', '2026-01-01T16:00:00Z'],
      ['tnt_pg_tz_utc', 'app_pg_tz_utc', '2026-01-02T00:00:00Z'],
    ] as const) {
      const lines = await linesOf(tenantId);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatchObject({
        settled_day: '2026-01-01',
        app_id: appId,
        billing_key: sms,
        consumption: 5n,
        owe_amount: 23n,
        settled_at: new Date(midnight),
      });
      const [record] = await paygRecordsOf(tenantId);
      expect(record).toMatchObject({ status: 'pending', total_amount: 0.23, created_at: midnight });
    }
  });

  it('prices each line exactly, rounds half-up, and deducts across lines and apps in order, owing the rest', async () => {
    const tenantId = 'tnt_pg_order';
    await givenTenant(t, tenantId, { time_zone: 'UTC' });
    await givenApp(t, tenantId, 'app_pg_order_a');
    await givenApp(t, tenantId, 'app_pg_order_b');
    // Issued in an order the deductions must not follow: the later-expiring sms coupon first.
    const smsCoupon = await givenInstrument(t, tenantId, 'coupons', {
      amount: 0.1,
      valid_to: '2026-03-01T00:00:00Z',
      product_keys: [sms],
    });
    const anyCoupon = await givenInstrument(t, tenantId, 'coupons', { amount: 0.05, valid_to: '2026-02-01T00:00:00Z' });
    const card = await givenInstrument(t, tenantId, 'stored-cards', { amount: 0.1, valid_to: '2026-06-01T00:00:00Z' });
    await givenCredit(t, tenantId, { amount: 0.2 });
    const marketplace = await givenInstrument(t, tenantId, 'cloud-marketplace', {
      amount: 0.5,
      customer_identifier: 'mkt-order',
    });
    // Instruments not valid on the day, which must not pay: expired before it, valid only after it.
    const expired = await givenInstrument(t, tenantId, 'coupons', {
      amount: 5,
      valid_from: '2025-12-01T00:00:00Z',
      valid_to: '2026-01-01T00:00:00Z',
    });
    const future = await givenInstrument(t, tenantId, 'stored-cards', {
      amount: 5,
      valid_from: '2026-01-02T00:00:00Z',
    });

    t.clock.set('2026-01-01T12:00:00Z');
    await consume({ tenantId, appId: 'app_pg_order_a', billingKey: sms, quantity: 2 });
    await consume({ tenantId, appId: 'app_pg_order_a', billingKey: sms, quantity: 3 }); // summed with the first: 5
    await consume({ tenantId, appId: 'app_pg_order_a', billingKey: voice, quantity: 10 });
    await consume({ tenantId, appId: 'app_pg_order_b', billingKey: sms, quantity: 20 });
    await consume({ tenantId, appId: 'app_pg_order_b', billingKey: voice, quantity: 4 });
    t.clock.set('2026-01-02T00:00:00Z');
    await settle();

    const lines = await linesOf(tenantId);
    expect(
      lines.map((line) => [
        line.app_id,
        line.billing_key,
        line.consumption,
        line.unit_price,
        line.origin_amount,
        line.billing_result,
        line.coupon_amount,
        line.stored_card_amount,
        line.cash_amount,
        line.cloud_marketplace_amount,
        line.owe_amount,
      ]),
    ).toEqual([
      // 0.225 → 0.23: the any-product coupon (sooner expiry) 0.05, the sms coupon 0.10, the card 0.08.
      ['app_pg_order_a', sms, 5n, '0.045', '0.225', 23n, 15n, 8n, 0n, 0n, 0n],
      // 0.125 → 0.13: the sms coupon does not cover voice; the card's last 0.02, then cash 0.11.
      ['app_pg_order_a', voice, 10n, '0.0125', '0.125', 13n, 0n, 2n, 11n, 0n, 0n],
      // 0.90: cash's last 0.09, the marketplace's 0.50, 0.31 owed.
      ['app_pg_order_b', sms, 20n, '0.045', '0.9', 90n, 0n, 0n, 9n, 50n, 31n],
      ['app_pg_order_b', voice, 4n, '0.0125', '0.05', 5n, 0n, 0n, 0n, 0n, 5n],
    ]);
    expect(lines.every((line) => line.settled_at.getTime() === Date.parse('2026-01-02T00:00:00Z'))).toBe(true);

    const deductions = await deductionsOf(tenantId);
    expect(deductions.map((row) => [row.app_id, row.billing_key, row.seq, row.instrument_id, row.amount])).toEqual([
      ['app_pg_order_a', sms, 1, anyCoupon.id, 5n],
      ['app_pg_order_a', sms, 2, smsCoupon.id, 10n],
      ['app_pg_order_a', sms, 3, card.id, 8n],
      ['app_pg_order_a', voice, 1, card.id, 2n],
      ['app_pg_order_a', voice, 2, 'cash', 11n],
      ['app_pg_order_b', sms, 1, 'cash', 9n],
      ['app_pg_order_b', sms, 2, marketplace.id, 50n],
    ]);
    // Each deduction is its ledger transaction: a payg_deduction debit of the same amount.
    const transactions = new Map((await ledgerTransactionsOf(tenantId)).map((row) => [row.id, row]));
    for (const deduction of deductions) {
      expect(transactions.get(deduction.transaction_id)).toMatchObject({
        type: 'debit',
        amount: deduction.amount,
        source: 'payg_deduction',
        created_at: new Date('2026-01-02T00:00:00Z'),
      });
    }

    // Cash deductions are the tenant's credit transactions; the instruments' are not.
    const cashDeductions = await creditTransactionsOf(t, tenantId, 'payg_deduction');
    // Both are dated at the day's midnight; the list breaks that tie by id, so compare as a set.
    expect(cashDeductions).toHaveLength(2);
    expect(cashDeductions.map((row) => [row.type, row.amount, row.balance, row.created_at])).toEqual(
      expect.arrayContaining([
        ['debit', 0.11, 0.09, '2026-01-02T00:00:00Z'],
        ['debit', 0.09, 0, '2026-01-02T00:00:00Z'],
      ]),
    );
    expect(await creditTransactionsOf(t, tenantId)).toHaveLength(3); // the promo and the two deductions
    expect(await balanceOf(t, tenantId)).toBe(0);
    expect(await balancesOf(tenantId)).toEqual({
      [smsCoupon.id]: 0,
      [anyCoupon.id]: 0,
      [card.id]: 0,
      [marketplace.id]: 0,
      [expired.id]: 5,
      [future.id]: 5,
    });

    // The owed parts: one pending payg record of the day, a line per owed (app, product), no tax.
    const records = await paygRecordsOf(tenantId);
    expect(records).toHaveLength(1);
    const [record] = records;
    expect(record).toMatchObject({
      status: 'pending',
      invoice_number: expect.stringMatching(/^INV-2026-\d{3,}$/) as string,
      amount: 0.36,
      tax_amount: 0,
      total_amount: 0.36,
      created_at: '2026-01-02T00:00:00Z',
    });
    expect(
      record?.line_items.map((line) => [line.resource_type, line.amount, line.tax_amount, line.description]),
    ).toEqual([
      [sms, 0.31, 0, expect.stringContaining('app_pg_order_b') as string],
      [voice, 0.05, 0, expect.stringContaining('app_pg_order_b') as string],
    ]);
    expect((await markersOf(tenantId)).map((marker) => [marker.settled_day, marker.lines, marker.record_id])).toEqual([
      ['2026-01-01', 4, record?.record_id],
    ]);
  });

  it('settles a day at the price of the day it is settled, keeping settled lines at theirs', async () => {
    const tenantId = 'tnt_pg_reprice';
    await givenTenant(t, tenantId, { time_zone: 'UTC' });
    await givenApp(t, tenantId, 'app_pg_reprice');
    const created = await postProduct({ billing_key: 'pg_reprice', display_name: 'Reprice', unit_price: '1.5' });
    expect(created.statusCode, created.body).toBe(201);
    t.clock.set('2026-01-01T12:00:00Z');
    await consume({ tenantId, appId: 'app_pg_reprice', billingKey: 'pg_reprice', quantity: 2 });
    t.clock.set('2026-01-02T00:00:00Z');
    await settle();
    expect((await patchProduct('pg_reprice', { unit_price: '2.345' })).statusCode).toBe(200);
    t.clock.set('2026-01-02T12:00:00Z');
    await consume({ tenantId, appId: 'app_pg_reprice', billingKey: 'pg_reprice', quantity: 3 });
    t.clock.set('2026-01-03T00:00:00Z');
    await settle();
    expect(
      (await linesOf(tenantId)).map((line) => [
        line.settled_day,
        line.unit_price,
        line.origin_amount,
        line.billing_result,
      ]),
    ).toEqual([
      ['2026-01-01', '1.5', '3', 300n],
      ['2026-01-02', '2.345', '7.035', 704n], // 7.035 half-up → 7.04
    ]);
  });

  it('never settles a day twice: a second run at the same time, or later, changes nothing settled', async () => {
    const tenantId = 'tnt_pg_once';
    await givenTenant(t, tenantId, { time_zone: 'UTC' });
    await givenApp(t, tenantId, 'app_pg_once');
    await givenCredit(t, tenantId, { amount: 0.1 });
    t.clock.set('2026-01-01T12:00:00Z');
    await consume({ tenantId, appId: 'app_pg_once', billingKey: sms, quantity: 5 });
    t.clock.set('2026-01-02T00:00:00Z');
    await settle();
    const settled = await settlementStateOf(tenantId);
    expect(settled.markers).toHaveLength(1);
    expect(settled.lines).toHaveLength(1);
    expect(settled.records).toHaveLength(1);

    await settle();
    await settle();
    expect(await settlementStateOf(tenantId)).toEqual(settled);

    // A day later only the new day is added, with a marker and no lines (no consumption).
    t.clock.set('2026-01-03T00:00:00Z');
    await settle();
    const later = await settlementStateOf(tenantId);
    expect(later.markers.map((marker) => [marker.settled_day, marker.lines, marker.record_id])).toEqual([
      ['2026-01-01', 1, settled.records[0]?.id],
      ['2026-01-02', 0, null],
    ]);
    expect({ ...later, markers: settled.markers }).toEqual(settled);
  });

  it('catches up missed days in order; days without consumption get a marker and no lines', async () => {
    const tenantId = 'tnt_pg_catchup';
    await givenTenant(t, tenantId, { time_zone: 'UTC' });
    await givenApp(t, tenantId, 'app_pg_catchup');
    await givenCredit(t, tenantId, { amount: 0.1 });
    t.clock.set('2026-01-01T12:00:00Z');
    await consume({ tenantId, appId: 'app_pg_catchup', billingKey: sms, quantity: 2 }); // 0.09
    t.clock.set('2026-01-03T12:00:00Z');
    await consume({ tenantId, appId: 'app_pg_catchup', billingKey: sms, quantity: 2 }); // 0.09
    // The scheduler did not run for five days.
    t.clock.set('2026-01-06T00:00:00Z');
    await settle();

    const markers = await markersOf(tenantId);
    expect(markers.map((marker) => [marker.settled_day, marker.lines, marker.settled_at])).toEqual([
      ['2026-01-01', 1, new Date('2026-01-02T00:00:00Z')],
      ['2026-01-02', 0, new Date('2026-01-03T00:00:00Z')],
      ['2026-01-03', 1, new Date('2026-01-04T00:00:00Z')],
      ['2026-01-04', 0, new Date('2026-01-05T00:00:00Z')],
      ['2026-01-05', 0, new Date('2026-01-06T00:00:00Z')],
    ]);
    // In order: the first day took the cash it needed, the third what was left.
    expect(
      (await linesOf(tenantId)).map((line) => [
        line.settled_day,
        line.billing_result,
        line.cash_amount,
        line.owe_amount,
      ]),
    ).toEqual([
      ['2026-01-01', 9n, 9n, 0n],
      ['2026-01-03', 9n, 1n, 8n],
    ]);
    const records = await paygRecordsOf(tenantId);
    expect(records.map((record) => [record.total_amount, record.created_at])).toEqual([[0.08, '2026-01-04T00:00:00Z']]);
    expect(markers.map((marker) => marker.record_id)).toEqual([null, null, records[0]?.record_id, null, null]);
    expect(
      (await creditTransactionsOf(t, tenantId, 'payg_deduction')).map((row) => [row.amount, row.created_at]).reverse(),
    ).toEqual([
      [0.09, '2026-01-02T00:00:00Z'],
      [0.01, '2026-01-04T00:00:00Z'],
    ]);
  });

  it('bills every accepted unit once: consumption that arrives for a settled day is refused or settled', async () => {
    const tenantId = 'tnt_pg_late';
    await givenTenant(t, tenantId, { time_zone: 'UTC' });
    await givenApp(t, tenantId, 'app_pg_late');
    t.clock.set('2026-01-01T12:00:00Z');
    await consume({ tenantId, appId: 'app_pg_late', billingKey: sms, quantity: 5 });
    t.clock.set('2026-01-02T00:00:00Z');
    await settle();
    // An hour after 1 January was settled, an event of 1 January arrives: inside the 3-day late window.
    t.clock.set('2026-01-02T01:00:00Z');
    const late = await asService(t).post('/billing/usage/events', {
      events: [
        {
          event_id: 'evt_payg_late',
          tenant_id: tenantId,
          app_id: 'app_pg_late',
          resource_type: sms,
          quantity: 2,
          timestamp: '2026-01-01T20:00:00Z',
        },
      ],
    });
    expect(late.statusCode, late.body).toBe(200);
    const accepted = late.json<{ data: { accepted: number } }>().data.accepted === 1;
    t.clock.set('2026-01-05T00:00:00Z');
    await settle();
    // Accepted consumption must be charged somewhere; otherwise the sender must be told it was not counted.
    const settledUnits = (await linesOf(tenantId)).reduce((sum, line) => sum + line.consumption, 0n);
    expect(settledUnits).toBe(accepted ? 7n : 5n);
  });

  it('settles each day once when four runners start together', async () => {
    const tenants = ['tnt_pg_race_1', 'tnt_pg_race_2', 'tnt_pg_race_3'];
    for (const tenantId of tenants) {
      await givenTenant(t, tenantId, { time_zone: 'UTC' });
      await givenApp(t, tenantId, `app_${tenantId.slice(4)}`);
      await givenCredit(t, tenantId, { amount: 1 });
    }
    t.clock.set('2026-01-01T12:00:00Z');
    for (const tenantId of tenants) {
      await consume({ tenantId, appId: `app_${tenantId.slice(4)}`, billingKey: sms, quantity: 10 });
    }
    t.clock.set('2026-01-02T12:00:00Z');
    for (const tenantId of tenants) {
      await consume({ tenantId, appId: `app_${tenantId.slice(4)}`, billingKey: voice, quantity: 8 });
    }
    t.clock.set('2026-01-04T00:00:00Z');
    const markerCount = async () =>
      Number(
        (
          await t.database.db
            .selectFrom('payg_settlements')
            .select((eb) => eb.fn.countAll<string>().as('n'))
            .executeTakeFirstOrThrow()
        ).n,
      );
    const before = await markerCount();
    const summaries = await Promise.all([1, 2, 3, 4].map(() => settlePayg(t.database.db, t.clock)));
    for (const summary of summaries) expect(summary.failures).toEqual([]);
    // Every day settled by exactly one runner.
    expect(summaries.reduce((sum, summary) => sum + summary.days, 0)).toBe((await markerCount()) - before);
    for (const tenantId of tenants) {
      expect((await markersOf(tenantId)).map((marker) => marker.settled_day)).toEqual([
        '2026-01-01',
        '2026-01-02',
        '2026-01-03',
      ]);
      expect(
        (await linesOf(tenantId)).map((line) => [
          line.settled_day,
          line.billing_key,
          line.cash_amount,
          line.owe_amount,
        ]),
      ).toEqual([
        ['2026-01-01', sms, 45n, 0n],
        ['2026-01-02', voice, 10n, 0n],
      ]);
      expect(
        (await creditTransactionsOf(t, tenantId, 'payg_deduction')).map((row) => row.amount).sort((a, b) => a - b),
      ).toEqual([0.1, 0.45]);
      expect(await balanceOf(t, tenantId)).toBe(0.45);
    }
  });
});

describe.skipIf(!process.env.DATABASE_URL)('daily settlement against a concurrent cash debit (server)', () => {
  it('settles the day again, posting by posting, when cash is spent between reading it and deducting', async () => {
    const tenantId = 'tnt_pg_spent';
    const appId = 'app_pg_spent';
    await givenTenant(t, tenantId, { time_zone: 'UTC' });
    await givenApp(t, tenantId, appId);
    await givenCredit(t, tenantId, { amount: 1 });
    const marketplace = await givenInstrument(t, tenantId, 'cloud-marketplace', {
      amount: 1,
      customer_identifier: 'mkt-spent',
    });
    t.clock.set('2026-01-01T12:00:00Z');
    await consume({ tenantId, appId, billingKey: sms, quantity: 10 }); // 0.45
    await consume({ tenantId, appId, billingKey: voice, quantity: 8 }); // 0.10
    t.clock.set('2026-01-02T00:00:00Z');

    // Another transaction takes 0.80 of the cash and holds its row: settlement reads 1.00, then waits
    // to deduct. A real posting cannot do this (its transaction row's key on the tenant waits for the
    // settlement's lock); an update of the balance stands in for one, so the refusal is reached.
    const other = new pg.Client({ connectionString: t.database.url });
    await other.connect();
    try {
      await other.query('begin');
      await other.query(`update ledger_accounts set balance = balance - 80 where tenant_id = $1 and id = 'cash'`, [
        tenantId,
      ]);
      const settling = settlePayg(t.database.db, t.clock);
      let waiting = 0;
      for (let i = 0; i < 200 && waiting === 0; i += 1) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        const { rows } = await other.query<{ n: number }>(
          `select count(*)::int as n from pg_stat_activity
            where datname = current_database() and wait_event_type = 'Lock' and pid <> pg_backend_pid()`,
        );
        waiting = rows[0]?.n ?? 0;
      }
      expect(waiting).toBeGreaterThan(0);
      await other.query('commit');
      const summary = await settling;
      expect(summary).toEqual({ days: 1, failures: [] });
    } finally {
      await other.end();
    }

    // Settled as the balances stand after the other debit: cash's 0.20, then the marketplace.
    expect(
      (await linesOf(tenantId)).map((line) => [
        line.billing_key,
        line.billing_result,
        line.cash_amount,
        line.cloud_marketplace_amount,
        line.owe_amount,
      ]),
    ).toEqual([
      [sms, 45n, 20n, 25n, 0n],
      [voice, 10n, 0n, 10n, 0n],
    ]);
    expect(
      (await deductionsOf(tenantId)).map((row) => [row.billing_key, row.seq, row.instrument_id, row.amount]),
    ).toEqual([
      [sms, 1, 'cash', 20n],
      [sms, 2, marketplace.id, 25n],
      [voice, 1, marketplace.id, 10n],
    ]);
    // Nothing of the refused attempt remains: a ledger transaction per deduction, and the balances add up.
    const deductionTransactions = (await ledgerTransactionsOf(tenantId)).filter(
      (row) => row.source === 'payg_deduction',
    );
    expect(deductionTransactions.map((row) => row.amount).sort((a, b) => Number(a - b))).toEqual([10n, 20n, 25n]);
    expect(await balanceOf(t, tenantId)).toBe(0);
    expect(await balancesOf(tenantId)).toEqual({ [marketplace.id]: 0.65 });
    expect(await paygRecordsOf(tenantId)).toEqual([]);
  });
});

describe('GET /api/v1/billing/detail/list', () => {
  const tenantId = 'tnt_pg_detail';
  const otherTenantId = 'tnt_pg_detail_other';
  const appA = 'app_pg_detail_a';
  const appB = 'app_pg_detail_b';
  let tenantKey: string;
  let appAKey: string;
  let otherTenantKey: string;
  let coupon: InstrumentView;
  let card: InstrumentView;
  let marketplace: InstrumentView;

  const detailList = (query: string, headers: Headers = {}) =>
    api(t).as({ headers }).get(`/api/v1/billing/detail/list${query}`);

  const withKey = (key: string, requestId = 'trace-detail'): Headers => ({
    'df-api-key': key,
    'x-request-id': requestId,
  });

  const contentOf = (response: LightMyRequestResponse): DetailItemView[] => {
    expect(response.statusCode, response.body).toBe(200);
    const body = response.json<DetailBody<DetailItemView[]>>();
    expect(body).toMatchObject({ code: 200, errorCode: '', message: '', success: true });
    expect(body.content).not.toBeNull();
    return body.content ?? [];
  };

  /** A refusal in the seed's envelope, nothing more, nothing leaked. */
  const expectDetailError = (
    response: LightMyRequestResponse,
    status: number,
    parameter?: string,
  ): DetailBody<DetailItemView[]> => {
    expect(response.statusCode, response.body).toBe(status);
    expectNothingLeaked(response.body);
    const body = response.json<DetailBody<DetailItemView[]>>();
    expect(body).toEqual({
      code: status,
      content: null,
      errorCode: expect.stringMatching(/.+/) as string,
      message: expect.stringMatching(/.+/) as string,
      success: false,
      traceId: 'trace-detail',
    });
    if (parameter !== undefined) expect(body.message).toContain(parameter);
    return body;
  };

  // A fixture month in Shanghai: consumption on 1–3 January by two apps of two products, paid by
  // a coupon for sms only, a stored card, cash and the marketplace balance, and owed after them.
  beforeAll(async () => {
    t.clock.set(testStart);
    await givenTenant(t, tenantId);
    await givenApp(t, tenantId, appA);
    await givenApp(t, tenantId, appB);
    await givenTenant(t, otherTenantId, { time_zone: 'UTC' });
    await givenApp(t, otherTenantId, 'app_pg_detail_other');
    coupon = await givenInstrument(t, tenantId, 'coupons', {
      amount: 0.3,
      valid_to: '2026-02-01T00:00:00Z',
      product_keys: [sms],
    });
    card = await givenInstrument(t, tenantId, 'stored-cards', { amount: 0.2 });
    await givenCredit(t, tenantId, { amount: 0.1 });
    marketplace = await givenInstrument(t, tenantId, 'cloud-marketplace', {
      amount: 0.1,
      customer_identifier: 'mkt-acct-detail',
    });
    tenantKey = (await givenApiKey(t, tenantId)).key;
    appAKey = (await givenApiKey(t, tenantId, appA)).key;
    otherTenantKey = (await givenApiKey(t, otherTenantId)).key;

    t.clock.set('2026-01-01T02:00:00Z'); // 10:00 on 1 January in Shanghai
    await consume({ tenantId, appId: appA, billingKey: sms, quantity: 5 });
    await consume({ tenantId, appId: appA, billingKey: voice, quantity: 10 });
    await consume({ tenantId, appId: appB, billingKey: sms, quantity: 3 });
    await consume({ tenantId: otherTenantId, appId: 'app_pg_detail_other', billingKey: sms, quantity: 1 });
    t.clock.set('2026-01-02T02:00:00Z');
    await consume({ tenantId, appId: appA, billingKey: sms, quantity: 7 });
    await consume({ tenantId, appId: appB, billingKey: voice, quantity: 4 });
    t.clock.set('2026-01-03T02:00:00Z');
    await consume({ tenantId, appId: appB, billingKey: sms, quantity: 20 });
    t.clock.set('2026-01-05T16:00:00Z'); // midnight starting 6 January in Shanghai
    await settle();
  });

  const shanghaiDayStart = (day: string): number => Date.parse(`${day}T00:00:00+08:00`);

  /** The fields every line of the fixture tenant shares. */
  const line = (
    day: string,
    appId: string,
    billingKey: string,
    amounts: Pick<
      DetailItemView,
      | 'consumption'
      | 'count'
      | 'originAmount'
      | 'billingResult'
      | 'couponAmount'
      | 'storedCardAmount'
      | 'cashAmount'
      | 'cashCouldAmount'
      | 'deductionAmount'
      | 'oweAmount'
      | 'billingResultDetails'
    >,
  ): DetailItemView => ({
    consumeTimeOfDay: day,
    orgName: `Tenant ${tenantId}`,
    productName: 'dataFlux',
    productDetail: billingKey === sms ? smsName : voiceName,
    billingKey,
    billingCycle: 'Day',
    serviceBillingAmount: 0,
    commodityCategory: 'pay-as-you-go',
    consumePlatform: 'cloud_marketplace',
    customerIdentifier: 'mkt-acct-detail',
    workspaceUuid: appId,
    workspaceName: `App ${appId}`,
    consumeTime: shanghaiDayStart(day),
    tag6: billingKey,
    ...amounts,
  });

  const none = { couponAmount: 0, storedCardAmount: 0, cashAmount: 0, cashCouldAmount: 0 };
  const expectedLines = (): DetailItemView[] => [
    line('2026-01-01', appA, sms, {
      ...none,
      consumption: '5',
      count: 5,
      originAmount: 0.225,
      billingResult: 0.23,
      couponAmount: 0.23,
      deductionAmount: 0.23,
      oweAmount: 0,
      billingResultDetails: [{ instrument: coupon.id, amount: 0.23 }],
    }),
    line('2026-01-01', appA, voice, {
      ...none,
      consumption: '10',
      count: 10,
      originAmount: 0.125,
      billingResult: 0.13,
      storedCardAmount: 0.13,
      deductionAmount: 0.13,
      oweAmount: 0,
      billingResultDetails: [{ instrument: card.id, amount: 0.13 }],
    }),
    line('2026-01-01', appB, sms, {
      ...none,
      consumption: '3',
      count: 3,
      originAmount: 0.135,
      billingResult: 0.14,
      couponAmount: 0.07,
      storedCardAmount: 0.07,
      deductionAmount: 0.14,
      oweAmount: 0,
      billingResultDetails: [
        { instrument: coupon.id, amount: 0.07 },
        { instrument: card.id, amount: 0.07 },
      ],
    }),
    line('2026-01-02', appA, sms, {
      ...none,
      consumption: '7',
      count: 7,
      originAmount: 0.315,
      billingResult: 0.32,
      cashAmount: 0.1,
      cashCouldAmount: 0.1,
      deductionAmount: 0.2,
      oweAmount: 0.12,
      billingResultDetails: [
        { instrument: 'cash', amount: 0.1 },
        { instrument: marketplace.id, amount: 0.1 },
      ],
    }),
    line('2026-01-02', appB, voice, {
      ...none,
      consumption: '4',
      count: 4,
      originAmount: 0.05,
      billingResult: 0.05,
      deductionAmount: 0,
      oweAmount: 0.05,
      billingResultDetails: [],
    }),
    line('2026-01-03', appB, sms, {
      ...none,
      consumption: '20',
      count: 20,
      originAmount: 0.9,
      billingResult: 0.9,
      deductionAmount: 0,
      oweAmount: 0.9,
      billingResultDetails: [],
    }),
  ];

  it('lists every settled line with every field of the seed, a real value of the right type', async () => {
    const content = contentOf(await detailList('?startDate=20260101&endDate=20260105', withKey(tenantKey)));
    const seedFields = {
      consumeTimeOfDay: 'string',
      orgName: 'string',
      productName: 'string',
      productDetail: 'string',
      billingCycle: 'string',
      billingResult: 'number',
      deductionAmount: 'number',
      oweAmount: 'number',
      originAmount: 'number',
      serviceBillingAmount: 'number',
      couponAmount: 'number',
      storedCardAmount: 'number',
      cashAmount: 'number',
      cashCouldAmount: 'number',
      commodityCategory: 'string',
      consumePlatform: 'string',
      customerIdentifier: 'string',
      consumption: 'string',
      workspaceUuid: 'string',
      workspaceName: 'string',
      consumeTime: 'number',
      tag6: 'string',
      billingResultDetails: 'object',
      count: 'number',
      billingKey: 'string',
    };
    expect(content).toHaveLength(6);
    for (const item of content) {
      const fields = item as unknown as Record<string, unknown>;
      for (const [field, type] of Object.entries(seedFields)) {
        expect(typeof fields[field], field).toBe(type);
        // The seed's example shows "None" placeholders; a real answer never does.
        expect(fields[field], field).not.toBe('None');
        if (type === 'string' && field !== 'customerIdentifier') expect(fields[field], field).not.toBe('');
      }
      expect(Array.isArray(item.billingResultDetails)).toBe(true);
      expect(Number.isInteger(item.count) && Number.isInteger(item.consumeTime)).toBe(true);
      expect(item.consumeTimeOfDay).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    }
    expect(content).toEqual(expectedLines());
  });

  it('matches the settlement: each line its stored amounts, and payable = deductions + owed', async () => {
    const content = contentOf(await detailList('?startDate=20260101&endDate=20260131', withKey(tenantKey)));
    const lines = await linesOf(tenantId);
    const minor = (major: number) => BigInt(Math.round(major * 100));
    expect(content.map((item) => [item.consumeTimeOfDay, item.workspaceUuid, item.billingKey])).toEqual(
      lines.map((row) => [row.settled_day, row.app_id, row.billing_key]),
    );
    content.forEach((item, index) => {
      const row = lines[index];
      expect(row).toBeDefined();
      if (row === undefined) return;
      expect([
        minor(item.billingResult),
        minor(item.couponAmount),
        minor(item.storedCardAmount),
        minor(item.cashAmount),
        minor(item.cashCouldAmount),
        minor(item.oweAmount),
        String(item.originAmount),
        BigInt(item.count),
      ]).toEqual([
        row.billing_result,
        row.coupon_amount,
        row.stored_card_amount,
        row.cash_amount,
        row.cloud_marketplace_amount,
        row.owe_amount,
        row.origin_amount,
        row.consumption,
      ]);
      expect(minor(item.deductionAmount) + minor(item.oweAmount)).toBe(minor(item.billingResult));
      expect(item.billingResultDetails.reduce((sum, part) => sum + minor(part.amount), 0n)).toBe(
        minor(item.deductionAmount),
      );
    });
    // The owed parts are the tenant's payg records: 2 January's two lines, 3 January's one.
    const records = await paygRecordsOf(tenantId);
    expect(records.map((record) => [record.total_amount, record.line_items.length])).toEqual([
      [0.17, 2],
      [0.9, 1],
    ]);
    expect(await balancesOf(tenantId)).toEqual({ [coupon.id]: 0, [card.id]: 0, [marketplace.id]: 0 });
  });

  it('reads only the days asked for', async () => {
    const content = contentOf(await detailList('?startDate=20260102&endDate=20260102', withKey(tenantKey)));
    expect(content).toEqual(expectedLines().filter((item) => item.consumeTimeOfDay === '2026-01-02'));
    expect(contentOf(await detailList('?startDate=20260104&endDate=20260131', withKey(tenantKey)))).toEqual([]);
  });

  it("shows a key limited to one app only that workspace, and another tenant's key only its own tenant", async () => {
    const appOnly = contentOf(await detailList('?startDate=20260101&endDate=20260105', withKey(appAKey)));
    expect(appOnly).toEqual(expectedLines().filter((item) => item.workspaceUuid === appA));

    const other = contentOf(await detailList('?startDate=20260101&endDate=20260105', withKey(otherTenantKey)));
    expect(other).toHaveLength(1);
    expect(other[0]).toMatchObject({
      consumeTimeOfDay: '2026-01-01',
      orgName: `Tenant ${otherTenantId}`,
      workspaceUuid: 'app_pg_detail_other',
      billingKey: sms,
      consumption: '1',
      billingResult: 0.05, // 0.045 → 0.05
      oweAmount: 0.05,
      consumePlatform: 'direct',
      customerIdentifier: '',
      consumeTime: Date.parse('2026-01-01T00:00:00Z'),
      billingResultDetails: [],
    });
  });

  it('answers missing, empty and malformed dates with 400 in the seed envelope, naming the parameter', async () => {
    const headers = withKey(tenantKey);
    const cases: [string, string][] = [
      ['?endDate=20260105', 'startDate'],
      ['?startDate=20260101', 'endDate'],
      ['', 'startDate'],
      ['?startDate=&endDate=20260105', 'startDate'],
      ['?startDate=20260101&endDate=', 'endDate'],
      ['?startDate=2023-07-31&endDate=20230731', 'startDate'],
      ['?startDate=20230731&endDate=2023073', 'endDate'],
      ['?startDate=20230230&endDate=20230301', 'startDate'],
      ['?startDate=20230731&endDate=20231331', 'endDate'],
      ['?startDate=20260105&endDate=20260101', 'startDate'],
      ['?startDate=20260101&endDate=20260201', 'endDate'], // 32 days, both included
      ['?startDate=20260101&startDate=20260102&endDate=20260105', 'startDate'],
    ];
    for (const [query, parameter] of cases) {
      const body = expectDetailError(await detailList(query, headers), 400, parameter);
      expect(body.errorCode, query).toBe('validation_error');
    }
    // 31 days, both included, is allowed.
    expect(contentOf(await detailList('?startDate=20251215&endDate=20260114', headers))).toHaveLength(6);
  });

  it('answers a date PostgreSQL has no day for (year 0) in the envelope, never with a server error', async () => {
    const response = await detailList('?startDate=00000101&endDate=00000102', withKey(tenantKey));
    // Year 0 is not a calendar year of the database: either refused as a bad startDate or an empty answer.
    if (response.statusCode === 200) expect(contentOf(response)).toEqual([]);
    else expectDetailError(response, 400, 'startDate');
  });

  it('refuses a missing, unknown or revoked key with 401, and never reads a key from the query string', async () => {
    const query = '?startDate=20260101&endDate=20260105';
    expectDetailError(await detailList(query, { 'x-request-id': 'trace-detail' }), 401);
    expectDetailError(await detailList(query, withKey(`dfk_${'0'.repeat(40)}`)), 401);
    expectDetailError(await detailList(query, withKey('')), 401);

    const revoked = await givenApiKey(t, tenantId);
    expect(contentOf(await detailList(query, withKey(revoked.key)))).toHaveLength(6);
    const revocation = await asTenantAdmin(t, tenantId).delete(`/billing/api-keys/${tenantId}/${revoked.id}`);
    expect(revocation.statusCode, revocation.body).toBe(200);
    expectDetailError(await detailList(query, withKey(revoked.key)), 401);

    // The key in the query string alone is not read: 401, as without any key.
    const inQuery = await detailList(`${query}&DF-API-KEY=${tenantKey}`, { 'x-request-id': 'trace-detail' });
    expectDetailError(inQuery, 401);
    expect(inQuery.body).not.toContain(tenantKey);
    // With a key in the header as well, the query-string copy is an unknown parameter: 400.
    const both = await detailList(`${query}&DF-API-KEY=${tenantKey}`, withKey(tenantKey));
    expectDetailError(both, 400, 'DF-API-KEY');
    expect(both.body).not.toContain(tenantKey);
  });
});
