import { Temporal } from 'temporal-polyfill';
import { builtInMetrics, type MetricAggregation, type MetricDefinition } from '../../core/resources.js';
import { appIdPattern } from '../apps/schemas.js';
import { tenantIdPattern } from '../tenants/schemas.js';

/** Events older than this are refused: their period's overage may already be invoiced. */
export const lateEventWindowMs = 3 * 24 * 60 * 60 * 1000;
/** Clocks of the platform's services may run a little ahead. */
export const futureToleranceMs = 5 * 60 * 1000;
export const maxEventQuantity = 1_000_000_000_000;
const maxPropertiesBytes = 4096;

export interface UsageEvent {
  eventId: string;
  tenantId: string;
  appId: string;
  /** A billable metric's code, or the billing key of a pay-as-you-go product. */
  resourceType: string;
  /** The metric's aggregation; a product's consumption is summed. */
  aggregation: MetricAggregation;
  quantity: bigint;
  occurredAt: Date;
  properties: Record<string, unknown>;
  /** unique_count: the value of the counted property, as text. */
  distinctValue: string | null;
}

/** What events may name: the metrics and the active pay-as-you-go products' keys. */
export interface UsageCatalog {
  metrics: ReadonlyMap<string, MetricDefinition>;
  paygKeys: ReadonlySet<string>;
}

const builtInCatalog: UsageCatalog = { metrics: builtInMetrics, paygKeys: new Set() };
export const maxDistinctValueLength = 256;

/** The counted property's value as text: a string, or a whole number (42 and "42" are one value). */
const distinctValueOf = (value: unknown): string | null => {
  if (typeof value === 'string') return value.length >= 1 && value.length <= maxDistinctValueLength ? value : null;
  if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value);
  return null;
};

export type EventCheck = { ok: true; event: UsageEvent } | { ok: false; eventId: string | null; reason: string };

const fields = new Set(['event_id', 'tenant_id', 'app_id', 'resource_type', 'quantity', 'timestamp', 'properties']);
const eventIdPattern = /^[\x21-\x7e]{1,128}$/;
const rfc3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

/** The instant a real calendar time names, or null: `Date` would roll February 30 over into March. */
const parseInstant = (text: string): Date | null => {
  try {
    return new Date(Temporal.Instant.from(text).epochMilliseconds);
  } catch {
    return null;
  }
};

/**
 * Checks one event of a batch on its own, so one bad event is refused with its reason and the
 * others still count. Tenants and apps are checked later, against the database.
 */
export const checkUsageEvent = (raw: unknown, now: Date, catalog: UsageCatalog = builtInCatalog): EventCheck => {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return { ok: false, eventId: null, reason: 'an event must be a JSON object' };
  }
  const event = raw as Record<string, unknown>;
  const eventId = typeof event.event_id === 'string' && eventIdPattern.test(event.event_id) ? event.event_id : null;
  const refuse = (reason: string): EventCheck => ({ ok: false, eventId, reason });
  if (eventId === null) return refuse('event_id must be 1 to 128 visible ASCII characters');
  const unknown = Object.keys(event).find((key) => !fields.has(key));
  if (unknown !== undefined) return refuse(`unknown field ${unknown}`);
  const { tenant_id: tenantId, app_id: appId, resource_type: resourceType, quantity, timestamp } = event;
  if (typeof tenantId !== 'string' || !new RegExp(tenantIdPattern).test(tenantId)) {
    return refuse('tenant_id must be a tenant id (tnt_…)');
  }
  if (typeof appId !== 'string' || !new RegExp(appIdPattern).test(appId))
    return refuse('app_id must be an app id (app_…)');
  const metric = typeof resourceType === 'string' ? catalog.metrics.get(resourceType) : undefined;
  if (typeof resourceType !== 'string' || (metric === undefined && !catalog.paygKeys.has(resourceType))) {
    return refuse(`resource_type ${JSON.stringify(resourceType)} is not a billable metric or a pay-as-you-go product`);
  }
  if (typeof quantity !== 'number' || !Number.isInteger(quantity) || quantity < 0 || quantity > maxEventQuantity) {
    return refuse(`quantity must be a whole number from 0 to ${maxEventQuantity}`);
  }
  const occurredAt = typeof timestamp === 'string' && rfc3339.test(timestamp) ? parseInstant(timestamp) : null;
  if (occurredAt === null) return refuse('timestamp must be an RFC 3339 time such as 2026-05-01T08:00:00Z');
  if (occurredAt.getTime() > now.getTime() + futureToleranceMs) {
    return refuse('timestamp is in the future');
  }
  if (occurredAt.getTime() < now.getTime() - lateEventWindowMs) {
    return refuse('timestamp is older than the late-event window of 3 days');
  }
  const properties = event.properties === undefined ? {} : event.properties;
  if (typeof properties !== 'object' || properties === null || Array.isArray(properties)) {
    return refuse('properties must be a JSON object');
  }
  if (Buffer.byteLength(JSON.stringify(properties)) > maxPropertiesBytes) {
    return refuse(`properties must be at most ${maxPropertiesBytes} bytes of JSON`);
  }
  const aggregation = metric?.aggregation ?? 'sum';
  // Each event of a count or unique_count says "one more": a quantity of 5 would be counted as 1.
  if ((aggregation === 'count' || aggregation === 'unique_count') && quantity !== 1) {
    return refuse(
      `quantity must be 1: ${resourceType} counts ${aggregation === 'count' ? 'events' : 'distinct values'}`,
    );
  }
  let distinctValue: string | null = null;
  if (aggregation === 'unique_count') {
    const field = metric?.field ?? '';
    distinctValue = distinctValueOf((properties as Record<string, unknown>)[field]);
    if (distinctValue === null) {
      return refuse(
        `properties.${field} must be a string of 1 to ${maxDistinctValueLength} characters or a whole number: ` +
          `${resourceType} counts its distinct values`,
      );
    }
  }
  return {
    ok: true,
    event: {
      eventId,
      tenantId,
      appId,
      resourceType,
      aggregation,
      quantity: BigInt(quantity),
      occurredAt,
      properties: properties as Record<string, unknown>,
      distinctValue,
    },
  };
};
