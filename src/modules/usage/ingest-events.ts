import { createHash } from 'node:crypto';
import { calendarDateIn } from '../../core/billing-calendar.js';
import type { Clock, TenantClocks } from '../../core/clock.js';
import type { Db, DbTransaction } from '../../db/database.js';
import { retryTransaction } from '../../db/retry.js';
import { canonicalJson } from '../idempotency/fingerprint.js';
import {
  addToDailyUsage,
  eventKey,
  findBatchOwners,
  insertNewEvents,
  storedFingerprints,
  type StoredEvent,
} from './repository.js';
import { rollUp } from './rollup.js';
import { checkUsageEvent, type UsageCatalog } from './usage-event.js';
import { countDistinctValues, readPeriodBoundaries } from './distinct-writes.js';
import { markMetricsUsed, readMetricCatalog, type MetricRow } from '../metrics/repository.js';

export type EventOutcome =
  | { index: number; event_id: string | null; status: 'accepted' }
  | { index: number; event_id: string | null; status: 'duplicate' }
  | { index: number; event_id: string | null; status: 'rejected'; reason: string };

export interface IngestResult {
  accepted: number;
  duplicates: number;
  rejected: number;
  results: EventOutcome[];
  /** What this batch counted, for alert evaluation. */
  counted: StoredEvent[];
}

/**
 * The last settled pay-as-you-go day of these tenants. Their rows are share-locked first, so a
 * settlement (which holds the tenant row for update) cannot commit a day between this check and
 * the batch's commit: consumption is either in a day before it is settled, or refused.
 */
const settledPaygDays = async (trx: DbTransaction, tenantIds: string[]): Promise<Map<string, string>> => {
  const ids = [...new Set(tenantIds)].sort();
  if (ids.length === 0) return new Map();
  await trx.selectFrom('tenants').select('id').where('id', 'in', ids).orderBy('id').forShare().execute();
  const rows = await trx
    .selectFrom('payg_settlements')
    .select(['tenant_id', (eb) => eb.fn.max('settled_day').as('day')])
    .where('tenant_id', 'in', ids)
    .groupBy('tenant_id')
    .execute();
  return new Map(rows.map((row) => [row.tenant_id, row.day]));
};

/** What events may name: every metric (as stored, with whether usage was counted for it) and the active products. */
const readUsageCatalog = async (db: Db): Promise<UsageCatalog & { metrics: Map<string, MetricRow> }> => {
  const [metrics, products] = await Promise.all([
    readMetricCatalog(db),
    db.selectFrom('payg_products').select('billing_key').where('status', '=', 'active').execute(),
  ]);
  return { metrics, paygKeys: new Set(products.map((row) => row.billing_key)) };
};

/** A metric's definition changed between the batch's checks and its first use: the batch is checked again. */
class MetricChangedError extends Error {}

/**
 * Marks the metrics this batch is the first usage of; from then on their aggregation is fixed.
 * Should a change have slipped in before the mark, the batch is refused and checked again.
 */
const confirmFirstUse = async (
  trx: DbTransaction,
  metrics: ReadonlyMap<string, MetricRow>,
  counted: readonly StoredEvent[],
  at: Date,
) => {
  const firstUsed = [...new Set(counted.map((event) => event.resourceType))].filter(
    (code) => metrics.get(code)?.used_at === null,
  );
  for (const row of await markMetricsUsed(trx, firstUsed, at)) {
    const known = metrics.get(row.code);
    if (known?.aggregation !== row.aggregation || known.field !== row.field) throw new MetricChangedError(row.code);
  }
};

/** The tenant id an event names, if it names one as text (checkUsageEvent checks its form). */
const namedTenant = (raw: unknown): string[] => {
  const tenantId = typeof raw === 'object' && raw !== null ? (raw as Record<string, unknown>).tenant_id : undefined;
  return typeof tenantId === 'string' ? [tenantId] : [];
};

const fingerprintOf = (event: Omit<StoredEvent, 'fingerprint' | 'usageDate' | 'receivedAt'>): string =>
  createHash('sha256')
    .update(
      canonicalJson({
        tenant_id: event.tenantId,
        app_id: event.appId,
        resource_type: event.resourceType,
        quantity: event.quantity.toString(),
        timestamp: event.occurredAt.toISOString(),
        properties: event.properties,
      }),
    )
    .digest('hex');

/**
 * Counts a batch of usage events exactly once: each new (tenant, event_id) is stored and added
 * to its day's rollup in the same transaction, so a replay — or the same event in a concurrent
 * batch — finds it stored and counts nothing. The same id with another payload is refused.
 * Each event is checked and stored at its tenant's time (a test clock's tenant at the clock's);
 * `clock`, real time, serves an event that names no tenant, which is refused before its time counts.
 */
export const ingestEvents = async (
  db: Db,
  clocks: { clock: Clock; tenantClocks: TenantClocks },
  rawEvents: unknown[],
): Promise<IngestResult> => {
  try {
    return await ingestOnce(db, clocks, rawEvents);
  } catch (error) {
    if (!(error instanceof MetricChangedError)) throw error;
    return ingestOnce(db, clocks, rawEvents);
  }
};

const ingestOnce = async (
  db: Db,
  { clock, tenantClocks }: { clock: Clock; tenantClocks: TenantClocks },
  rawEvents: unknown[],
): Promise<IngestResult> => {
  const clocks = await tenantClocks.clocksFor([...new Set(rawEvents.flatMap(namedTenant))]);
  const nowOf = (tenantId: string | undefined): Date =>
    (tenantId === undefined ? undefined : clocks.get(tenantId))?.now() ?? clock.now();
  const results: EventOutcome[] = new Array<EventOutcome>(rawEvents.length);
  const catalog = await readUsageCatalog(db);
  const paygKeys = catalog.paygKeys;
  const checked = rawEvents.map((raw) => checkUsageEvent(raw, nowOf(namedTenant(raw)[0]), catalog));
  checked.forEach((check, index) => {
    if (!check.ok) results[index] = { index, event_id: check.eventId, status: 'rejected', reason: check.reason };
  });
  const valid = checked.flatMap((check, index) => (check.ok ? [{ index, event: check.event }] : []));

  // Read before the transaction: it holds rollup row locks, and should hold them briefly.
  const [owners, boundaries] = await Promise.all([
    findBatchOwners(
      db,
      [...new Set(valid.map(({ event }) => event.tenantId))],
      [...new Set(valid.map(({ event }) => event.appId))],
    ),
    readPeriodBoundaries(db, [
      ...new Set(valid.filter(({ event }) => event.distinctValue !== null).map(({ event }) => event.tenantId)),
    ]),
  ]);
  return retryTransaction(() =>
    db.transaction().execute(async (trx) => {
      const settledThrough = await settledPaygDays(
        trx,
        valid.filter(({ event }) => paygKeys.has(event.resourceType)).map(({ event }) => event.tenantId),
      );
      const firstInBatch = new Map<string, StoredEvent>();
      const candidates: { index: number; event: StoredEvent }[] = [];
      for (const { index, event } of valid) {
        const tenant = owners.tenants.get(event.tenantId);
        const app = owners.apps.get(event.appId);
        const refuse = (reason: string) => {
          results[index] = { index, event_id: event.eventId, status: 'rejected', reason };
        };
        if (tenant === undefined) refuse(`tenant ${event.tenantId} does not exist`);
        else if (tenant.status !== 'active') refuse(`tenant ${event.tenantId} is ${tenant.status}`);
        else if (app === undefined || app.tenant_id !== event.tenantId)
          refuse(`app ${event.appId} is not an app of ${event.tenantId}`);
        else if (app.status !== 'active') refuse(`app ${event.appId} is ${app.status}`);
        else if (
          paygKeys.has(event.resourceType) &&
          calendarDateIn(event.occurredAt, tenant.time_zone) <= (settledThrough.get(event.tenantId) ?? '')
        ) {
          refuse(`its day, ${calendarDateIn(event.occurredAt, tenant.time_zone)}, is already settled`);
        } else {
          const stored = {
            ...event,
            receivedAt: nowOf(event.tenantId),
            usageDate: calendarDateIn(event.occurredAt, tenant.time_zone),
            fingerprint: fingerprintOf(event),
          };
          const key = eventKey(event.tenantId, event.eventId);
          const earlier = firstInBatch.get(key);
          if (earlier === undefined) {
            firstInBatch.set(key, stored);
            candidates.push({ index, event: stored });
          } else if (earlier.fingerprint === stored.fingerprint) {
            results[index] = { index, event_id: event.eventId, status: 'duplicate' };
          } else {
            refuse('event_id repeats an earlier event of this batch with another payload');
          }
        }
      }
      // Key order: concurrent batches wait on each other's ids in one order, never in a cycle.
      const ordered = [...candidates].sort((a, b) =>
        eventKey(a.event.tenantId, a.event.eventId) < eventKey(b.event.tenantId, b.event.eventId) ? -1 : 1,
      );
      const inserted = await insertNewEvents(
        trx,
        ordered.map(({ event }) => event),
      );
      const seenBefore = ordered.filter(({ event }) => !inserted.has(eventKey(event.tenantId, event.eventId)));
      const fingerprints = await storedFingerprints(
        trx,
        seenBefore.map(({ event }) => event),
      );
      for (const { index, event } of ordered) {
        const key = eventKey(event.tenantId, event.eventId);
        if (inserted.has(key)) {
          results[index] = { index, event_id: event.eventId, status: 'accepted' };
        } else if (fingerprints.get(key) === event.fingerprint) {
          results[index] = { index, event_id: event.eventId, status: 'duplicate' };
        } else {
          results[index] = {
            index,
            event_id: event.eventId,
            status: 'rejected',
            reason: 'event_id was already counted with another payload',
          };
        }
      }
      // In batch order: of two user_count measurements at one instant, the later in the batch wins.
      const counted = candidates
        .filter(({ event }) => inserted.has(eventKey(event.tenantId, event.eventId)))
        .map(({ event }) => event);
      await addToDailyUsage(trx, rollUp(counted), nowOf);
      await countDistinctValues(trx, counted, boundaries, nowOf);
      await confirmFirstUse(trx, catalog.metrics, counted, clock.now());
      const tally = (status: EventOutcome['status']) => results.filter((result) => result.status === status).length;
      return {
        accepted: tally('accepted'),
        duplicates: tally('duplicate'),
        rejected: tally('rejected'),
        results,
        counted,
      };
    }),
  );
};
