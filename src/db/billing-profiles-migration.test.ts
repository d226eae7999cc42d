import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateToLatest } from './migrate.js';
import { createTestDatabase, type TestDatabase } from '../testing/test-database.js';

/*
 * 0017 gives tenants written before it the language of their documents (zh-CN when they bill in
 * CNY, else en) and keeps that default for tenants inserted without one; it adds the one-row
 * issuer table. What the database itself refuses is checked here, under the API's validation.
 */

let database: TestDatabase;
beforeAll(async () => {
  database = await createTestDatabase('0015_billable_metrics');
});
afterAll(() => database.destroy());

const insertTenant = (id: string, currency: string, locale?: string) =>
  locale === undefined
    ? sql`insert into tenants (id, name, currency, time_zone, tax_rate, admin_user_id, status, created_at, updated_at)
          values (${id}, 'Old', ${currency}, 'UTC', 0.06, 'usr_old', 'active', now(), now())`.execute(database.db)
    : sql`insert into tenants (id, name, currency, time_zone, tax_rate, admin_user_id, status, created_at, updated_at,
                               locale)
          values (${id}, 'New', ${currency}, 'UTC', 0.06, 'usr_new', 'active', now(), now(), ${locale})`.execute(
        database.db,
      );

const localesOf = async () =>
  (await sql<{ id: string; locale: string }>`select id, locale from tenants order by id`.execute(database.db)).rows.map(
    (row) => [row.id, row.locale],
  );

describe('migration 0017', () => {
  it('backfills zh-CN for CNY tenants and en for the others, then defaults new tenants the same way', async () => {
    await insertTenant('tnt_old_cny', 'CNY');
    await insertTenant('tnt_old_usd', 'USD');
    await insertTenant('tnt_old_jpy', 'JPY');

    await migrateToLatest(database.db);

    expect(await localesOf()).toEqual([
      ['tnt_old_cny', 'zh-CN'],
      ['tnt_old_jpy', 'en'],
      ['tnt_old_usd', 'en'],
    ]);
    await insertTenant('tnt_new_cny', 'CNY');
    await insertTenant('tnt_new_eur', 'EUR');
    await insertTenant('tnt_new_cny_en', 'CNY', 'en');
    expect(await localesOf()).toEqual(
      expect.arrayContaining([
        ['tnt_new_cny', 'zh-CN'],
        ['tnt_new_eur', 'en'],
        ['tnt_new_cny_en', 'en'],
      ]),
    );
    const { rows } = await sql<{ billing_email: string | null }>`
      select billing_email from tenants where id = 'tnt_old_cny'`.execute(database.db);
    expect(rows).toEqual([{ billing_email: null }]);
  });

  it.each([
    [`update tenants set locale = 'fr' where id = 'tnt_old_cny'`, 'check'],
    [`update tenants set locale = null where id = 'tnt_old_cny'`, 'null'],
    [`update tenants set billing_tax_id = 'DE_1' where id = 'tnt_old_cny'`, 'check'],
    [`update tenants set billing_email = 'two words@x.com' where id = 'tnt_old_cny'`, 'check'],
    [`update tenants set billing_address = E'bell\\x07' where id = 'tnt_old_cny'`, 'check'],
    [`update tenants set billing_legal_name = '' where id = 'tnt_old_cny'`, 'check'],
    [
      `insert into document_issuer (id, legal_name, updated_at, updated_by) values (false, 'X', now(), 'usr_x')`,
      'check',
    ],
    [
      `insert into document_issuer (legal_name, logo, updated_at, updated_by) values ('X', '\\x89', now(), 'usr_x')`,
      'check',
    ],
    [
      `insert into document_issuer (legal_name, phone, updated_at, updated_by) values ('X', 'call me', now(), 'usr_x')`,
      'check',
    ],
  ])('the database refuses %s', async (statement, kind) => {
    await expect(sql.raw(statement).execute(database.db)).rejects.toThrow(kind === 'null' ? /null/ : /check/);
  });

  it('holds at most one issuer', async () => {
    const insert = () =>
      sql`insert into document_issuer (legal_name, updated_at, updated_by) values ('X', now(), 'usr_x')`.execute(
        database.db,
      );
    await insert();
    await expect(insert()).rejects.toThrow(/duplicate key|unique/);
  });
});
