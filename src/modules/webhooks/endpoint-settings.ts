import { randomBytes } from 'node:crypto';
import { invalidParameter } from '../../core/errors.js';
import { fail, ok, type Result } from '../../core/result.js';
import { eventObjects, eventTypes } from '../events/event-types.js';

/** What an endpoint may subscribe to: a known event type, or every type of a known object (`subscription.*`). */
export const checkEventTypes = (requested: readonly string[]): Result<string[]> => {
  for (const type of requested) {
    const object = type.endsWith('.*') ? type.slice(0, -2) : undefined;
    const known =
      object === undefined ? (eventTypes as readonly string[]).includes(type) : eventObjects.includes(object);
    if (!known) {
      return fail(
        invalidParameter(
          'body',
          'event_types',
          `"${type}" is neither an event type (billing_record.paid) nor object.* of an object with events (${eventObjects.join(', ')})`,
        ),
      );
    }
  }
  return ok([...requested]);
};

/** A Standard Webhooks signing secret: `whsec_` and 32 random bytes in base64. */
export const newEndpointSecret = (): string => `whsec_${randomBytes(32).toString('base64')}`;

/** How long the secret a rotation replaced still signs, so receivers can switch without losing a message. */
export const previousSecretValidMs = 24 * 3_600_000;
