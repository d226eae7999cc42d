import type { Insertable, Selectable } from 'kysely';
import type { PageRequest } from '../../core/pagination.js';
import type { TenantScope } from '../../core/principal.js';
import type { Db } from '../../db/database.js';
import { fetchPage } from '../../db/paginate.js';
import type { EventsTable } from '../../db/schema.js';

export type EventRow = Selectable<EventsTable>;
export type NewEventRow = Insertable<EventsTable>;

/** Events in one multi-row statement (a billing run batch's, or a single one). */
export const insertEvents = async (db: Db, rows: readonly NewEventRow[]): Promise<void> => {
  if (rows.length === 0) return;
  await db
    .insertInto('events')
    .values([...rows])
    .execute();
};

export interface EventFilter {
  /** Exact types, or every type of one object (`subscription.*` → prefix `subscription.`). */
  type?: { exact: string } | { prefix: string } | undefined;
  createdFrom?: Date | undefined;
  createdTo?: Date | undefined;
}

/** A tenant's events, newest first, ties by id (descending, as ids carry their time). */
export const listEvents = (db: Db, scope: TenantScope, filter: EventFilter, page: PageRequest) => {
  let query = db.selectFrom('events').where('tenant_id', '=', scope.tenantId);
  const { type, createdFrom, createdTo } = filter;
  if (type !== undefined && 'exact' in type) query = query.where('type', '=', type.exact);
  if (type !== undefined && 'prefix' in type) query = query.where('type', 'like', `${type.prefix}%`);
  if (createdFrom !== undefined) query = query.where('created_at', '>=', createdFrom);
  if (createdTo !== undefined) query = query.where('created_at', '<=', createdTo);
  return fetchPage(query, (rows) => rows.selectAll().orderBy('created_at', 'desc').orderBy('id', 'desc'), page);
};

export const findEvent = (db: Db, scope: TenantScope, eventId: string): Promise<EventRow | undefined> =>
  db
    .selectFrom('events')
    .selectAll()
    .where('tenant_id', '=', scope.tenantId)
    .where('id', '=', eventId)
    .executeTakeFirst();

/** Read here rather than through tenants, which emits events itself (`tenant.updated`). */
export const tenantExists = async (db: Db, scope: TenantScope): Promise<boolean> =>
  (await db.selectFrom('tenants').select('id').where('id', '=', scope.tenantId).executeTakeFirst()) !== undefined;
