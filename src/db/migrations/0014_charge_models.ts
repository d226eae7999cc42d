import type { Kysely } from 'kysely';
import { executeStatements } from '../statements.js';

const chargeModels = `'per_unit', 'graduated', 'volume', 'package'`;

/** The columns of a charge model, on a plan version's resources and on a metered period's snapshot of them. */
const chargeColumns = (table: string): string[] => [
  `alter table ${table}
     add column charge_model text not null default 'per_unit' check (charge_model in (${chargeModels})),
     -- [{up_to, unit_price, flat_fee}], prices as decimal text, the last up_to null.
     add column tiers jsonb
       check (case when jsonb_typeof(tiers) = 'array' then jsonb_array_length(tiers) >= 1 else tiers is null end),
     add column package_size bigint check (package_size >= 1),
     add column package_price numeric check (package_price >= 0),
     alter column overage_unit_price drop not null`,
  // Each model has its fields and no other's; included_units stays: the free units of any model.
  `alter table ${table} add constraint ${table}_charge_fields check (
     (overage_unit_price is not null) = (charge_model = 'per_unit')
     and (tiers is not null) = (charge_model in ('graduated', 'volume'))
     and (package_size is not null) = (charge_model = 'package')
     and (package_price is not null) = (charge_model = 'package'))`,
];

/**
 * Charge models: a plan version's resource is priced per unit (as before: every existing row
 * becomes per_unit, unchanged), by graduated or volume tiers, or by packages. A metered period
 * keeps a snapshot of the model it bills by; its overage_units are the billable units, which
 * for volume pricing are all of them once the free units are passed.
 */
export const up = (db: Kysely<unknown>): Promise<void> =>
  executeStatements(db, [
    ...chargeColumns('plan_version_resources'),
    ...chargeColumns('metered_billings'),
    // 0005's check that overage_units = greatest(total_usage - included_units, 0) (the table's first unnamed check).
    `alter table metered_billings drop constraint metered_billings_check`,
    `alter table metered_billings add constraint metered_billings_billable_units check (
       case when charge_model = 'volume'
            then overage_units = case when total_usage > included_units then total_usage else 0 end
            else overage_units = greatest(total_usage - included_units, 0) end)`,
  ]);

export const down = (db: Kysely<unknown>): Promise<void> =>
  executeStatements(db, [
    `alter table metered_billings drop constraint metered_billings_billable_units`,
    `alter table metered_billings add constraint metered_billings_check
       check (overage_units = greatest(total_usage - included_units, 0))`,
    ...['metered_billings', 'plan_version_resources'].flatMap((table) => [
      `alter table ${table} drop constraint ${table}_charge_fields`,
      `alter table ${table} alter column overage_unit_price set not null`,
      `alter table ${table} drop column charge_model, drop column tiers, drop column package_size, drop column package_price`,
    ]),
  ]);
