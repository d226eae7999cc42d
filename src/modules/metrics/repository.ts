import { sql, type Selectable } from 'kysely';
import type { Db, DbTransaction } from '../../db/database.js';
import { fetchPage } from '../../db/paginate.js';
import type { BillableMetricsTable } from '../../db/schema.js';
import type { PageRequest } from '../../core/pagination.js';

export type MetricRow = Selectable<BillableMetricsTable>;

export type MetricWithUse = MetricRow & { in_use: boolean };

/** Metrics with whether they are in use: usage counted, or named by a plan version or a usage alert. */
const inUse = sql<boolean>`m.used_at is not null
  or exists (select 1 from plan_version_resources r where r.resource_type = m.code)
  or exists (select 1 from usage_alerts a where a.resource_type = m.code)`.as('in_use');

export const findMetric = (db: Db, code: string): Promise<MetricWithUse | undefined> =>
  db.selectFrom('billable_metrics as m').selectAll('m').select(inUse).where('m.code', '=', code).executeTakeFirst();

/** The metric locked for a change, with whether it is in use (read under the lock). */
export const lockMetric = (trx: DbTransaction, code: string): Promise<MetricWithUse | undefined> =>
  trx
    .selectFrom('billable_metrics as m')
    .selectAll('m')
    .select(inUse)
    .where('m.code', '=', code)
    .forUpdate()
    .executeTakeFirst();

export const listMetrics = (db: Db, page: PageRequest) =>
  fetchPage(
    db.selectFrom('billable_metrics as m'),
    (query) => query.selectAll('m').select(inUse).orderBy('m.code'),
    page,
  );

/** Every metric by code: a small table, read whole. */
export const readMetricCatalog = async (db: Db): Promise<Map<string, MetricRow>> =>
  new Map((await db.selectFrom('billable_metrics').selectAll().execute()).map((row) => [row.code, row]));

/**
 * Marks metrics as used by the usage about to be counted and returns them as they stand now: the
 * mark waits for a change of aggregation in flight, so the caller sees that change, never misses it.
 */
export const markMetricsUsed = async (trx: DbTransaction, codes: string[], at: Date): Promise<MetricRow[]> => {
  if (codes.length === 0) return [];
  await trx
    .updateTable('billable_metrics')
    .set({ used_at: at })
    .where('code', 'in', codes)
    .where('used_at', 'is', null)
    .execute();
  return trx.selectFrom('billable_metrics').selectAll().where('code', 'in', codes).execute();
};
