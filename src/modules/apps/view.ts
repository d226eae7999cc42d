import { toRfc3339 } from '../../core/clock.js';
import type { AppRow } from './repository.js';
import type { AppView } from './schemas.js';

export const toAppView = (row: AppRow): AppView => ({
  app_id: row.id,
  tenant_id: row.tenant_id,
  name: row.name,
  status: row.status,
  created_at: toRfc3339(row.created_at),
  updated_at: toRfc3339(row.updated_at),
});
