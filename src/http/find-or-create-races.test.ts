import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { atOnce, openConnections, statusCounts } from '../testing/concurrency.js';
import { givenApp, givenTenant } from '../testing/fixtures.js';
import { createTestApp, testStart, type TestApp } from '../testing/test-app.js';

/*
 * Every "find or create" raced by parallel first requests: on the server each request has a
 * connection of its own, so they check for the row at the same time. None may answer 5xx, and
 * exactly one row is created. Raced in tests of their own elsewhere: alert firings with their
 * notifications and outbox messages (usage-alerts/usage-alerts.test.ts), settlement markers
 * (payg/payg.test.ts), plan version numbers (plans/plans.test.ts), large usage batches
 * (usage/usage.test.ts), the ledger under load (credit-ledger/concurrency.test.ts).
 */

const racers = 8;
let t: TestApp;
let admin: Record<string, string>;
beforeAll(async () => {
  t = await createTestApp();
  admin = await t.as.platformAdmin();
  await openConnections(t.database.db, racers);
});
afterAll(() => t.close());

const send = ({
  method,
  url,
  payload,
  key,
  headers = admin,
}: {
  method: 'POST' | 'PUT';
  url: string;
  payload: Record<string, unknown>;
  key?: string | undefined;
  headers?: Record<string, string> | undefined;
}) =>
  t.app.inject({
    method,
    url,
    headers: { ...headers, ...(key === undefined ? {} : { 'idempotency-key': key }) },
    payload,
  });

const countOf = async (query: ReturnType<typeof sql<{ n: number }>>): Promise<number> =>
  (await query.execute(t.database.db)).rows[0]?.n ?? -1;

describe('find or create, raced by parallel first requests', () => {
  it("a tenant's cloud-marketplace balance: every first top-up lands on one instrument", async () => {
    await givenTenant(t, 'tnt_race_marketplace');
    const responses = await atOnce(racers, (i) =>
      send({
        method: 'POST',
        url: '/admin/payg/tnt_race_marketplace/cloud-marketplace',
        payload: { amount: 10 + i, customer_identifier: 'aws-acct-race' },
        key: `marketplace-${i}`,
      }),
    );
    expect(statusCounts(responses)).toEqual({ 201: racers });
    const ids = new Set(responses.map((response) => response.json<{ data: { id: string } }>().data.id));
    expect(ids.size).toBe(1);
    const { rows } = await sql<{ n: number; issued: string; balance: string }>`
      select count(*)::int as n, sum(i.issued_amount)::text as issued, sum(a.balance)::text as balance
        from payg_instruments i join ledger_accounts a on a.tenant_id = i.tenant_id and a.id = i.account_id
       where i.tenant_id = 'tnt_race_marketplace'`.execute(t.database.db);
    // 10 + 11 + … + 17 major units, in cents.
    expect(rows[0]).toEqual({ n: 1, issued: '10800', balance: '10800' });
    expect(
      await countOf(sql`select count(*)::int as n from ledger_accounts
                         where tenant_id = 'tnt_race_marketplace' and id like 'instrument:%'`),
    ).toBe(1);
  });

  it("a tenant's ledger accounts: parallel first postings open each account once", async () => {
    await givenTenant(t, 'tnt_race_accounts');
    const responses = await atOnce(racers, (i) =>
      send({
        method: 'POST',
        url: '/admin/credits/tnt_race_accounts/promo',
        payload: { amount: 1 + i },
        key: `accounts-${i}`,
      }),
    );
    expect(statusCounts(responses)).toEqual({ 201: racers });
    const { rows } = await sql<{ id: string; version: string }>`
      select id, version::text from ledger_accounts where tenant_id = 'tnt_race_accounts' order by id`.execute(
      t.database.db,
    );
    expect(rows).toEqual([
      { id: 'cash', version: String(racers) },
      { id: 'source:promo', version: String(racers) },
    ]);
  });

  it('a tenant created with the same id at once: one 201, the others 409', async () => {
    const responses = await atOnce(racers, (i) =>
      send({
        method: 'POST',
        url: '/admin/tenants',
        payload: { tenant_id: 'tnt_race_same_id', name: `Race ${i}`, admin_user_id: 'usr_race' },
      }),
    );
    expect(statusCounts(responses)).toEqual({ 201: 1, 409: racers - 1 });
    expect(await countOf(sql`select count(*)::int as n from tenants where id = 'tnt_race_same_id'`)).toBe(1);
  });

  it("an app's first syncs: one created, the others update it", async () => {
    await givenTenant(t, 'tnt_race_apps');
    const service = await t.as.service();
    const responses = await atOnce(racers, (i) =>
      send({
        method: 'PUT',
        url: '/internal/billing/tenants/tnt_race_apps/apps/app_race_sync',
        payload: { name: `Sync ${i}` },
        headers: service,
      }),
    );
    expect(statusCounts(responses)).toEqual({ 200: racers - 1, 201: 1 });
    expect(await countOf(sql`select count(*)::int as n from apps where id = 'app_race_sync'`)).toBe(1);
  });

  it('an app created with the same id at once: one 201, the others 409', async () => {
    await givenTenant(t, 'tnt_race_app_ids');
    const responses = await atOnce(racers, (i) =>
      send({
        method: 'POST',
        url: '/admin/tenants/tnt_race_app_ids/apps',
        payload: { app_id: 'app_race_same_id', name: `App ${i}` },
      }),
    );
    expect(statusCounts(responses)).toEqual({ 201: 1, 409: racers - 1 });
    expect(await countOf(sql`select count(*)::int as n from apps where id = 'app_race_same_id'`)).toBe(1);
  });

  it('a plan created with the same id at once: one 201 with its version 1, the others 409', async () => {
    const responses = await atOnce(racers, (i) =>
      send({
        method: 'POST',
        url: '/admin/plans',
        payload: { plan_id: 'race_plan', name: `Plan ${i}`, currency: 'CNY', monthly_price: 9 + i },
      }),
    );
    expect(statusCounts(responses)).toEqual({ 201: 1, 409: racers - 1 });
    expect(await countOf(sql`select count(*)::int as n from plan_versions where plan_id = 'race_plan'`)).toBe(1);
  });

  it('a pay-as-you-go product created with the same key at once: one 201, the others 409', async () => {
    const responses = await atOnce(racers, (i) =>
      send({
        method: 'POST',
        url: '/admin/payg/products',
        payload: {
          billing_key: 'race_product',
          display_name: `Product ${i}`,
          unit_price: '0.01',
        },
      }),
    );
    expect(statusCounts(responses)).toEqual({ 201: 1, 409: racers - 1 });
    expect(await countOf(sql`select count(*)::int as n from payg_products where billing_key = 'race_product'`)).toBe(1);
  });

  it("a tenant's first subscription: one 201, the others 409", async () => {
    await givenTenant(t, 'tnt_race_subscribe');
    const plan = await send({
      method: 'POST',
      url: '/admin/plans',
      payload: {
        plan_id: 'race_subscribe',
        name: 'Race',
        currency: 'CNY',
        monthly_price: 9,
      },
    });
    expect(plan.statusCode, plan.body).toBe(201);
    const tenantAdmin = await t.as.tenant('tnt_race_subscribe');
    const responses = await atOnce(racers, (i) =>
      t.app.inject({
        method: 'POST',
        url: '/billing/subscriptions/tnt_race_subscribe',
        headers: { ...tenantAdmin, 'idempotency-key': `subscribe-${i}` },
        payload: { plan_id: 'race_subscribe', billing_cycle: 'monthly' },
      }),
    );
    expect(statusCounts(responses)).toEqual({ 201: 1, 409: racers - 1 });
    expect(
      await countOf(sql`select count(*)::int as n from subscriptions where tenant_id = 'tnt_race_subscribe'`),
    ).toBe(1);
  });

  it("a tenant's first syncs: one created, the others update it", async () => {
    const service = await t.as.service();
    const responses = await atOnce(racers, (i) =>
      send({
        method: 'PUT',
        url: '/internal/billing/tenants/tnt_race_sync',
        payload: { name: `Sync ${i}`, admin_user_id: 'usr_race' },
        headers: service,
      }),
    );
    expect(statusCounts(responses)).toEqual({ 200: racers - 1, 201: 1 });
    expect(await countOf(sql`select count(*)::int as n from tenants where id = 'tnt_race_sync'`)).toBe(1);
  });

  it("a tenant-year's invoice counter: first finalisations at once are numbered from one counter, gapless", async () => {
    await givenTenant(t, 'tnt_race_invoices');
    const responses = await atOnce(racers, (i) =>
      send({
        method: 'POST',
        url: '/admin/records/tnt_race_invoices',
        payload: {
          type: 'one_time',
          description: `Race ${i}`,
          lines: [{ description: 'Service', resource_type: 'one_time', quantity: 1, unit_price: 10 }],
          finalize: true,
        },
        key: `invoice-${i}`,
      }),
    );
    expect(statusCounts(responses)).toEqual({ 201: racers });
    const numbers = responses.map(
      (response) => response.json<{ data: { invoice_number: string } }>().data.invoice_number,
    );
    expect(numbers.sort()).toEqual(
      Array.from({ length: racers }, (_, i) => `INV-2026-${String(i + 1).padStart(3, '0')}`),
    );
    const { rows } = await sql<{ year: number; last_seq: number }>`
      select year, last_seq from invoice_sequences where tenant_id = 'tnt_race_invoices'`.execute(t.database.db);
    expect(rows).toEqual([{ year: 2026, last_seq: racers }]);
  });

  it('one Idempotency-Key sent at once: one posting and one stored key; the others see it in flight or replayed', async () => {
    await givenTenant(t, 'tnt_race_key');
    const responses = await atOnce(racers, () =>
      send({ method: 'POST', url: '/admin/credits/tnt_race_key/promo', payload: { amount: 5 }, key: 'the-same-key' }),
    );
    const counts = statusCounts(responses);
    expect((counts[201] ?? 0) + (counts[409] ?? 0)).toBe(racers);
    const firsts = responses.filter((r) => r.statusCode === 201 && r.headers['idempotent-replayed'] === 'false');
    expect(firsts).toHaveLength(1);
    for (const response of responses.filter((r) => r.statusCode === 409)) {
      expect(response.json<{ message: string }>().message).toMatch(/still in progress/);
    }
    expect(await countOf(sql`select count(*)::int as n from idempotency_keys where tenant_id = 'tnt_race_key'`)).toBe(
      1,
    );
    expect(
      await countOf(sql`select count(*)::int as n from ledger_transactions where tenant_id = 'tnt_race_key'`),
    ).toBe(1);
  });

  it("one usage event sent at once in separate batches: stored once, counted once in its day's rollup", async () => {
    await givenTenant(t, 'tnt_race_usage');
    await givenApp(t, 'tnt_race_usage', 'app_race_usage');
    const service = await t.as.service();
    const event = {
      event_id: 'evt_race',
      tenant_id: 'tnt_race_usage',
      app_id: 'app_race_usage',
      resource_type: 'api_requests',
      quantity: 5,
      timestamp: testStart,
    };
    const responses = await atOnce(racers, () =>
      send({ method: 'POST', url: '/billing/usage/events', payload: { events: [event] }, headers: service }),
    );
    expect(statusCounts(responses)).toEqual({ 200: racers });
    const accepted = responses.map((response) => response.json<{ data: { accepted: number } }>().data.accepted);
    expect(accepted.reduce((sum, n) => sum + n, 0)).toBe(1);
    expect(await countOf(sql`select count(*)::int as n from usage_events where tenant_id = 'tnt_race_usage'`)).toBe(1);
    const { rows } = await sql<{ quantity: string; event_count: string }>`
      select quantity::text, event_count::text from usage_daily where tenant_id = 'tnt_race_usage'`.execute(
      t.database.db,
    );
    expect(rows).toEqual([{ quantity: '5', event_count: '1' }]);
  });
});
