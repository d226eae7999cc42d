import { notFound } from '../../core/errors.js';
import { fail, ok, type Result } from '../../core/result.js';
import type { Principal } from '../../core/principal.js';
import type { TenantContext } from '../tenant-context.js';
import { findApiKey, revokeApiKey as revokeRow, type ApiKeyRow } from './repository.js';

export interface ApiKeyRevocation extends TenantContext {
  principal: Principal;
  keyId: string;
}

/** Revoking is final and repeatable: revoking a revoked key returns it unchanged. */
export const revokeApiKey = async ({
  db,
  clock,
  scope,
  principal,
  keyId,
}: ApiKeyRevocation): Promise<Result<ApiKeyRow>> => {
  const revoked = await revokeRow({ db, scope, keyId, revokedBy: principal.userId, at: clock.now() });
  if (revoked !== undefined) return ok(revoked);
  const existing = await findApiKey(db, scope, keyId);
  return existing === undefined ? fail(notFound('API key')) : ok(existing);
};
