import { invalidParameter, notFound } from '../../core/errors.js';
import { newId } from '../../core/ids.js';
import { fail, ok, type Result } from '../../core/result.js';
import { findApp } from '../apps/repository.js';
import type { Principal } from '../../core/principal.js';
import type { TenantContext } from '../tenant-context.js';
import { findTenant } from '../tenants/repository.js';
import { insertApiKey, type ApiKeyRow } from './repository.js';
import type { CreateApiKeyInput } from './schemas.js';
import { generateApiKey, hashApiKey } from './secret.js';

export interface ApiKeyCreation extends TenantContext {
  principal: Principal;
  input: CreateApiKeyInput;
}

/** Creates a key and returns it in clear this once; only its hash is kept. */
export const createApiKey = async ({
  db,
  clock,
  scope,
  principal,
  input,
}: ApiKeyCreation): Promise<Result<{ row: ApiKeyRow; key: string }>> => {
  if ((await findTenant(db, scope)) === undefined) return fail(notFound('tenant'));
  if (input.app_id !== undefined && (await findApp(db, scope, input.app_id)) === undefined) {
    return fail(invalidParameter('body', 'app_id', `names no app of this tenant`));
  }
  const { key, displayPrefix } = generateApiKey();
  const row = await insertApiKey(db, scope, {
    id: newId('apiKey'),
    name: input.name,
    app_id: input.app_id ?? null,
    key_prefix: displayPrefix,
    secret_hash: hashApiKey(key),
    created_by: principal.userId,
    created_at: clock.now(),
  });
  return ok({ row, key });
};
