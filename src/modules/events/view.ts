import { toRfc3339 } from '../../core/clock.js';
import type { EventRow } from './repository.js';

export const toEventView = (row: EventRow) => ({
  id: row.id,
  type: row.type,
  tenant_id: row.tenant_id,
  app_id: row.app_id,
  created_at: toRfc3339(row.created_at),
  data: row.data,
});
