import { invalidParameter } from '../../core/errors.js';
import { fail, ok, type Result } from '../../core/result.js';
import { eventObjects, eventTypes } from './event-types.js';
import type { EventFilter } from './repository.js';
import type { ListEventsQuery } from './schemas.js';

const typePattern = /^([a-z_]+)\.(\*|[a-z_]+)$/;

/** The listing's filter from its query: a type or `object.*` that names something real, a range in order. */
export const eventFilter = (query: ListEventsQuery): Result<EventFilter> => {
  let type: EventFilter['type'];
  if (query.type !== undefined) {
    const match = typePattern.exec(query.type);
    if (match === null) {
      return fail(
        invalidParameter('query', 'type', 'must be an event type (billing_record.paid) or object.* (billing_record.*)'),
      );
    }
    if (match[2] === '*') {
      if (!eventObjects.includes(match[1] ?? '')) {
        return fail(invalidParameter('query', 'type', `names no object with events: ${eventObjects.join(', ')}`));
      }
      type = { prefix: `${match[1]}.` };
    } else {
      if (!(eventTypes as readonly string[]).includes(query.type)) {
        return fail(invalidParameter('query', 'type', `"${query.type}" is not an event type`));
      }
      type = { exact: query.type };
    }
  }
  const createdFrom = query.created_from === undefined ? undefined : new Date(query.created_from);
  const createdTo = query.created_to === undefined ? undefined : new Date(query.created_to);
  if (createdFrom !== undefined && createdTo !== undefined && createdFrom > createdTo) {
    return fail(invalidParameter('query', 'created_from', 'is after created_to'));
  }
  return ok({ type, createdFrom, createdTo });
};
