import type { Clock } from '../../core/clock.js';
import { ok, type Result } from '../../core/result.js';
import type { Db } from '../../db/database.js';
import type { TenantScope } from '../../core/principal.js';
import { createTenant } from './create-tenant.js';
import { findTenantForUpdate, type TenantRow } from './repository.js';
import type { SyncTenantInput } from './schemas.js';
import { updateTenant } from './update-tenant.js';

/**
 * The platform's tenant service pushes its tenants here: creates the tenant on first sight,
 * otherwise applies what was sent. Safe to repeat; concurrent syncs of one tenant serialise on its row.
 */
export const syncTenant = (
  db: Db,
  clock: Clock,
  scope: TenantScope,
  input: SyncTenantInput,
): Promise<Result<{ tenant: TenantRow; created: boolean }>> =>
  db.transaction().execute(async (trx) => {
    const existing = await findTenantForUpdate(trx, scope);
    if (existing === undefined) {
      const created = await createTenant(trx, clock, { ...input, tenant_id: scope.tenantId });
      if (created.ok) return ok({ tenant: created.value, created: true });
      if (created.error.type !== 'conflict') return created;
      // Another sync inserted it between our read and insert: apply ours as an update.
    }
    const updated = await updateTenant(trx, clock, scope, input);
    return updated.ok ? ok({ tenant: updated.value, created: false }) : updated;
  });
