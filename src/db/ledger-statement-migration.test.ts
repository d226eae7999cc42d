import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateToLatest } from './migrate.js';
import { createTestDatabase, type TestDatabase } from '../testing/test-database.js';

/*
 * 0009 gives every transaction already written its place in its tenant-side account's chain
 * (cash or an instrument's), on a table that is otherwise insert-only.
 */

let database: TestDatabase;
beforeAll(async () => {
  database = await createTestDatabase('0008_payg');
});
afterAll(() => database.destroy());

const post = ({
  transactionId,
  type,
  amount,
  source,
  account,
}: {
  transactionId: string;
  type: string;
  amount: number;
  source: string;
  account: string;
}) =>
  sql`select ledger_post('tnt_old', ${transactionId}, ${type}, ${amount}::bigint, ${source}, null, '',
                         '2026-01-01T00:00:00Z'::timestamptz, 'CNY', ${account}, ${`source:${source}`})`.execute(
    database.db,
  );

describe('migration 0009 over a ledger written before it', () => {
  it('backfills each transaction with its tenant-side account and version, and keeps the table insert-only', async () => {
    await sql`insert into tenants (id, name, currency, time_zone, tax_rate, admin_user_id, status, created_at, updated_at)
              values ('tnt_old', 'Old', 'CNY', 'Asia/Shanghai', 0.06, 'usr_old', 'active', now(), now())`.execute(
      database.db,
    );
    await post({
      transactionId: 'ctr_0000000000000001',
      type: 'credit',
      amount: 500,
      source: 'promo',
      account: 'cash',
    });
    await post({
      transactionId: 'ctr_0000000000000002',
      type: 'credit',
      amount: 300,
      source: 'coupon_issue',
      account: 'instrument:cpn_0000000000000001',
    });
    await post({
      transactionId: 'ctr_0000000000000003',
      type: 'debit',
      amount: 200,
      source: 'manual_adjust',
      account: 'cash',
    });
    await post({
      transactionId: 'ctr_0000000000000004',
      type: 'credit',
      amount: 100,
      source: 'top_up',
      account: 'cash',
    });

    await migrateToLatest(database.db);

    const { rows } = await sql<{ id: string; account_id: string; account_version: string }>`
      select id, account_id, account_version::text from ledger_transactions order by id`.execute(database.db);
    expect(rows).toEqual([
      { id: 'ctr_0000000000000001', account_id: 'cash', account_version: '1' },
      { id: 'ctr_0000000000000002', account_id: 'instrument:cpn_0000000000000001', account_version: '1' },
      { id: 'ctr_0000000000000003', account_id: 'cash', account_version: '2' },
      { id: 'ctr_0000000000000004', account_id: 'cash', account_version: '3' },
    ]);
    await expect(sql`update ledger_transactions set remark = 'changed'`.execute(database.db)).rejects.toThrow();
  });
});
