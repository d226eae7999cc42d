import { Decimal } from 'decimal.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decimalOf, majorToMinor } from '../../core/money.js';
import { asPlatformAdmin, asService } from '../../testing/api.js';
import { atOnce, everyPage, statusCounts } from '../../testing/concurrency.js';
import { balanceOf, givenTenant } from '../../testing/fixtures.js';
import { createTestApp, type TestApp } from '../../testing/test-app.js';
import type { CreditTransactionView } from '../../testing/views.js';

/*
 * A statement reads as a running balance: newest first, each row's balance is the next older
 * row's balance plus (credit) or minus (debit) its amount. Postings made at once take the
 * tenant's cash account lock in some order, and that order, not the time each request was
 * dated before it waited for the lock, is the statement's.
 */

/** The JSON number in minor units, exactly (the tenant is CNY). */
const cents = (major: number): bigint => majorToMinor(decimalOf(major), 'CNY', Decimal.ROUND_HALF_UP);

/** Rows, newest first, whose balance does not follow from the next older row's. */
const chainBreaks = (rows: readonly CreditTransactionView[]): string[] =>
  rows.flatMap((row, index) => {
    const older = rows[index + 1]?.balance ?? 0;
    const expected = cents(older) + (row.type === 'credit' ? cents(row.amount) : -cents(row.amount));
    return cents(row.balance) === expected
      ? []
      : [`#${index} ${row.type} ${row.amount} → ${row.balance}, next older balance ${older}`];
  });

let t: TestApp;
const tenantId = 'tnt_statement';
beforeAll(async () => {
  t = await createTestApp();
  await givenTenant(t, tenantId);
});
afterAll(() => t.close());

describe('credit statement under concurrent postings', () => {
  it('chains on every page, and the source-filtered view keeps the same order', async () => {
    const post = (path: string, key: string, payload: Record<string, unknown>) =>
      asPlatformAdmin(t).post(`/admin/credits/${tenantId}/${path}`, payload, { key });
    expect((await post('promo', 'statement-opening', { amount: 100 })).statusCode).toBe(201);
    // 14 top-ups, 4 promos and 4 debits at once, every request dated the same instant.
    const responses = await atOnce(22, (i) =>
      i < 14
        ? post('top-up', `statement-top-up-${i}`, { amount: (101 + i) / 100, source_id: `pay_${i}` })
        : i < 18
          ? post('promo', `statement-promo-${i}`, { amount: (1000 + i) / 100 })
          : post('adjust', `statement-debit-${i}`, { type: 'debit', amount: (50 + i) / 100, remark: `debit ${i}` }),
    );
    expect(statusCounts(responses)).toEqual({ 201: 22 });

    const viewer = await t.as.tenant(tenantId, 'tenant_viewer');
    const statement = await everyPage<CreditTransactionView>(t, `/billing/credit-transactions/${tenantId}`, viewer, 5);
    expect(statement).toHaveLength(23);
    expect(chainBreaks(statement)).toEqual([]);
    expect(await balanceOf(t, tenantId)).toBe(statement[0]?.balance);

    // The compliance export lists the same postings oldest first: the same chain read the other way.
    const exported = await asService(t).post('/internal/billing/export-user-data', {
      user_id: `usr_admin_of_${tenantId}`,
      tenant_id: tenantId,
    });
    expect(exported.statusCode, exported.body).toBe(200);
    const [exportedTenant] = exported.json<{ data: { tenants: { credit_transactions: CreditTransactionView[] }[] } }>()
      .data.tenants;
    expect(exportedTenant?.credit_transactions.map((row) => row.id)).toEqual(statement.map((row) => row.id).reverse());

    for (const source of ['top_up', 'promo', 'manual_adjust']) {
      const filtered = await everyPage<CreditTransactionView>(
        t,
        `/billing/credit-transactions/${tenantId}?source=${source}`,
        viewer,
        5,
      );
      expect(filtered.map((row) => row.id)).toEqual(
        statement.filter((row) => row.source === source).map((row) => row.id),
      );
    }
  });
});
