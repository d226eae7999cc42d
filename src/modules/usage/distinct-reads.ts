import { sql } from 'kysely';
import type { TenantScope } from '../../core/principal.js';
import type { Db } from '../../db/database.js';
import { jsonRows } from '../../db/json-rows.js';
import { allApps, distinctBucketDays, noDays } from './distinct-buckets.js';

/** Whole days [from, until) of a tenant's usage, over all its apps (appId null) or one. */
export interface DistinctSpan {
  tenantId: string;
  from: string;
  until: string;
  appId: string | null;
}

/** Spans as rows for `jsonb_to_recordset`, numbered; `noApp` stands for "all apps". */
export const spanRows = <NoApp extends string | null>(spans: readonly DistinctSpan[], noApp: NoApp) =>
  spans.map((span, i) => ({
    i,
    tenant_id: span.tenantId,
    usage_from: span.from,
    usage_until: span.until,
    app_id: span.appId ?? noApp,
  }));

/**
 * The distinct values of each unique_count metric over each span, one map per span in the order
 * given. A span that one bucket covers exactly (its first day the span's, its values' last day
 * inside it, no other bucket reaching in) is that bucket's count, one row read; any other span is
 * counted from the values' day bitmaps. Both are exact.
 */
export const distinctOverSpans = async (db: Db, spans: readonly DistinctSpan[]): Promise<Map<string, bigint>[]> => {
  const totals = spans.map(() => new Map<string, bigint>());
  if (spans.length === 0) return totals;
  const rows = spanRows(spans, allApps);
  const { rows: buckets } = await sql<{
    i: number;
    metric: string;
    buckets: number;
    first_start: string;
    last_day: string;
    quantity: bigint;
  }>`
    select v.i, c.metric, count(*)::int as buckets, min(c.start)::text as first_start,
           max(c.last_day)::text as last_day, sum(c.quantity)::bigint as quantity
      from jsonb_to_recordset(${jsonRows(rows)}::jsonb)
           as v (i integer, tenant_id text, usage_from date, usage_until date, app_id text)
      join usage_distinct_counts c
        on c.tenant_id = v.tenant_id and c.span = 'period' and c.app_id = v.app_id
       and c.start < v.usage_until and c.last_day >= v.usage_from
     group by v.i, c.metric`.execute(db);
  for (const bucket of buckets) {
    const span = rows[bucket.i];
    if (span === undefined) continue;
    const exact = bucket.buckets === 1 && bucket.first_start >= span.usage_from && bucket.last_day < span.usage_until;
    totals[bucket.i]?.set(bucket.metric, exact ? bucket.quantity : await countFromBitmaps(db, span, bucket.metric));
  }
  return totals;
};

/** Distinct values seen on the days [usage_from, usage_until), whatever buckets they are kept in. */
const countFromBitmaps = async (
  db: Db,
  span: { tenant_id: string; usage_from: string; usage_until: string; app_id: string },
  metric: string,
): Promise<bigint> => {
  const { rows } = await sql<{ total: bigint }>`
    select count(distinct value)::bigint as total
      from usage_distinct_values
     where tenant_id = ${span.tenant_id} and metric = ${metric} and app_id = ${span.app_id}
       and period_from < ${span.usage_until}::date
       and period_from > ${span.usage_from}::date - ${distinctBucketDays}::integer
       and days & usage_day_mask(period_from, ${span.usage_from}::date, ${span.usage_until}::date) <> ${noDays}`.execute(
    db,
  );
  return rows[0]?.total ?? 0n;
};

/** Distinct values per day and metric in [from, to], for one app or all the tenant's apps. */
export const distinctPerDay = ({
  db,
  scope,
  from,
  to,
  appId,
}: {
  db: Db;
  scope: TenantScope;
  from: string;
  to: string;
  appId?: string | undefined;
}) =>
  db
    .selectFrom('usage_distinct_counts')
    .select(['start as usage_date', 'metric as resource_type', 'quantity'])
    .where('tenant_id', '=', scope.tenantId)
    .where('span', '=', 'day')
    .where('app_id', '=', appId ?? allApps)
    .where('start', '>=', from)
    .where('start', '<=', to)
    .execute();
