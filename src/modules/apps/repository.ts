import type { Insertable, Selectable, Updateable } from 'kysely';
import type { PageRequest } from '../../core/pagination.js';
import type { Db } from '../../db/database.js';
import { fetchPage } from '../../db/paginate.js';
import type { AppsTable } from '../../db/schema.js';
import type { TenantScope } from '../../core/principal.js';

export type AppRow = Selectable<AppsTable>;

export const findApp = (db: Db, scope: TenantScope, appId: string): Promise<AppRow | undefined> =>
  db.selectFrom('apps').selectAll().where('tenant_id', '=', scope.tenantId).where('id', '=', appId).executeTakeFirst();

/** Inserts unless the app id is taken (by this tenant or another); returns undefined when it was. */
export const insertApp = (
  db: Db,
  scope: TenantScope,
  row: Omit<Insertable<AppsTable>, 'tenant_id'>,
): Promise<AppRow | undefined> =>
  db
    .insertInto('apps')
    .values({ ...row, tenant_id: scope.tenantId })
    .onConflict((conflict) => conflict.doNothing())
    .returningAll()
    .executeTakeFirst();

export const updateApp = (
  db: Db,
  scope: TenantScope,
  appId: string,
  patch: Pick<Updateable<AppsTable>, 'name' | 'status' | 'updated_at'>,
): Promise<AppRow | undefined> =>
  db
    .updateTable('apps')
    .set(patch)
    .where('tenant_id', '=', scope.tenantId)
    .where('id', '=', appId)
    .returningAll()
    .executeTakeFirst();

export const listApps = async (
  db: Db,
  scope: TenantScope,
  page: PageRequest,
): Promise<{ rows: AppRow[]; total: number }> => {
  const query = db.selectFrom('apps').where('tenant_id', '=', scope.tenantId);
  return fetchPage(query, (query) => query.selectAll().orderBy('created_at', 'desc').orderBy('id', 'desc'), page);
};
