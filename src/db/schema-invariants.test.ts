import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../testing/test-database.js';

/**
 * Tables that belong to no tenant. Anything else must lead its primary key with tenant_id, so
 * repositories can always scope by tenant and a Citus cluster can co-locate a tenant's rows.
 */
const platformTables = new Set([
  'tenants',
  'plans',
  'plan_versions',
  'plan_version_resources',
  'export_audit_log',
  'payg_products',
  'billable_metrics',
  'test_clocks',
  // The platform operator printed on every invoice: one row, no tenant's.
  'document_issuer',
  // Platform-wide endpoints have no tenant, and receive every tenant's events: tenant_id is nullable.
  'webhook_endpoints',
  'webhook_deliveries',
  'webhook_delivery_attempts',
  // Keyed by a transaction's id: a row exists only while a transaction that changed billing
  // records is in flight (migration 0016).
  'billing_record_count_flushes',
  'kysely_migration',
  'kysely_migration_lock',
]);

let database: TestDatabase;
beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(() => database.destroy());

describe('schema invariants', () => {
  it('every tenant-owned table has tenant_id as the first column of its primary key', async () => {
    const { rows } = await sql<{ table_name: string; first_key_column: string | null }>`
      select t.table_name,
             (select a.attname
                from pg_index i
                join pg_attribute a on a.attrelid = i.indrelid and a.attnum = i.indkey[0]
               where i.indrelid = (quote_ident(t.table_name))::regclass and i.indisprimary) as first_key_column
        from information_schema.tables t
       where t.table_schema = 'public' and t.table_type = 'BASE TABLE'
       order by t.table_name`.execute(database.db);
    const tenantOwned = rows.filter((row) => !platformTables.has(row.table_name));
    expect(tenantOwned.length).toBeGreaterThan(0);
    for (const row of tenantOwned) {
      expect({ table: row.table_name, first: row.first_key_column }).toEqual({
        table: row.table_name,
        first: 'tenant_id',
      });
    }
  });

  it('every platform table in the list exists, so the list cannot hide a renamed table', async () => {
    const { rows } = await sql<{ table_name: string }>`
      select table_name from information_schema.tables where table_schema = 'public'`.execute(database.db);
    const present = new Set(rows.map((row) => row.table_name));
    for (const table of platformTables) expect(present.has(table), table).toBe(true);
  });

  it('normalises driver types: int8 as bigint, numeric as exact text, timestamptz as Date', async () => {
    const { rows } = await sql<{ big: unknown; price: unknown; at: unknown; counted: unknown }>`
      select 9007199254740993::int8 as big, 0.0000000001::numeric as price,
             '2026-02-28T16:00:00Z'::timestamptz as at, count(*) as counted from (values (1), (2)) v`.execute(
      database.db,
    );
    expect(rows[0]).toEqual({
      big: 9007199254740993n,
      price: '0.0000000001',
      at: new Date('2026-02-28T16:00:00Z'),
      counted: 2n,
    });
  });

  it('round-trips bigint parameters beyond 2^53 exactly', async () => {
    const { rows } = await sql<{ value: bigint }>`select ${9007199254740993n}::int8 as value`.execute(database.db);
    expect(rows[0]?.value).toBe(9007199254740993n);
  });

  it('refuses UPDATE, DELETE and TRUNCATE on plan versions', async () => {
    const at = new Date('2026-01-01T00:00:00Z');
    await database.db
      .insertInto('plans')
      .values({ id: 'basic', name: 'Basic', status: 'active', current_version: 1, created_at: at, updated_at: at })
      .execute();
    await database.db
      .insertInto('plan_versions')
      .values({
        plan_id: 'basic',
        version: 1,
        currency: 'CNY',
        monthly_price: 9900n,
        yearly_price: null,
        trial_days: 0,
        grace_period_days: 7,
        downgrade_policy: 'at_period_end',
        created_at: at,
      })
      .execute();
    await expect(sql`update plan_versions set monthly_price = 1`.execute(database.db)).rejects.toThrow(/immutable/);
    await expect(sql`delete from plan_versions`.execute(database.db)).rejects.toThrow(/immutable/);
    await expect(sql`truncate plan_versions cascade`.execute(database.db)).rejects.toThrow(/immutable/);
  });
});
