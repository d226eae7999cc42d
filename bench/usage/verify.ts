import { withClient } from '../lib/server.js';

export interface Counts {
  events: number;
  quantity: string;
  rolledUpEvents: number;
  rollupRows: number;
  rollupMismatches: number;
  /** Deadlocks the server detected in the step's database (each one is a retried batch). */
  deadlocks: number;
}

/**
 * Each (tenant, app, resource, day) of the stored events recomputed and compared with its rollup
 * row: the event count, sum / max of the quantities, the latest timestamp and, for `latest`, a
 * quantity measured at that timestamp (ties may go either way). Rows on one side only count too.
 */
const rollupMismatchesQuery = `
  with groups as (
         select tenant_id, app_id, resource_type, usage_date, count(*) as events, sum(quantity) as total,
                max(quantity) as highest, max(occurred_at) as latest_at
           from usage_events group by 1, 2, 3, 4),
       latest as (
         select e.tenant_id, e.app_id, e.resource_type, e.usage_date, array_agg(e.quantity) as quantities
           from usage_events e
           join groups g using (tenant_id, app_id, resource_type, usage_date)
          where e.occurred_at = g.latest_at
          group by 1, 2, 3, 4)
  select count(*)::int as mismatches
    from groups g
    full join usage_daily d using (tenant_id, app_id, resource_type, usage_date)
    left join latest l using (tenant_id, app_id, resource_type, usage_date)
   where g.events is distinct from d.event_count
      or g.latest_at is distinct from d.latest_at
      or case d.aggregation
           when 'sum' then d.quantity <> g.total
           when 'max' then d.quantity <> g.highest
           else not d.quantity = any (l.quantities)
         end`;

export const countStored = (url: string, rolledUp: boolean): Promise<Counts> =>
  withClient(url, async (client) => {
    const { rows } = await client.query<{
      events: number;
      quantity: string;
      rolled_up_events: string;
      rollup_rows: number;
    }>(
      `select (select count(*)::int from usage_events) as events,
              (select coalesce(sum(quantity), 0)::text from usage_events) as quantity,
              (select coalesce(sum(event_count), 0)::text from usage_daily) as rolled_up_events,
              (select count(*)::int from usage_daily) as rollup_rows`,
    );
    const { rows: database } = await client.query<{ deadlocks: number }>(
      `select deadlocks::int from pg_stat_database where datname = current_database()`,
    );
    const counts = rows[0]!;
    const mismatches = rolledUp
      ? ((await client.query<{ mismatches: number }>(rollupMismatchesQuery)).rows[0]?.mismatches ?? -1)
      : 0;
    return {
      events: counts.events,
      quantity: counts.quantity,
      rolledUpEvents: Number(counts.rolled_up_events),
      rollupRows: counts.rollup_rows,
      rollupMismatches: mismatches,
      deadlocks: database[0]?.deadlocks ?? Number.NaN,
    };
  });

/** Throws unless the step's database holds every event sent exactly once (and, rolled up, in its rollup). */
export const checkStored = (
  stored: Counts,
  {
    path,
    clients,
    eventsSent,
    quantitySent,
    rolledUp,
  }: { path: string; clients: number; eventsSent: number; quantitySent: bigint; rolledUp: boolean },
): void => {
  const wrong = [
    stored.events !== eventsSent && `usage_events holds ${stored.events} events, ${eventsSent} were sent`,
    stored.quantity !== quantitySent.toString() &&
      `usage_events sums to ${stored.quantity}, the events sent to ${quantitySent}`,
    stored.rolledUpEvents !== (rolledUp ? eventsSent : 0) &&
      `usage_daily counts ${stored.rolledUpEvents} events, expected ${rolledUp ? eventsSent : 0}`,
    stored.rollupMismatches !== 0 && `${stored.rollupMismatches} rollup rows differ from their events`,
  ].filter((problem): problem is string => typeof problem === 'string');
  if (wrong.length > 0) throw new Error(`${path} c${clients} counted wrong:\n  ${wrong.join('\n  ')}`);
};
