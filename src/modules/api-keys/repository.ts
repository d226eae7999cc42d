import type { Insertable, Selectable } from 'kysely';
import type { PageRequest } from '../../core/pagination.js';
import type { Db } from '../../db/database.js';
import { fetchPage } from '../../db/paginate.js';
import type { ApiKeysTable } from '../../db/schema.js';
import type { TenantScope } from '../../core/principal.js';

export type ApiKeyRow = Selectable<ApiKeysTable>;

export const insertApiKey = (
  db: Db,
  scope: TenantScope,
  row: Omit<Insertable<ApiKeysTable>, 'tenant_id'>,
): Promise<ApiKeyRow> =>
  db
    .insertInto('api_keys')
    .values({ ...row, tenant_id: scope.tenantId })
    .returningAll()
    .executeTakeFirstOrThrow();

export const listApiKeys = async (
  db: Db,
  scope: TenantScope,
  page: PageRequest,
): Promise<{ rows: ApiKeyRow[]; total: number }> => {
  const query = db.selectFrom('api_keys').where('tenant_id', '=', scope.tenantId);
  return fetchPage(query, (query) => query.selectAll().orderBy('created_at', 'desc').orderBy('id', 'desc'), page);
};

export const findApiKey = (db: Db, scope: TenantScope, keyId: string): Promise<ApiKeyRow | undefined> =>
  db
    .selectFrom('api_keys')
    .selectAll()
    .where('tenant_id', '=', scope.tenantId)
    .where('id', '=', keyId)
    .executeTakeFirst();

export interface KeyRevocation {
  db: Db;
  scope: TenantScope;
  keyId: string;
  revokedBy: string;
  at: Date;
}

/** Revokes once: a key already revoked keeps its first revocation. */
export const revokeApiKey = ({ db, scope, keyId, revokedBy, at }: KeyRevocation): Promise<ApiKeyRow | undefined> =>
  db
    .updateTable('api_keys')
    .set({ revoked_at: at, revoked_by: revokedBy })
    .where('tenant_id', '=', scope.tenantId)
    .where('id', '=', keyId)
    .where('revoked_at', 'is', null)
    .returningAll()
    .executeTakeFirst();

/**
 * The one lookup that is not tenant-scoped: at authentication the tenant is not yet known, and
 * the key's hash is what tells it. Only active keys of active tenants are found.
 */
export const findActiveKeyByHash = (db: Db, secretHash: string) =>
  db
    .selectFrom('api_keys')
    .innerJoin('tenants', 'tenants.id', 'api_keys.tenant_id')
    .select(['api_keys.id', 'api_keys.tenant_id', 'api_keys.app_id'])
    .where('api_keys.secret_hash', '=', secretHash)
    .where('api_keys.revoked_at', 'is', null)
    .where('tenants.status', '=', 'active')
    .executeTakeFirst();
