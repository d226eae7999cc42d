import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateToLatest } from './migrate.js';
import { createTestDatabase, type TestDatabase } from '../testing/test-database.js';

/*
 * 0016 counts the records already written (finalised ones, per tenant, UTC day and month, app and
 * status), and from then on its triggers keep the counts.
 */

let database: TestDatabase;
beforeAll(async () => {
  database = await createTestDatabase('0015_billable_metrics');
});
afterAll(() => database.destroy());

const counts = () =>
  sql<{ span: string; start: string; app_id: string; status: string; n: bigint }>`
    select span, start, app_id, status, n from billing_record_counts order by span, start, app_id, status`.execute(
    database.db,
  );

describe('migration 0016 over records written before it', () => {
  it('counts every finalised record once per UTC day and month, drafts not at all', async () => {
    const db = database.db;
    await sql`insert into tenants (id, name, currency, time_zone, tax_rate, admin_user_id, status, created_at, updated_at)
              values ('tnt_old', 'Old', 'CNY', 'Asia/Shanghai', 0, 'usr_old', 'active', now(), now())`.execute(db);
    await sql`insert into apps (tenant_id, id, name, status, created_at, updated_at)
              values ('tnt_old', 'app_old', 'Old', 'active', now(), now())`.execute(db);
    // n: created at, app, status. 2026-01-31T16:30Z is already February in Shanghai: UTC decides.
    const rows: [string, string | null, string][] = [
      ['2026-01-31T16:30:00Z', 'app_old', 'paid'],
      ['2026-01-31T23:59:59.999Z', 'app_old', 'paid'],
      ['2026-02-01T00:00:00Z', 'app_old', 'paid'],
      ['2026-02-01T00:00:00Z', null, 'pending'],
      ['2026-02-14T12:00:00Z', null, 'refunded'],
      ['2026-02-14T12:00:00Z', 'app_old', 'draft'],
    ];
    for (const [index, [at, app, status]] of rows.entries()) {
      const id = `rec_old${String(index).padStart(13, '0')}`;
      const final = status === 'draft' ? null : at;
      await sql`insert into billing_records (tenant_id, id, app_id, type, status, currency, description, amount,
                                             tax_amount, total_amount, invoice_number, search_text, created_at,
                                             finalized_at, due_at, updated_at)
                values ('tnt_old', ${id}, ${app}, 'one_time', ${status}, 'CNY', 'old', 100, 0, 100,
                        ${final === null ? null : `INV-2026-00${index}`}, ${id}, ${at}, ${final}, ${final}, ${at})`.execute(
        db,
      );
    }

    await migrateToLatest(db);

    expect((await counts()).rows).toEqual([
      { span: 'day', start: '2026-01-31', app_id: 'app_old', status: 'paid', n: 2n },
      { span: 'day', start: '2026-02-01', app_id: '', status: 'pending', n: 1n },
      { span: 'day', start: '2026-02-01', app_id: 'app_old', status: 'paid', n: 1n },
      { span: 'day', start: '2026-02-14', app_id: '', status: 'refunded', n: 1n },
      { span: 'month', start: '2026-01-01', app_id: 'app_old', status: 'paid', n: 2n },
      { span: 'month', start: '2026-02-01', app_id: '', status: 'pending', n: 1n },
      { span: 'month', start: '2026-02-01', app_id: '', status: 'refunded', n: 1n },
      { span: 'month', start: '2026-02-01', app_id: 'app_old', status: 'paid', n: 1n },
    ]);

    // From now on the triggers count: the draft finalised, a paid record refunded.
    await sql`update billing_records set status = 'pending', invoice_number = 'INV-2026-009',
                     finalized_at = created_at, due_at = created_at
               where id = 'rec_old0000000000005'`.execute(db);
    await sql`update billing_records set status = 'refunded' where id = 'rec_old0000000000002'`.execute(db);
    const after = (await counts()).rows.filter((row) => row.start === '2026-02-01' || row.start === '2026-02-14');
    // Zeros are deleted: app_old's paid counters of February are gone.
    expect(after).toEqual([
      { span: 'day', start: '2026-02-01', app_id: '', status: 'pending', n: 1n },
      { span: 'day', start: '2026-02-01', app_id: 'app_old', status: 'refunded', n: 1n },
      { span: 'day', start: '2026-02-14', app_id: '', status: 'refunded', n: 1n },
      { span: 'day', start: '2026-02-14', app_id: 'app_old', status: 'pending', n: 1n },
      { span: 'month', start: '2026-02-01', app_id: '', status: 'pending', n: 1n },
      { span: 'month', start: '2026-02-01', app_id: '', status: 'refunded', n: 1n },
      { span: 'month', start: '2026-02-01', app_id: 'app_old', status: 'pending', n: 1n },
      { span: 'month', start: '2026-02-01', app_id: 'app_old', status: 'refunded', n: 1n },
    ]);
  });
});
