import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { atOnce, openConnections, statusCounts } from '../testing/concurrency.js';
import { givenTenant } from '../testing/fixtures.js';
import { createTestApp, type TestApp } from '../testing/test-app.js';

/*
 * Every "find or create" raced by parallel first requests: on the server each request has a
 * connection of its own, so they check for the row at the same time. None may answer 5xx, and
 * exactly one row is created. Paths with a race test of their own elsewhere: invoice counters
 * (billing-records/numbering.test.ts), usage events and rollups (usage/usage.test.ts), tenant
 * sync (tenants/tenants.test.ts), idempotency keys (idempotency/idempotency.test.ts), alert
 * firings with their notifications (usage-alerts/usage-alerts.test.ts), settlement markers
 * (payg/payg.test.ts), plan version numbers (plans/plans.test.ts).
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

const send = (
  method: 'POST' | 'PUT',
  url: string,
  payload: Record<string, unknown>,
  key?: string,
  headers: Record<string, string> = admin,
) =>
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
      send(
        'POST',
        '/admin/payg/tnt_race_marketplace/cloud-marketplace',
        { amount: 10 + i, customer_identifier: 'aws-acct-race' },
        `marketplace-${i}`,
      ),
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
      send('POST', '/admin/credits/tnt_race_accounts/promo', { amount: 1 + i }, `accounts-${i}`),
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
      send('POST', '/admin/tenants', { tenant_id: 'tnt_race_same_id', name: `Race ${i}`, admin_user_id: 'usr_race' }),
    );
    expect(statusCounts(responses)).toEqual({ 201: 1, 409: racers - 1 });
    expect(await countOf(sql`select count(*)::int as n from tenants where id = 'tnt_race_same_id'`)).toBe(1);
  });

  it("an app's first syncs: one created, the others update it", async () => {
    await givenTenant(t, 'tnt_race_apps');
    const service = await t.as.service();
    const responses = await atOnce(racers, (i) =>
      send(
        'PUT',
        '/internal/billing/tenants/tnt_race_apps/apps/app_race_sync',
        { name: `Sync ${i}` },
        undefined,
        service,
      ),
    );
    expect(statusCounts(responses)).toEqual({ 200: racers - 1, 201: 1 });
    expect(await countOf(sql`select count(*)::int as n from apps where id = 'app_race_sync'`)).toBe(1);
  });

  it('an app created with the same id at once: one 201, the others 409', async () => {
    await givenTenant(t, 'tnt_race_app_ids');
    const responses = await atOnce(racers, (i) =>
      send('POST', '/admin/tenants/tnt_race_app_ids/apps', { app_id: 'app_race_same_id', name: `App ${i}` }),
    );
    expect(statusCounts(responses)).toEqual({ 201: 1, 409: racers - 1 });
    expect(await countOf(sql`select count(*)::int as n from apps where id = 'app_race_same_id'`)).toBe(1);
  });

  it('a plan created with the same id at once: one 201 with its version 1, the others 409', async () => {
    const responses = await atOnce(racers, (i) =>
      send('POST', '/admin/plans', { plan_id: 'race_plan', name: `Plan ${i}`, currency: 'CNY', monthly_price: 9 + i }),
    );
    expect(statusCounts(responses)).toEqual({ 201: 1, 409: racers - 1 });
    expect(await countOf(sql`select count(*)::int as n from plan_versions where plan_id = 'race_plan'`)).toBe(1);
  });

  it('a pay-as-you-go product created with the same key at once: one 201, the others 409', async () => {
    const responses = await atOnce(racers, (i) =>
      send('POST', '/admin/payg/products', {
        billing_key: 'race_product',
        display_name: `Product ${i}`,
        unit_price: '0.01',
      }),
    );
    expect(statusCounts(responses)).toEqual({ 201: 1, 409: racers - 1 });
    expect(await countOf(sql`select count(*)::int as n from payg_products where billing_key = 'race_product'`)).toBe(1);
  });

  it("a tenant's first subscription: one 201, the others 409", async () => {
    await givenTenant(t, 'tnt_race_subscribe');
    const plan = await send('POST', '/admin/plans', {
      plan_id: 'race_subscribe',
      name: 'Race',
      currency: 'CNY',
      monthly_price: 9,
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
});
