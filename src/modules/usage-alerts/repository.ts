import type { Insertable, Selectable, Updateable } from 'kysely';
import type { PageRequest } from '../../core/pagination.js';
import type { Db, DbTransaction } from '../../db/database.js';
import { fetchPage } from '../../db/paginate.js';
import type { UsageAlertsTable } from '../../db/schema.js';
import type { TenantScope } from '../../core/principal.js';
import { tenantOnClock } from '../../db/tenant-clock-filter.js';

export type AlertRow = Selectable<UsageAlertsTable>;

export const insertAlert = (db: Db, scope: TenantScope, row: Omit<Insertable<UsageAlertsTable>, 'tenant_id'>) =>
  db
    .insertInto('usage_alerts')
    .values({ ...row, tenant_id: scope.tenantId })
    .returningAll()
    .executeTakeFirstOrThrow();

export const findAlert = (db: Db, scope: TenantScope, alertId: string): Promise<AlertRow | undefined> =>
  db
    .selectFrom('usage_alerts')
    .selectAll()
    .where('tenant_id', '=', scope.tenantId)
    .where('id', '=', alertId)
    .executeTakeFirst();

export const lockAlert = (trx: DbTransaction, scope: TenantScope, alertId: string): Promise<AlertRow | undefined> =>
  trx
    .selectFrom('usage_alerts')
    .selectAll()
    .where('tenant_id', '=', scope.tenantId)
    .where('id', '=', alertId)
    .forUpdate()
    .executeTakeFirst();

export const updateAlert = (
  db: Db,
  scope: TenantScope,
  alertId: string,
  patch: Omit<Updateable<UsageAlertsTable>, 'tenant_id' | 'id' | 'created_at'>,
): Promise<AlertRow> =>
  db
    .updateTable('usage_alerts')
    .set(patch)
    .where('tenant_id', '=', scope.tenantId)
    .where('id', '=', alertId)
    .returningAll()
    .executeTakeFirstOrThrow();

/** The tenant's alerts, newest first, ties by id. */
export const listAlerts = (db: Db, scope: TenantScope, page: PageRequest) =>
  fetchPage(
    db.selectFrom('usage_alerts').where('tenant_id', '=', scope.tenantId),
    (query) => query.selectAll().orderBy('created_at', 'desc').orderBy('id', 'desc'),
    page,
  );

/** Active alerts of these tenants. */
export const findActiveAlerts = (db: Db, tenantIds: string[]): Promise<AlertRow[]> =>
  tenantIds.length === 0
    ? Promise.resolve([])
    : db
        .selectFrom('usage_alerts')
        .selectAll()
        .where('tenant_id', 'in', tenantIds)
        .where('status', '=', 'active')
        .orderBy('tenant_id')
        .orderBy('id')
        .execute();

/** Tenants with at least one active alert, for the scheduled evaluation: of this test clock, or (null) on real time. */
export const tenantsWithActiveAlerts = async (db: Db, testClockId: string | null): Promise<string[]> => {
  return (
    await db
      .selectFrom('usage_alerts')
      .select('tenant_id')
      .distinct()
      .where('status', '=', 'active')
      .where(tenantOnClock(testClockId))
      .execute()
  ).map((row) => row.tenant_id);
};
