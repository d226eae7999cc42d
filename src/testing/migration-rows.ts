import { sql } from 'kysely';
import type { Db } from '../db/database.js';

/**
 * Tenant `tnt_old` and plan `old` (version 1, 99.00 CNY a month), written straight into a database
 * migrated only up to the migration a backfill test is about, as rows written before it were.
 */
export const insertOldTenantAndPlan = async (
  db: Db,
  { trialDays, graceDays }: { trialDays: number; graceDays: number },
): Promise<void> => {
  await sql`insert into tenants (id, name, currency, time_zone, tax_rate, admin_user_id, status, created_at, updated_at)
            values ('tnt_old', 'Old', 'CNY', 'UTC', 0.06, 'usr_old', 'active', now(), now())`.execute(db);
  await sql`insert into plans (id, name, status, current_version, created_at, updated_at)
            values ('old', 'Old', 'active', 1, now(), now())`.execute(db);
  await sql`insert into plan_versions (plan_id, version, currency, monthly_price, trial_days, grace_period_days,
                                       downgrade_policy, created_at)
            values ('old', 1, 'CNY', 9900, ${trialDays}, ${graceDays}, 'at_period_end', now())`.execute(db);
};
