import { sql } from 'kysely';
import { calendarDateIn } from '../../core/billing-calendar.js';
import type { Db, DbTransaction } from '../../db/database.js';
import { jsonRows } from '../../db/json-rows.js';
import { distinctBucketDays, distinctBucketOf } from './distinct-buckets.js';
import type { DailyTotalsQuery, StoredEvent } from './repository.js';

/** '' stands for all the tenant's apps in the distinct tables. */
export const allApps = '';

const liveStatuses = ['trialing', 'active', 'past_due', 'suspended'] as const;

/**
 * The billing-period boundaries (days in each tenant's zone) known now: the live subscription's
 * current period start and end, and the starts of periods still waiting for late events.
 */
const periodBoundaries = async (
  trx: DbTransaction,
  tenants: ReadonlyMap<string, string>,
): Promise<Map<string, string[]>> => {
  const ids = [...tenants.keys()];
  // One round trip: a live subscription's period instants, and pending periods' first days.
  const { rows } = await sql<{ tenant_id: string; starts: Date | null; ends: Date | null; day: string | null }>`
    select tenant_id, current_period_start as starts, current_period_end as ends, null::text as day
      from subscriptions
     where tenant_id = any(${ids}) and status in (${sql.join([...liveStatuses])})
    union all
    select distinct tenant_id, null::timestamptz, null::timestamptz, usage_from::text
      from metered_billings
     where tenant_id = any(${ids}) and status = 'pending'`.execute(trx);
  const boundaries = new Map(ids.map((id) => [id, [] as string[]]));
  for (const row of rows) {
    const zone = tenants.get(row.tenant_id) ?? 'UTC';
    const days =
      row.day !== null
        ? [row.day]
        : row.starts !== null && row.ends !== null
          ? [calendarDateIn(row.starts, zone), calendarDateIn(row.ends, zone)]
          : [];
    boundaries.get(row.tenant_id)?.push(...days);
  }
  return boundaries;
};

interface ValueBit {
  tenant_id: string;
  metric: string;
  period_from: string;
  value: string;
  app_id: string;
  idx: number;
  at: Date;
}

const valueKey = (row: Omit<ValueBit, 'idx' | 'at'>): string =>
  [row.tenant_id, row.metric, row.period_from, row.value, row.app_id].join('\u0000');

/**
 * Rounds of (value, day) bits in key order, each value at most once a round: one upsert cannot
 * touch a row twice, and one bit per row tells from the upsert alone whether its day is new.
 */
const roundsOf = (bits: ValueBit[]): ValueBit[][] => {
  const rounds: ValueBit[][] = [];
  const seen = new Map<string, Set<number>>();
  for (const bit of bits) {
    const key = valueKey(bit);
    const days = seen.get(key) ?? new Set<number>();
    if (days.has(bit.idx)) continue;
    const round = days.size;
    days.add(bit.idx);
    seen.set(key, days);
    (rounds[round] ??= []).push(bit);
  }
  return rounds.map((round) =>
    round
      .map((bit) => ({ bit, key: valueKey(bit) }))
      .sort((a, b) => (a.key < b.key ? -1 : 1))
      .map(({ bit }) => bit),
  );
};

/** An empty bitmap; `bit(n)` takes its length as a literal. */
const noDays = sql.raw(`repeat('0', ${distinctBucketDays})::bit(${distinctBucketDays})`);

/**
 * Counts the distinct values of a batch's counted unique_count events, for their app and for all
 * the tenant's apps: each (value, bucket) row gains the event's day bit; a new row adds one to its
 * bucket's count, a new bit one to its day's. Concurrent batches meet on the rows' keys (the
 * upsert waits for the other and sees its bits), so a value is counted once however it arrives.
 * One statement a round: the rows' upsert, and the counters it moves, in key order.
 */
export const countDistinctValues = async (
  trx: DbTransaction,
  events: readonly StoredEvent[],
  zones: ReadonlyMap<string, string>,
  atOf: (tenantId: string) => Date,
): Promise<void> => {
  const distinct = events.filter((event) => event.distinctValue !== null);
  if (distinct.length === 0) return;
  const boundaries = await periodBoundaries(
    trx,
    new Map([...new Set(distinct.map((event) => event.tenantId))].map((id) => [id, zones.get(id) ?? 'UTC'])),
  );
  const bits = distinct.flatMap((event) => {
    const bucket = distinctBucketOf(event.usageDate, boundaries.get(event.tenantId) ?? []);
    const common = {
      tenant_id: event.tenantId,
      metric: event.resourceType,
      period_from: bucket.periodFrom,
      value: event.distinctValue ?? '',
      idx: bucket.dayIndex,
      at: atOf(event.tenantId),
    };
    return [
      { ...common, app_id: event.appId },
      { ...common, app_id: allApps },
    ];
  });
  for (const round of roundsOf(bits)) {
    await sql`
      with input as (
        select * from jsonb_to_recordset(${jsonRows(round)}::jsonb)
          as v (tenant_id text, metric text, period_from date, value text, app_id text, idx integer, at timestamptz)
      ), upserted as (
        insert into usage_distinct_values as t (tenant_id, metric, period_from, value, app_id, days)
        select tenant_id, metric, period_from, value, app_id, set_bit(${noDays}, idx, 1) from input
        on conflict (tenant_id, metric, period_from, value, app_id) do update
           set days = t.days | excluded.days
         where t.days & excluded.days <> excluded.days
        returning t.tenant_id, t.metric, t.period_from, t.value, t.app_id, (t.xmax::text = '0') as inserted
      ), moved as (
        select u.tenant_id, u.metric, u.app_id, u.period_from, u.inserted, i.period_from + i.idx as day, i.at
          from upserted u join input i using (tenant_id, metric, period_from, value, app_id)
      ), counters as (
        select tenant_id, metric, 'day' as span, app_id, day as start, count(*) as quantity, day as last_day,
               max(at) as at
          from moved group by tenant_id, metric, app_id, day
        union all
        -- A value already in its bucket adds nothing to the bucket's count, but may stretch its last day.
        select tenant_id, metric, 'period', app_id, period_from, count(*) filter (where inserted), max(day), max(at)
          from moved group by tenant_id, metric, app_id, period_from
      )
      insert into usage_distinct_counts as c (tenant_id, metric, span, app_id, start, quantity, last_day, updated_at)
      select tenant_id, metric, span, app_id, start, quantity, last_day, at from counters
       order by tenant_id, metric, span, app_id, start
      on conflict (tenant_id, metric, span, app_id, start) do update
         set quantity = c.quantity + excluded.quantity,
             last_day = greatest(c.last_day, excluded.last_day),
             updated_at = excluded.updated_at`.execute(trx);
  }
};

/** Whole days [from, until) of a tenant's usage, over all its apps (appId null) or one. */
export interface DistinctSpan {
  tenantId: string;
  from: string;
  until: string;
  appId: string | null;
}

/**
 * The distinct values of each unique_count metric over each span, one map per span in the order
 * given. A span that one bucket covers exactly (its first day the span's, its values' last day
 * inside it, no other bucket reaching in) is that bucket's count, one row read; any other span is
 * counted from the values' day bitmaps. Both are exact.
 */
export const distinctOverSpans = async (db: Db, spans: readonly DistinctSpan[]): Promise<Map<string, bigint>[]> => {
  const totals = spans.map(() => new Map<string, bigint>());
  if (spans.length === 0) return totals;
  const rows = spans.map((span, i) => ({
    i,
    tenant_id: span.tenantId,
    usage_from: span.from,
    usage_until: span.until,
    app_id: span.appId ?? allApps,
  }));
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
export const distinctPerDay = ({ db, scope, from, to, appId }: DailyTotalsQuery) =>
  db
    .selectFrom('usage_distinct_counts')
    .select(['start as usage_date', 'metric as resource_type', 'quantity'])
    .where('tenant_id', '=', scope.tenantId)
    .where('span', '=', 'day')
    .where('app_id', '=', appId ?? allApps)
    .where('start', '>=', from)
    .where('start', '<=', to)
    .execute();
