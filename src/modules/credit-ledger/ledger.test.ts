import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asPlatformAdmin, asTenantAdmin } from '../../testing/api.js';
import { balanceOf, givenTenant } from '../../testing/fixtures.js';
import { createTestApp, type TestApp } from '../../testing/test-app.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
  await givenTenant(t, 'tnt_xyz789');
});
afterAll(() => t.close());

/** A write as a platform admin, with a fresh Idempotency-Key unless one is given. */
const post = (url: string, payload: Record<string, unknown> = {}, key?: string) =>
  asPlatformAdmin(t).post(url, payload, { key });

const balance = () => balanceOf(t, 'tnt_xyz789');

describe('credit ledger', () => {
  it('starts at zero, takes promo, top-up and adjustments, and lists them newest first with balances', async () => {
    expect(await balance()).toBe(0);
    t.clock.set('2026-05-12T10:00:00Z');
    const promo = await post('/admin/credits/tnt_xyz789/promo', { amount: 100, remark: 'Welcome credit' });
    expect(promo.statusCode, promo.body).toBe(201);
    expect(promo.json<{ data: unknown }>().data).toMatchObject({
      amount: 100,
      balance: 100,
      source: 'promo',
      type: 'credit',
      remark: 'Welcome credit',
      tenant_id: 'tnt_xyz789',
      created_at: '2026-05-12T10:00:00Z',
    });
    t.clock.set('2026-05-12T11:00:00Z');
    expect((await post('/admin/credits/tnt_xyz789/top-up', { amount: 50.5, source_id: 'pay_1' })).statusCode).toBe(201);
    t.clock.set('2026-05-12T12:00:00Z');
    const debit = await post('/admin/credits/tnt_xyz789/adjust', { type: 'debit', amount: 0.5, remark: 'Correction' });
    expect(debit.json<{ data: { balance: number } }>().data.balance).toBe(150);
    expect(await balance()).toBe(150);

    const list = await asTenantAdmin(t, 'tnt_xyz789').get('/billing/credit-transactions/tnt_xyz789?page_size=2');
    const body = list.json<{ items: { source: string; balance: number }[]; total: number }>();
    expect(body.total).toBe(3);
    expect(body.items.map((item) => [item.source, item.balance])).toEqual([
      ['manual_adjust', 150],
      ['top_up', 150.5],
    ]);
    const promos = await asTenantAdmin(t, 'tnt_xyz789').get('/billing/credit-transactions/tnt_xyz789?source=promo');
    expect(promos.json<{ total: number }>().total).toBe(1);
  });

  it('refuses an overdraft with 422 and writes nothing, and replays that refusal', async () => {
    const refused = await post(
      '/admin/credits/tnt_xyz789/adjust',
      { type: 'debit', amount: 1000, remark: 'Too much' },
      'over',
    );
    expect(refused.statusCode).toBe(422);
    expect(refused.json()).toMatchObject({ error: { type: 'insufficient_balance' } });
    expect(await balance()).toBe(150);
    const replay = await post(
      '/admin/credits/tnt_xyz789/adjust',
      { type: 'debit', amount: 1000, remark: 'Too much' },
      'over',
    );
    expect(replay.body).toBe(refused.body);
  });

  it('pays a record from the balance in part, then in full, and refunds it back', async () => {
    const created = await post('/admin/records/tnt_xyz789', {
      type: 'one_time',
      description: 'Setup fee',
      lines: [{ description: 'Setup', resource_type: 'one_time', quantity: 1, unit_price: 100 }],
      finalize: true,
    });
    const id = created.json<{ data: { record_id: string } }>().data.record_id;
    const part = await post(`/admin/records/tnt_xyz789/${id}/pay-from-balance`, { amount: 40 });
    expect(part.statusCode, part.body).toBe(200);
    expect(part.json<{ data: unknown }>().data).toMatchObject({ status: 'pending', amount_paid: 40 });
    const rest = await post(`/admin/records/tnt_xyz789/${id}/pay-from-balance`);
    expect(rest.json<{ data: unknown }>().data).toMatchObject({ status: 'paid', amount_paid: 106 });
    expect(await balance()).toBe(44);
    const refund = await post(`/admin/records/tnt_xyz789/${id}/refund`, { reason: 'Cancelled' });
    expect(refund.json<{ data: { status: string } }>().data.status).toBe('refunded');
    expect(await balance()).toBe(150);
  });

  it('keeps the books at the database: chains, zero sums, and no edits', async () => {
    const db = t.database.db;
    const { rows } = await sql<{ unbalanced: bigint }>`
      select count(*) as unbalanced from (
        select transaction_id from ledger_entries group by tenant_id, transaction_id having sum(amount) <> 0) x`.execute(
      db,
    );
    expect(rows[0]?.unbalanced).toBe(0n);
    await expect(sql`update ledger_entries set amount = amount + 1`.execute(db)).rejects.toThrow(/immutable/);
    await expect(sql`delete from ledger_transactions`.execute(db)).rejects.toThrow(/immutable/);
    await expect(sql`truncate ledger_entries cascade`.execute(db)).rejects.toThrow(/immutable/);
    await expect(sql`update ledger_accounts set balance = -1 where id = 'cash'`.execute(db)).rejects.toThrow(/check/i);
  });
});

describe('tenant currency', () => {
  it('cannot change once the tenant holds a credit balance in it', async () => {
    const admin = asPlatformAdmin(t);
    const change = await admin.patch('/admin/tenants/tnt_xyz789', { currency: 'USD' });
    expect(change.statusCode).toBe(409);
    const same = await admin.patch('/admin/tenants/tnt_xyz789', { currency: 'CNY' });
    expect(same.statusCode).toBe(200);
  });
});
