import type { Clock } from '../../core/clock.js';
import { toRfc3339 } from '../../core/clock.js';
import type { Db } from '../../db/database.js';
import { recordEvents } from '../events/record-event.js';
import { signWebhook } from '../notifications/webhook-signature.js';
import { failingTooLong, nextAttemptAt } from './retry-schedule.js';
import {
  claimDueDeliveries,
  insertAttempt,
  markEndpointFailed,
  markEndpointSucceeded,
  settleDelivery,
  updateEndpoint,
  type AttemptRow,
  type ClaimedDelivery,
  type DeliveryRow,
} from './repository.js';
import type { SendOutcome, WebhookSender } from './send-webhook.js';
import { toEndpointView } from './view.js';

/** What delivering takes: the database, the server's clock (never a tenant's) and the sender. */
export interface WebhookDelivery {
  db: Db;
  clock: Clock;
  send: WebhookSender;
}

/** Longer than the sender's 10 s timeout, so a live attempt always records its outcome within its lease. */
export const leaseMs = 30_000;
/** Deliveries one process sends at once. */
export const deliveryConcurrency = 8;

export type AttemptKind = AttemptRow['kind'];
/** Where an attempt left its delivery; `superseded`: its lease had run out and a later attempt was claimed. */
export type AttemptResult = DeliveryRow['status'] | 'superseded';

export const leaseFrom = (now: Date): Date => new Date(now.getTime() + leaseMs);

/** The body receivers get: the event as `GET /billing/events/…` shows it (`app_id` only when it has one). */
const bodyOf = (delivery: ClaimedDelivery): string => {
  if (delivery.ping !== null) return JSON.stringify(delivery.ping);
  if (delivery.event_created_at === null || delivery.event_data === null) {
    throw new Error(`delivery ${delivery.id} has no event ${delivery.event_id}`);
  }
  return JSON.stringify({
    id: delivery.event_id,
    type: delivery.event_type,
    created_at: toRfc3339(delivery.event_created_at),
    tenant_id: delivery.tenant_id,
    ...(delivery.event_app_id === null ? {} : { app_id: delivery.event_app_id }),
    data: delivery.event_data,
  });
};

/** `v1,<signature>` with the current secret, and with the replaced one too during the 24 h after a rotation. */
const signatureOf = (delivery: ClaimedDelivery, timestampSeconds: number, body: string, now: Date): string => {
  const secrets = [delivery.secret];
  if (delivery.previous_secret !== null && (delivery.previous_secret_expires_at ?? now) > now) {
    secrets.push(delivery.previous_secret);
  }
  return secrets.map((secret) => signWebhook(secret, delivery.event_id, timestampSeconds, body)).join(' ');
};

/**
 * Where the delivery goes after an attempt: delivered on success. A test ping is tried once. A
 * resend of a delivery that was already delivered or failed leaves it so; otherwise a failure is
 * retried on the schedule, and failed once the 72 h have passed.
 */
const stateAfter = (
  delivery: ClaimedDelivery,
  outcome: SendOutcome,
  startedAt: Date,
): Pick<DeliveryRow, 'status' | 'next_attempt_at'> => {
  if (outcome.ok) return { status: 'delivered', next_attempt_at: null };
  if (delivery.ping !== null) return { status: 'failed', next_attempt_at: null };
  if (delivery.status !== 'pending') return { status: delivery.status, next_attempt_at: null };
  const next = nextAttemptAt(delivery.first_attempted_at, delivery.attempts, startedAt);
  return next === null ? { status: 'failed', next_attempt_at: null } : { status: 'pending', next_attempt_at: next };
};

/**
 * Sends one claimed delivery, outside any transaction, then records the attempt, the delivery's
 * new state and the endpoint's health in one. An endpoint whose attempts have all failed for
 * 72 h is disabled, and a tenant's is told with `webhook_endpoint.disabled` in its events.
 */
export const attemptDelivery = async (
  { db, clock, send }: WebhookDelivery,
  delivery: ClaimedDelivery,
  kind: AttemptKind,
): Promise<AttemptResult> => {
  const startedAt = clock.now();
  const timestampSeconds = Math.floor(startedAt.getTime() / 1000);
  let outcome: SendOutcome;
  const started = performance.now();
  try {
    const body = bodyOf(delivery);
    outcome = await send({
      url: delivery.url,
      headers: {
        'content-type': 'application/json',
        'user-agent': 'billing-service-webhooks',
        // The event's id: the same on every attempt and resend, so receivers can drop duplicates.
        'webhook-id': delivery.event_id,
        'webhook-timestamp': String(timestampSeconds),
        'webhook-signature': signatureOf(delivery, timestampSeconds, body, startedAt),
      },
      body,
    });
  } catch (error) {
    outcome = { ok: false, httpStatus: null, error: String(error), responseBody: null };
  }
  const latencyMs = Math.max(0, Math.round(performance.now() - started));
  const state = stateAfter(delivery, outcome, startedAt);
  return db.transaction().execute(async (trx) => {
    await insertAttempt(trx, {
      delivery_id: delivery.id,
      attempt: delivery.attempts,
      tenant_id: delivery.tenant_id,
      endpoint_id: delivery.endpoint_id,
      kind,
      started_at: startedAt,
      latency_ms: latencyMs,
      http_status: outcome.httpStatus,
      error: outcome.error?.slice(0, 1000) ?? null,
      response_body: outcome.responseBody,
    });
    const settled = await settleDelivery(trx, { id: delivery.id, attempt: delivery.attempts }, state);
    // A test ping says nothing about the endpoint's health: only event deliveries count.
    if (delivery.ping === null) {
      if (outcome.ok) {
        await markEndpointSucceeded(trx, delivery.endpoint_id);
      } else {
        const endpoint = await markEndpointFailed(trx, delivery.endpoint_id, startedAt);
        const now = clock.now();
        if (endpoint.enabled && endpoint.failing_since !== null && failingTooLong(endpoint.failing_since, now)) {
          const disabled = await updateEndpoint(trx, endpoint.id, {
            enabled: false,
            disabled_reason: 'failing',
            updated_at: now,
          });
          if (disabled.tenant_id !== null) {
            await recordEvents(trx, { tenantId: disabled.tenant_id }, [
              { type: 'webhook_endpoint.disabled', at: now, data: toEndpointView(disabled, { withSecret: false }) },
            ]);
          }
        }
      }
    }
    return settled ? state.status : 'superseded';
  });
};

export type DeliveryCounts = Record<AttemptResult | 'errors', number>;

/**
 * Claims and sends due deliveries, at most `deliveryConcurrency` at a time, until none is due (or
 * `limit` were claimed). What the worker runs on each wake-up and the scheduler's tick.
 */
export const deliverDueWebhooks = async (
  delivery: WebhookDelivery,
  { limit = 1000, onError }: { limit?: number; onError?: (error: unknown) => void } = {},
): Promise<DeliveryCounts> => {
  const counts: DeliveryCounts = { pending: 0, delivered: 0, failed: 0, superseded: 0, errors: 0 };
  const inFlight = new Set<Promise<void>>();
  let claimedSoFar = 0;
  for (;;) {
    const free = Math.min(deliveryConcurrency - inFlight.size, limit - claimedSoFar);
    const now = delivery.clock.now();
    const claimed =
      free > 0 ? await claimDueDeliveries(delivery.db, { now, leaseUntil: leaseFrom(now), limit: free }) : [];
    claimedSoFar += claimed.length;
    for (const one of claimed) {
      const running: Promise<void> = attemptDelivery(delivery, one, 'scheduled')
        .then(
          (result) => {
            counts[result] += 1;
          },
          (error: unknown) => {
            // The lease runs out and the delivery is claimed again: nothing is lost.
            counts.errors += 1;
            onError?.(error);
          },
        )
        .finally(() => inFlight.delete(running));
      inFlight.add(running);
    }
    if (inFlight.size === 0) return counts;
    // Claim more as soon as a slot frees, while there may be more due.
    if (claimed.length < free || claimedSoFar >= limit || inFlight.size >= deliveryConcurrency) {
      if (claimedSoFar >= limit) {
        await Promise.all(inFlight);
        return counts;
      }
      await Promise.race(inFlight);
    }
  }
};
