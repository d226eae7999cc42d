import { toRfc3339 } from '../../core/clock.js';
import type { ApiKeyRow } from './repository.js';
import type { ApiKeyView } from './schemas.js';

export const toApiKeyView = (row: ApiKeyRow): ApiKeyView => ({
  id: row.id,
  tenant_id: row.tenant_id,
  name: row.name,
  app_id: row.app_id,
  key_prefix: row.key_prefix,
  created_by: row.created_by,
  created_at: toRfc3339(row.created_at),
  revoked_at: row.revoked_at === null ? null : toRfc3339(row.revoked_at),
});
