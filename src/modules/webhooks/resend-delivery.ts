import { AppError, notFound } from '../../core/errors.js';
import { fail, ok, type Result } from '../../core/result.js';
import { attemptDelivery, leaseFrom, type WebhookDelivery } from './deliver-webhooks.js';
import { claimDelivery, findDelivery, findEndpoint, type DeliveryRow, type EndpointOwner } from './repository.js';

export interface DeliveryTarget {
  owner: EndpointOwner;
  endpointId: string;
  deliveryId: string;
}

/**
 * A new attempt of one delivery, now, with the same webhook-id, whatever its status and whether or
 * not the endpoint is enabled. Refused with 409 while another attempt of it is in flight.
 */
export const resendDelivery = async (
  delivery: WebhookDelivery,
  { owner, endpointId, deliveryId }: DeliveryTarget,
): Promise<Result<DeliveryRow>> => {
  if ((await findEndpoint(delivery.db, owner, endpointId)) === undefined) return fail(notFound('webhook endpoint'));
  const now = delivery.clock.now();
  const claimed = await claimDelivery(delivery.db, { now, leaseUntil: leaseFrom(now), endpointId, deliveryId });
  if (claimed === undefined) {
    if ((await findDelivery(delivery.db, endpointId, deliveryId)) === undefined)
      return fail(notFound('webhook delivery'));
    return fail(new AppError('conflict', 'an attempt of this delivery is in flight; try again when it has finished'));
  }
  await attemptDelivery(delivery, claimed, 'resend');
  const sent = await findDelivery(delivery.db, endpointId, deliveryId);
  return sent === undefined ? fail(notFound('webhook delivery')) : ok(sent);
};
