import { sql } from 'kysely';
import { calendarDateIn } from '../../core/billing-calendar.js';
import type { Db, DbTransaction } from '../../db/database.js';
import { liveStatuses } from '../../db/schema.js';
import { allApps, distinctBucketOf, noDays } from './distinct-buckets.js';
import type { StoredEvent } from './repository.js';

/**
 * The billing-period boundaries (days in each tenant's zone) known now: the live subscription's
 * current period start and end, and the starts of periods still waiting for late events. Read
 * before the ingestion's transaction: a bucket only speeds reads up, so a boundary that moves
 * meanwhile costs time, never exactness.
 */
export const readPeriodBoundaries = async (db: Db, tenantIds: readonly string[]): Promise<Map<string, string[]>> => {
  const boundaries = new Map(tenantIds.map((id) => [id, [] as string[]]));
  if (tenantIds.length === 0) return boundaries;
  const ids = [...tenantIds];
  const { rows } = await sql<{
    tenant_id: string;
    time_zone: string | null;
    starts: Date | null;
    ends: Date | null;
    day: string | null;
  }>`
    select s.tenant_id, t.time_zone, s.current_period_start as starts, s.current_period_end as ends, null::text as day
      from subscriptions s join tenants t on t.id = s.tenant_id
     where s.tenant_id = any(${ids}) and s.status in (${sql.join([...liveStatuses])})
    union all
    select distinct tenant_id, null::text, null::timestamptz, null::timestamptz, usage_from::text
      from metered_billings
     where tenant_id = any(${ids}) and status = 'pending'`.execute(db);
  for (const row of rows) {
    const days =
      row.day !== null
        ? [row.day]
        : row.starts !== null && row.ends !== null && row.time_zone !== null
          ? [calendarDateIn(row.starts, row.time_zone), calendarDateIn(row.ends, row.time_zone)]
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
}

const valueKey = (row: Omit<ValueBit, 'idx'>): string =>
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
  boundaries: ReadonlyMap<string, readonly string[]>,
  atOf: (tenantId: string) => Date,
): Promise<void> => {
  const distinct = events.filter((event) => event.distinctValue !== null);
  if (distinct.length === 0) return;
  // A batch holds a few days per tenant: each day's bucket is worked out once.
  const buckets = new Map<string, ReturnType<typeof distinctBucketOf>>();
  const bucketOf = (tenantId: string, day: string) => {
    const key = `${tenantId}|${day}`;
    const known = buckets.get(key);
    if (known !== undefined) return known;
    const bucket = distinctBucketOf(day, boundaries.get(tenantId) ?? []);
    buckets.set(key, bucket);
    return bucket;
  };
  const bits = distinct.flatMap((event) => {
    const bucket = bucketOf(event.tenantId, event.usageDate);
    const common = {
      tenant_id: event.tenantId,
      metric: event.resourceType,
      period_from: bucket.periodFrom,
      value: event.distinctValue ?? '',
      idx: bucket.dayIndex,
    };
    return [
      { ...common, app_id: event.appId },
      { ...common, app_id: allApps },
    ];
  });
  const tenantIds = [...new Set(distinct.map((event) => event.tenantId))];
  for (const round of roundsOf(bits)) {
    // Column arrays: a batch's rows in six parameters, far less to write and parse than JSON objects.
    const column = <K extends keyof ValueBit>(key: K): ValueBit[K][] => round.map((bit) => bit[key]);
    await sql`
      with input as (
        select * from unnest(${column('tenant_id')}::text[], ${column('metric')}::text[], ${column('period_from')}::date[],
                             ${column('value')}::text[], ${column('app_id')}::text[], ${column('idx')}::integer[])
          as v (tenant_id, metric, period_from, value, app_id, idx)
      ), clocks as (
        select * from unnest(${tenantIds}::text[], ${tenantIds.map(atOf)}::timestamptz[]) as c (tenant_id, at)
      ), upserted as (
        insert into usage_distinct_values as t (tenant_id, metric, period_from, value, app_id, days)
        select tenant_id, metric, period_from, value, app_id, set_bit(${noDays}, idx, 1) from input
        on conflict (tenant_id, metric, period_from, value, app_id) do update
           set days = t.days | excluded.days
         where t.days & excluded.days <> excluded.days
        returning t.tenant_id, t.metric, t.period_from, t.value, t.app_id, (t.xmax::text = '0') as inserted
      ), moved as (
        select u.tenant_id, u.metric, u.app_id, u.period_from, u.inserted, i.period_from + i.idx as day, c.at
          from upserted u join input i using (tenant_id, metric, period_from, value, app_id)
          join clocks c using (tenant_id)
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
