import type { Aggregation } from '../../db/schema.js';
import type { UsageEvent } from './usage-event.js';

/** One app's usage of one resource on one day in the tenant's time zone. */
export interface DailyUsage {
  tenantId: string;
  appId: string;
  resourceType: string;
  usageDate: string;
  aggregation: Aggregation;
  quantity: bigint;
  /** When the value held was measured: for `latest`, a later measurement replaces it, an earlier one does not. */
  latestAt: Date;
  eventCount: bigint;
}

const keyOf = (usage: Pick<DailyUsage, 'tenantId' | 'appId' | 'resourceType' | 'usageDate'>): string =>
  [usage.tenantId, usage.appId, usage.resourceType, usage.usageDate].join('\u0000');

/** Folds one more measurement into a day's usage with the resource's aggregation. */
export const combine = (day: DailyUsage, quantity: bigint, at: Date): DailyUsage => {
  const later = at >= day.latestAt;
  const next =
    day.aggregation === 'sum' || day.aggregation === 'count'
      ? day.quantity + quantity
      : day.aggregation === 'max'
        ? quantity > day.quantity
          ? quantity
          : day.quantity
        : later
          ? quantity
          : day.quantity;
  return { ...day, quantity: next, latestAt: later ? at : day.latestAt, eventCount: day.eventCount + 1n };
};

/**
 * A batch of counted events rolled up per (tenant, app, resource, day), in key order so
 * concurrent batches lock the rollup rows in the same order and never deadlock. Distinct counts
 * are kept apart (distinct-counts.ts).
 */
export const rollUp = (events: (UsageEvent & { usageDate: string })[]): DailyUsage[] => {
  const days = new Map<string, DailyUsage>();
  for (const event of events) {
    if (event.aggregation === 'unique_count') continue;
    const aggregation = event.aggregation;
    const day = {
      tenantId: event.tenantId,
      appId: event.appId,
      resourceType: event.resourceType,
      usageDate: event.usageDate,
    };
    const key = keyOf(day);
    const current = days.get(key);
    days.set(
      key,
      current === undefined
        ? {
            ...day,
            aggregation,
            quantity: event.quantity,
            latestAt: event.occurredAt,
            eventCount: 1n,
          }
        : combine(current, event.quantity, event.occurredAt),
    );
  }
  return [...days.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, day]) => day);
};
