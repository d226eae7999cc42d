import { AppError } from '../../core/errors.js';
import type { Db } from '../../db/database.js';
import type { ApiKeyAuthenticator } from '../auth/access.js';
import { findActiveKeyByHash } from './repository.js';
import { hashApiKey, looksLikeApiKey } from './secret.js';

const invalidKey = (): AppError => new AppError('unauthorized', 'invalid API key');

export const createApiKeyAuthenticator = (db: Db): ApiKeyAuthenticator => ({
  async authenticate(presentedKey) {
    if (!looksLikeApiKey(presentedKey)) throw invalidKey();
    const key = await findActiveKeyByHash(db, hashApiKey(presentedKey));
    if (key === undefined) throw invalidKey();
    return { keyId: key.id, tenantId: key.tenant_id, appId: key.app_id };
  },
});
