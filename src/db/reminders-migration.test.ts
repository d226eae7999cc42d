import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateToLatest } from './migrate.js';
import { createTestDatabase, type TestDatabase } from '../testing/test-database.js';
import { insertOldTenantAndPlan } from '../testing/migration-rows.js';

/*
 * 0013 gives records finalised before it a due date (the default terms: due when finalised) and
 * trials started before it the time of their trial_will_end reminder.
 */

let database: TestDatabase;
beforeAll(async () => {
  database = await createTestDatabase('0010_events');
});
afterAll(() => database.destroy());

const record = (id: string, status: string, finalizedAt: string | null) =>
  sql`insert into billing_records (tenant_id, id, type, status, currency, description, amount, tax_amount,
                                   total_amount, invoice_number, search_text, created_at, finalized_at, updated_at)
      values ('tnt_old', ${id}, 'one_time', ${status}, 'CNY', 'Old', 100, 6, 106,
              ${finalizedAt === null ? null : `INV-2026-${id.slice(-3)}`}, ${id}, '2026-01-01T00:00:00Z',
              ${finalizedAt}::timestamptz, '2026-01-01T00:00:00Z')`.execute(database.db);

const trial = (id: string, start: string, trialEnd: string) =>
  sql`insert into subscriptions (tenant_id, id, plan_id, plan_version, admin_user_id, status, billing_cycle, amount,
                                 currency, billing_anchor, period_index, current_period_start, current_period_end,
                                 trial_end_date, grace_period_days, auto_renew, cancel_at_period_end, payment_method,
                                 next_run_at, created_at, updated_at, ended_at)
      values ('tnt_old', ${id}, 'old', 1, 'usr_old', ${id === 'sub_000000000000live' ? 'trialing' : 'canceled'}, 'monthly', 9900,
              'CNY', ${trialEnd}::timestamptz, -1, ${start}::timestamptz, ${trialEnd}::timestamptz,
              ${trialEnd}::timestamptz, 3, true, false, 'manual', ${trialEnd}::timestamptz, ${start}::timestamptz,
              ${start}::timestamptz, ${id === 'sub_000000000000live' ? null : start}::timestamptz)`.execute(
    database.db,
  );

describe('migration 0013 over records and trials written before it', () => {
  it('gives finalised records their due date, drafts none, trials their reminder time, tenants terms 0', async () => {
    await insertOldTenantAndPlan(database.db, { trialDays: 14, graceDays: 3 });
    await record('rec_000000000000pend', 'pending', '2026-01-02T00:00:00Z');
    await record('rec_000000000000paid', 'paid', '2026-01-03T00:00:00Z');
    await record('rec_00000000000draft', 'draft', null);
    await trial('sub_000000000000live', '2026-01-01T00:00:00Z', '2026-01-15T00:00:00Z');
    await trial('sub_00000000000short', '2026-01-01T00:00:00Z', '2026-01-02T00:00:00Z');

    await migrateToLatest(database.db);

    const records = await sql<{ id: string; due_at: Date | null; overdue_at: Date | null }>`
      select id, due_at, overdue_at from billing_records order by id`.execute(database.db);
    expect(records.rows).toEqual([
      { id: 'rec_000000000000paid', due_at: new Date('2026-01-03T00:00:00Z'), overdue_at: null },
      { id: 'rec_000000000000pend', due_at: new Date('2026-01-02T00:00:00Z'), overdue_at: null },
      { id: 'rec_00000000000draft', due_at: null, overdue_at: null },
    ]);
    const trials = await sql<{ id: string; trial_will_end_at: Date; trial_will_end_sent_at: Date | null }>`
      select id, trial_will_end_at, trial_will_end_sent_at from subscriptions order by id`.execute(database.db);
    expect(trials.rows).toEqual([
      { id: 'sub_000000000000live', trial_will_end_at: new Date('2026-01-12T00:00:00Z'), trial_will_end_sent_at: null },
      { id: 'sub_00000000000short', trial_will_end_at: new Date('2026-01-01T00:00:00Z'), trial_will_end_sent_at: null },
    ]);
    const terms = await sql<{ payment_terms_days: number }>`select payment_terms_days from tenants`.execute(
      database.db,
    );
    expect(terms.rows).toEqual([{ payment_terms_days: 0 }]);
    // A finalised record must have a due date from now on.
    await expect(record('rec_0000000000000new', 'pending', '2026-02-01T00:00:00Z')).rejects.toThrow(
      /billing_records_due_when_finalized/,
    );
  });
});
