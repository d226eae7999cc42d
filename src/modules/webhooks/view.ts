import { toRfc3339 } from '../../core/clock.js';
import type { AttemptRow, DeliveryRow, EndpointRow } from './repository.js';

const timeOrNull = (instant: Date | null): string | null => (instant === null ? null : toRfc3339(instant));

export const toEndpointView = (row: EndpointRow, { withSecret }: { withSecret: boolean }) => ({
  id: row.id,
  tenant_id: row.tenant_id,
  url: row.url,
  event_types: row.event_types,
  description: row.description,
  enabled: row.enabled,
  disabled_reason: row.disabled_reason,
  failing_since: timeOrNull(row.failing_since),
  created_at: toRfc3339(row.created_at),
  updated_at: toRfc3339(row.updated_at),
  ...(withSecret ? { secret: row.secret } : {}),
});

export const toDeliveryView = (row: DeliveryRow, attempts: readonly AttemptRow[]) => ({
  id: row.id,
  endpoint_id: row.endpoint_id,
  event_id: row.event_id,
  event_type: row.event_type,
  status: row.status,
  attempt_count: row.attempts,
  next_attempt_at: row.status === 'pending' ? timeOrNull(row.next_attempt_at) : null,
  first_attempted_at: timeOrNull(row.first_attempted_at),
  last_attempted_at: timeOrNull(row.last_attempted_at),
  attempts: attempts.map((attempt) => ({
    attempt: attempt.attempt,
    kind: attempt.kind,
    started_at: toRfc3339(attempt.started_at),
    latency_ms: attempt.latency_ms,
    http_status: attempt.http_status,
    error: attempt.error,
    response_body: attempt.response_body,
  })),
});
