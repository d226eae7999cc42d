import { clockAt, type Clock, type TenantClocks } from '../../core/clock.js';
import type { Db } from '../../db/database.js';

/** How many tenants on real time a process remembers; past that it starts again from none. */
const realTimeTenantsRemembered = 50_000;

/**
 * Each tenant's clock, read from its test clock: the clock's frozen time, or `realClock` for a
 * tenant on none. A test clock's time moves with every advance (in any process), so it is read
 * every time. A tenant on real time is remembered: its test clock is fixed at creation (a trigger
 * keeps it so) and only tenants of a test clock are ever deleted, so the answer never changes in
 * any process and needs no invalidation. An id with no tenant yet gets real time, not remembered.
 */
export const createTenantClocks = (db: Db, realClock: Clock): TenantClocks => {
  const onRealTime = new Set<string>();
  const remember = (tenantId: string) => {
    if (onRealTime.size >= realTimeTenantsRemembered) onRealTime.clear();
    onRealTime.add(tenantId);
  };
  const clocksFor = async (tenantIds: readonly string[]): Promise<Map<string, Clock>> => {
    const clocks = new Map<string, Clock>();
    const unknown = [...new Set(tenantIds)].filter((id) => !onRealTime.has(id));
    const rows =
      unknown.length === 0
        ? []
        : await db
            .selectFrom('tenants as t')
            .leftJoin('test_clocks as c', 'c.id', 't.test_clock_id')
            .select(['t.id', 'c.frozen_time'])
            .where('t.id', 'in', unknown)
            .execute();
    for (const { id, frozen_time: frozenTime } of rows) {
      if (frozenTime === null) remember(id);
      else clocks.set(id, clockAt(frozenTime));
    }
    for (const id of tenantIds) if (!clocks.has(id)) clocks.set(id, realClock);
    return clocks;
  };
  return {
    clocksFor,
    clockFor: async (tenantId) => (await clocksFor([tenantId])).get(tenantId) ?? realClock,
  };
};
