import { randomBytes } from 'node:crypto';
import { toRfc3339 } from '../../core/clock.js';
import { notFound } from '../../core/errors.js';
import { newTimeOrderedId } from '../../core/ids.js';
import { fail, ok, type Result } from '../../core/result.js';
import { attemptDelivery, leaseFrom, type WebhookDelivery } from './deliver-webhooks.js';
import { findDelivery, findEndpoint, insertDelivery, type DeliveryRow, type EndpointOwner } from './repository.js';

/** The type of the ping `POST …/test` sends; it is no billing event (nothing is written to `events`). */
export const pingEventType = 'webhook_endpoint.test';

export const newDeliveryId = (): string => `whd_${randomBytes(16).toString('hex')}`;

/**
 * Sends a `webhook_endpoint.test` ping to this endpoint only, now, whether or not it is enabled,
 * and answers the delivery with its attempt. A ping is tried once and does not count towards the
 * endpoint's health; it can be resent.
 */
export const pingEndpoint = async (
  delivery: WebhookDelivery,
  { owner, endpointId }: { owner: EndpointOwner; endpointId: string },
): Promise<Result<DeliveryRow>> => {
  const endpoint = await findEndpoint(delivery.db, owner, endpointId);
  if (endpoint === undefined) return fail(notFound('webhook endpoint'));
  const now = delivery.clock.now();
  const eventId = newTimeOrderedId('event', now);
  const ping = {
    id: eventId,
    type: pingEventType,
    created_at: toRfc3339(now),
    tenant_id: endpoint.tenant_id,
    data: { endpoint_id: endpoint.id, url: endpoint.url },
  };
  // Inserted already claimed (attempt 1, leased), so no worker takes it while it is being sent.
  const row = await insertDelivery(delivery.db, {
    id: newDeliveryId(),
    endpoint_id: endpoint.id,
    tenant_id: endpoint.tenant_id,
    event_id: eventId,
    event_type: pingEventType,
    ping: JSON.stringify(ping),
    status: 'pending',
    attempts: 1,
    next_attempt_at: null,
    leased_until: leaseFrom(now),
    first_attempted_at: now,
    last_attempted_at: now,
  });
  await attemptDelivery(
    delivery,
    {
      ...row,
      ping,
      status: 'pending',
      attempts: 1,
      first_attempted_at: now,
      url: endpoint.url,
      secret: endpoint.secret,
      previous_secret: endpoint.previous_secret,
      previous_secret_expires_at: endpoint.previous_secret_expires_at,
      event_created_at: null,
      event_app_id: null,
      event_data: null,
    },
    'test',
  );
  const sent = await findDelivery(delivery.db, endpoint.id, row.id);
  return sent === undefined ? fail(notFound('webhook delivery')) : ok(sent);
};
