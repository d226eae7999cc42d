import { createHash } from 'node:crypto';
import { calendarDateIn } from '../../src/core/billing-calendar.js';
import { canonicalJson } from '../../src/modules/idempotency/fingerprint.js';
import { valuesList } from '../lib/sql.js';
import { batchSize, clock } from './config.js';
import { timeZoneOf, type WireEvent } from './workload.js';

/** One batch in every form a path sends it, all built before any timing starts. */
export interface Batch {
  events: WireEvent[];
  httpBody: string;
  /** The usage_events rows the baseline inserts, flattened into the statement's parameters. */
  baselineParameters: string[];
  quantity: bigint;
}

const baselineColumns = [
  'tenant_id',
  'event_id',
  'app_id',
  'resource_type',
  'quantity',
  'occurred_at',
  'usage_date',
  'properties',
  'fingerprint',
  'received_at',
];

const baselineStatements = new Map<number, string>();
/** The baseline's INSERT of `rows` events, made once per row count. */
export const baselineStatement = (rows: number): string => {
  let text = baselineStatements.get(rows);
  if (text === undefined) {
    text = `insert into usage_events (${baselineColumns.join(', ')}) values ${valuesList(baselineColumns.length, rows)}
            on conflict (tenant_id, event_id) do nothing`;
    baselineStatements.set(rows, text);
  }
  return text;
};

export const toBatches = (events: WireEvent[]): Batch[] => {
  const receivedAt = clock.now().toISOString();
  const batches: Batch[] = [];
  for (let start = 0; start < events.length; start += batchSize) {
    const slice = events.slice(start, start + batchSize);
    batches.push({
      events: slice,
      httpBody: JSON.stringify({ events: slice }),
      baselineParameters: slice.flatMap((event) => {
        const properties = event.properties ?? {};
        return [
          event.tenant_id,
          event.event_id,
          event.app_id,
          event.resource_type,
          String(event.quantity),
          event.timestamp,
          calendarDateIn(new Date(event.timestamp), timeZoneOf.get(event.tenant_id)!),
          JSON.stringify(properties),
          // A sha-256 of the event, so the rows are as wide as the ones the service stores.
          createHash('sha256')
            .update(canonicalJson({ ...event, properties }))
            .digest('hex'),
          receivedAt,
        ];
      }),
      quantity: slice.reduce((sum, event) => sum + BigInt(event.quantity), 0n),
    });
  }
  return batches;
};
