import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateToLatest } from './migrate.js';
import { createTestDatabase, type TestDatabase } from '../testing/test-database.js';
import { insertOldTenantAndPlan } from '../testing/migration-rows.js';

/*
 * 0014 gives plan resources and metered periods a charge model: every row written before it is
 * per_unit and otherwise exactly as it was, on a table that stays insert-only.
 */

let database: TestDatabase;
beforeAll(async () => {
  database = await createTestDatabase('0010_events');
});
afterAll(() => database.destroy());

const resourceRow = () =>
  sql<Record<string, unknown>>`select * from plan_version_resources where plan_id = 'old'`.execute(database.db);
const meteredRow = () =>
  sql<Record<string, unknown>>`select * from metered_billings where tenant_id = 'tnt_old'`.execute(database.db);

describe('migration 0014 over plans and metering written before it', () => {
  it('makes every existing row per_unit and leaves the rest of it unchanged', async () => {
    await insertOldTenantAndPlan(database.db, { trialDays: 0, graceDays: 7 });
    await sql`insert into plan_version_resources (plan_id, version, resource_type, included_units, overage_unit_price)
              values ('old', 1, 'api_requests', 10000, 0.002)`.execute(database.db);
    await sql`insert into subscriptions (tenant_id, id, plan_id, plan_version, admin_user_id, status, billing_cycle,
                                         amount, currency, billing_anchor, period_index, current_period_start,
                                         current_period_end, grace_period_days, auto_renew, cancel_at_period_end,
                                         payment_method, next_run_at, created_at, updated_at)
              values ('tnt_old', 'sub_0000000000000001', 'old', 1, 'usr_old', 'active', 'monthly', 9900, 'CNY',
                      '2026-01-01Z', 1, '2026-02-01Z', '2026-03-01Z', 7, true, false, 'manual', '2026-03-01Z',
                      now(), now())`.execute(database.db);
    await sql`insert into metered_billings (tenant_id, subscription_id, resource_type, period_start, period_end,
                                            usage_from, usage_until, total_usage, included_units, overage_units,
                                            overage_unit_price, overage_amount, status, closes_at, created_at, updated_at)
              values ('tnt_old', 'sub_0000000000000001', 'api_requests', '2026-01-01Z', '2026-02-01Z', '2026-01-01',
                      '2026-02-01', 25000, 10000, 15000, 0.002, 30, 'invoiced', '2026-02-04Z', now(), now())`.execute(
      database.db,
    );
    const [resourceBefore] = (await resourceRow()).rows;
    const [meteredBefore] = (await meteredRow()).rows;

    await migrateToLatest(database.db);

    const added = { charge_model: 'per_unit', tiers: null, package_size: null, package_price: null };
    expect((await resourceRow()).rows).toEqual([{ ...resourceBefore, ...added }]);
    expect((await meteredRow()).rows).toEqual([{ ...meteredBefore, ...added }]);
    // Still insert-only.
    await expect(
      sql`update plan_version_resources set charge_model = 'volume' where plan_id = 'old'`.execute(database.db),
    ).rejects.toThrow();
  });

  it('keeps per_unit overage = usage above the included units, and lets volume bill all of it', async () => {
    const write = (chargeModel: string, overageUnits: number) =>
      sql`update metered_billings
             set charge_model = ${chargeModel}, overage_units = ${overageUnits},
                 overage_unit_price = ${chargeModel === 'per_unit' ? '0.002' : null},
                 tiers = ${chargeModel === 'per_unit' ? null : '[{"up_to": null, "unit_price": "0.002", "flat_fee": null}]'}::jsonb
           where tenant_id = 'tnt_old'`.execute(database.db);
    await expect(write('per_unit', 25000)).rejects.toThrow(/metered_billings_billable_units/);
    await expect(write('volume', 15000)).rejects.toThrow(/metered_billings_billable_units/);
    await write('volume', 25000);
    await write('per_unit', 15000);
  });
});
