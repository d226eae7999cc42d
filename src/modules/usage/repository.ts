import { sql } from 'kysely';
import type { Db, DbTransaction } from '../../db/database.js';
import { jsonRows } from '../../db/json-rows.js';
import type { TenantScope } from '../../core/principal.js';
import type { DailyUsage } from './rollup.js';
import type { UsageEvent } from './usage-event.js';
import { distinctOverSpans, spanRows, type DistinctSpan } from './distinct-reads.js';

export interface StoredEvent extends UsageEvent {
  usageDate: string;
  fingerprint: string;
  /** Its tenant's time when it arrived. */
  receivedAt: Date;
}

/** Tenants and apps that a batch names, in two queries whatever the batch size. */
export const findBatchOwners = async (db: Db, tenantIds: string[], appIds: string[]) => {
  const [tenants, apps] = await Promise.all([
    tenantIds.length === 0
      ? []
      : db.selectFrom('tenants').select(['id', 'time_zone', 'status']).where('id', 'in', tenantIds).execute(),
    appIds.length === 0
      ? []
      : db.selectFrom('apps').select(['tenant_id', 'id', 'status']).where('id', 'in', appIds).execute(),
  ]);
  return { tenants: new Map(tenants.map((t) => [t.id, t])), apps: new Map(apps.map((a) => [a.id, a])) };
};

/**
 * Stores events whose (tenant, event_id) is new and returns the keys it stored. A concurrent batch
 * holding the same id makes this wait for it, then count the event as already there. The stored
 * events and the usage they add (`addToDailyUsage`) commit together: that is what counts each once.
 */
export const insertNewEvents = async (trx: DbTransaction, events: StoredEvent[]): Promise<Set<string>> => {
  if (events.length === 0) return new Set();
  const rows = await trx
    .insertInto('usage_events')
    .values(
      events.map((event) => ({
        tenant_id: event.tenantId,
        event_id: event.eventId,
        app_id: event.appId,
        resource_type: event.resourceType,
        quantity: event.quantity,
        occurred_at: event.occurredAt,
        usage_date: event.usageDate,
        properties: JSON.stringify(event.properties),
        fingerprint: event.fingerprint,
        received_at: event.receivedAt,
      })),
    )
    .onConflict((conflict) => conflict.columns(['tenant_id', 'event_id']).doNothing())
    .returning(['tenant_id', 'event_id'])
    .execute();
  return new Set(rows.map((row) => eventKey(row.tenant_id, row.event_id)));
};

export const eventKey = (tenantId: string, eventId: string): string => `${tenantId}\u0000${eventId}`;

/** Fingerprints of events stored before, by key. */
export const storedFingerprints = async (db: Db, events: StoredEvent[]): Promise<Map<string, string>> => {
  if (events.length === 0) return new Map();
  const rows = await db
    .selectFrom('usage_events')
    .select(['tenant_id', 'event_id', 'fingerprint'])
    .where((eb) =>
      eb.or(events.map((event) => eb.and([eb('tenant_id', '=', event.tenantId), eb('event_id', '=', event.eventId)]))),
    )
    .execute();
  return new Map(rows.map((row) => [eventKey(row.tenant_id, row.event_id), row.fingerprint]));
};

/** Adds a batch's rollups to the stored ones, each with its resource's aggregation, in key order. */
export const addToDailyUsage = async (
  trx: DbTransaction,
  days: DailyUsage[],
  atOf: (tenantId: string) => Date,
): Promise<void> => {
  if (days.length === 0) return;
  await trx
    .insertInto('usage_daily')
    .values(
      days.map((day) => ({
        tenant_id: day.tenantId,
        app_id: day.appId,
        resource_type: day.resourceType,
        usage_date: day.usageDate,
        aggregation: day.aggregation,
        quantity: day.quantity,
        latest_at: day.latestAt,
        event_count: day.eventCount,
        updated_at: atOf(day.tenantId),
      })),
    )
    .onConflict((conflict) =>
      conflict.columns(['tenant_id', 'app_id', 'resource_type', 'usage_date']).doUpdateSet({
        quantity: sql`case usage_daily.aggregation
          when 'sum' then usage_daily.quantity + excluded.quantity
          when 'max' then greatest(usage_daily.quantity, excluded.quantity)
          else case when excluded.latest_at >= usage_daily.latest_at then excluded.quantity else usage_daily.quantity end
        end`,
        latest_at: sql`greatest(usage_daily.latest_at, excluded.latest_at)`,
        event_count: sql`usage_daily.event_count + excluded.event_count`,
        updated_at: sql`excluded.updated_at`,
      }),
    )
    .execute();
};

export interface DailyTotalsQuery {
  db: Db;
  scope: TenantScope;
  from: string;
  to: string;
  appId?: string | undefined;
}

/** The tenant's usage per day and resource in [from, to], summed over its apps (or one app). */
export const dailyTotals = ({ db, scope, from, to, appId }: DailyTotalsQuery) => {
  let query = db
    .selectFrom('usage_daily')
    .select(['usage_date', 'resource_type', sql<bigint>`sum(quantity)::bigint`.as('quantity')])
    .where('tenant_id', '=', scope.tenantId)
    .where('usage_date', '>=', from)
    .where('usage_date', '<=', to);
  if (appId !== undefined) query = query.where('app_id', '=', appId);
  return query.groupBy(['usage_date', 'resource_type']).execute();
};

/** Whole days [from, until) of a tenant's usage, over all its apps or one. */
export type UsageSpan = DistinctSpan;

/**
 * Usage of each metric over several spans, one map per span in the order given: per day a
 * tenant's apps are added up, then the days are summed (`sum`, `count`) or their highest day taken
 * (`max`, `latest`), in one statement; unique_count metrics are the distinct values of the span.
 */
export const usageOverSpans = async (db: Db, spans: readonly UsageSpan[]): Promise<Map<string, bigint>[]> => {
  const totals = spans.map(() => new Map<string, bigint>());
  if (spans.length === 0) return totals;
  const rows = spanRows(spans, null);
  const { rows: found } = await sql<{ i: number; resource_type: string; total: bigint }>`
    select v.i, d.resource_type,
           case when min(d.aggregation) in ('sum', 'count') then sum(d.day_total) else max(d.day_total) end::bigint as total
      from jsonb_to_recordset(${jsonRows(rows)}::jsonb)
           as v (i integer, tenant_id text, usage_from date, usage_until date, app_id text)
     cross join lateral (
           select resource_type, aggregation, usage_date, sum(quantity) as day_total
             from usage_daily u
            where u.tenant_id = v.tenant_id and u.usage_date >= v.usage_from and u.usage_date < v.usage_until
              and (v.app_id is null or u.app_id = v.app_id)
            group by resource_type, aggregation, usage_date) d
     group by v.i, d.resource_type`.execute(db);
  for (const row of found) totals[row.i]?.set(row.resource_type, row.total);
  const distinct = await distinctOverSpans(db, spans);
  distinct.forEach((metrics, i) => {
    for (const [metric, total] of metrics) totals[i]?.set(metric, total);
  });
  return totals;
};

export interface UsageOverDaysQuery {
  db: Db;
  scope: TenantScope;
  from: string;
  until: string;
  /** One app's usage; default: all the tenant's apps. */
  appId?: string | null | undefined;
}

/** A tenant's (or one app's) usage of each resource over whole days [from, until). */
export const usageOverDays = async ({
  db,
  scope,
  from,
  until,
  appId = null,
}: UsageOverDaysQuery): Promise<Map<string, bigint>> => {
  const [totals] = await usageOverSpans(db, [{ tenantId: scope.tenantId, from, until, appId }]);
  return totals ?? new Map();
};
