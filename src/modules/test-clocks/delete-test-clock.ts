import { sql } from 'kysely';
import type { Clock } from '../../core/clock.js';
import { AppError, notFound } from '../../core/errors.js';
import { fail, ok, type Result } from '../../core/result.js';
import type { Db } from '../../db/database.js';
import type { Database } from '../../db/schema.js';
import { staleAdvanceMs } from './repository.js';

/**
 * Every table whose rows belong to a tenant (a `tenant_id` column), children before the rows
 * they reference, so deleting in this order meets no foreign key. A table added with a
 * `tenant_id` must be added here: test-clocks.test.ts compares this list with the schema.
 */
export const tenantOwnedTables = [
  'webhook_delivery_attempts',
  'webhook_deliveries',
  'webhook_endpoints',
  'events',
  'payg_deductions',
  'payg_settlement_lines',
  'payg_settlements',
  'payg_instruments',
  'notification_outbox',
  'notifications',
  'usage_alert_firings',
  'usage_alerts',
  'metered_billings',
  'usage_distinct_counts',
  'usage_distinct_values',
  'usage_daily',
  'usage_events',
  'subscription_events',
  'subscription_periods',
  'subscriptions',
  'ledger_entries',
  'ledger_transactions',
  'ledger_accounts',
  'idempotency_keys',
  'invoice_sequences',
  'billing_record_events',
  'billing_record_lines',
  'billing_records',
  // Counters of search (migration 0016): the records' deletion is noted for the commit, which
  // finds the tenants gone and moves nothing.
  'billing_record_counts',
  'billing_record_count_deltas',
  'api_keys',
  'apps',
] as const satisfies readonly (keyof Database)[];

/**
 * Deletes a test clock, its tenants and every row they own, in one transaction. Insert-only
 * tables refuse DELETE; their trigger lets it through for rows of a tenant whose test clock the
 * transaction names in `billing.deleting_test_clock` (migration 0012), and a tenant's clock is
 * fixed at creation, so no real tenant's history can be deleted this way. A clock being advanced
 * is refused (unless its advance has died: it has not moved for `staleAdvanceMs`).
 */
export const deleteTestClock = (
  db: Db,
  clock: Clock,
  clockId: string,
): Promise<Result<{ id: string; deletedTenants: string[] }>> =>
  db.transaction().execute(async (trx) => {
    const found = await trx
      .selectFrom('test_clocks')
      .selectAll()
      .where('id', '=', clockId)
      .forUpdate()
      .executeTakeFirst();
    if (found === undefined) return fail(notFound('test clock'));
    if (found.status === 'advancing' && clock.now().getTime() - found.updated_at.getTime() < staleAdvanceMs) {
      return fail(new AppError('conflict', `test clock ${clockId} is being advanced`));
    }
    // Its tenants, locked: a request for one of them waits, then finds it gone.
    const tenants = (
      await trx
        .selectFrom('tenants')
        .select('id')
        .where('test_clock_id', '=', clockId)
        .orderBy('id')
        .forUpdate()
        .execute()
    ).map((row) => row.id);
    if (tenants.length > 0) {
      await sql`select set_config('billing.deleting_test_clock', ${clockId}, true)`.execute(trx);
      for (const table of tenantOwnedTables) {
        await trx.deleteFrom(table).where('tenant_id', 'in', tenants).execute();
      }
      await trx.deleteFrom('tenants').where('test_clock_id', '=', clockId).execute();
    }
    await trx.deleteFrom('test_clocks').where('id', '=', clockId).execute();
    return ok({ id: clockId, deletedTenants: tenants });
  });
