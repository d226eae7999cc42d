import type { Insertable, Selectable, Updateable } from 'kysely';
import type { PageRequest } from '../../core/pagination.js';
import type { Db, DbTransaction } from '../../db/database.js';
import { fetchPage } from '../../db/paginate.js';
import type { TenantsTable } from '../../db/schema.js';
import type { TenantScope } from '../../core/principal.js';
import type { ListTenantsFilter } from './schemas.js';

export type TenantRow = Selectable<TenantsTable>;

export const findTenant = (db: Db, scope: TenantScope): Promise<TenantRow | undefined> =>
  db.selectFrom('tenants').selectAll().where('id', '=', scope.tenantId).executeTakeFirst();

/** Locks the tenant row for the rest of the transaction. */
export const findTenantForUpdate = (trx: DbTransaction, scope: TenantScope): Promise<TenantRow | undefined> =>
  trx.selectFrom('tenants').selectAll().where('id', '=', scope.tenantId).forUpdate().executeTakeFirst();

/** The frozen time of a test clock, or undefined when there is no such clock. */
export const findTestClockTime = async (db: Db, testClockId: string): Promise<Date | undefined> =>
  (await db.selectFrom('test_clocks').select('frozen_time').where('id', '=', testClockId).executeTakeFirst())
    ?.frozen_time;

/** Inserts unless the id is taken; returns undefined when it was. */
export const insertTenant = (db: Db, row: Insertable<TenantsTable>): Promise<TenantRow | undefined> =>
  db
    .insertInto('tenants')
    .values(row)
    .onConflict((conflict) => conflict.column('id').doNothing())
    .returningAll()
    .executeTakeFirst();

export const updateTenant = (
  db: Db,
  scope: TenantScope,
  patch: Updateable<TenantsTable>,
): Promise<TenantRow | undefined> =>
  db.updateTable('tenants').set(patch).where('id', '=', scope.tenantId).returningAll().executeTakeFirst();

/** Whether the tenant holds invoices or ledger accounts in a currency other than `currency`. */
export const hasMoneyIn = async (db: Db, scope: TenantScope, currency: string): Promise<boolean> => {
  const [record, account] = await Promise.all([
    db
      .selectFrom('billing_records')
      .select('id')
      .where('tenant_id', '=', scope.tenantId)
      .where('currency', '!=', currency)
      .limit(1)
      .executeTakeFirst(),
    db
      .selectFrom('ledger_accounts')
      .select('id')
      .where('tenant_id', '=', scope.tenantId)
      .where('currency', '!=', currency)
      .limit(1)
      .executeTakeFirst(),
  ]);
  return record !== undefined || account !== undefined;
};

/** Platform-wide listing for platform admins; newest first, ties by id. */
export const listTenants = async (
  db: Db,
  filter: ListTenantsFilter & PageRequest,
): Promise<{ rows: TenantRow[]; total: number }> => {
  let query = db.selectFrom('tenants');
  if (filter.admin_user_id !== undefined) query = query.where('admin_user_id', '=', filter.admin_user_id);
  if (filter.status !== undefined) query = query.where('status', '=', filter.status);
  return fetchPage(query, (query) => query.selectAll().orderBy('created_at', 'desc').orderBy('id', 'desc'), filter);
};
