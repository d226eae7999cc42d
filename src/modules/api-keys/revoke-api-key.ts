import type { Clock } from '../../core/clock.js';
import { notFound } from '../../core/errors.js';
import { fail, ok, type Result } from '../../core/result.js';
import type { Db } from '../../db/database.js';
import type { Principal, TenantScope } from '../../core/principal.js';
import { findApiKey, revokeApiKey as revokeRow, type ApiKeyRow } from './repository.js';

/** Revoking is final and repeatable: revoking a revoked key returns it unchanged. */
export const revokeApiKey = async (
  db: Db,
  clock: Clock,
  scope: TenantScope,
  principal: Principal,
  keyId: string,
): Promise<Result<ApiKeyRow>> => {
  const revoked = await revokeRow(db, scope, keyId, principal.userId, clock.now());
  if (revoked !== undefined) return ok(revoked);
  const existing = await findApiKey(db, scope, keyId);
  return existing === undefined ? fail(notFound('API key')) : ok(existing);
};
