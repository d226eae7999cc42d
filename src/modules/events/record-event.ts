import { newTimeOrderedId } from '../../core/ids.js';
import type { TenantScope } from '../../core/principal.js';
import type { DbTransaction } from '../../db/database.js';
import type { EventType } from './event-types.js';
import { insertEvents, type NewEventRow } from './repository.js';

/** A change a client cares about, with the changed object as the API shows it after the change. */
export interface NewEvent {
  type: EventType;
  appId?: string | null | undefined;
  /** The instant of the change, from the injected clock (a billing step's own instant in a run). */
  at: Date;
  /** Rendered by the emitting module's view function. */
  data: object;
}

/** The row of an event; its id is made now, from the event's time, so id order is time order. */
export const eventRow = (scope: TenantScope, event: NewEvent): NewEventRow => ({
  tenant_id: scope.tenantId,
  id: newTimeOrderedId('event', event.at),
  type: event.type,
  app_id: event.appId ?? null,
  created_at: event.at,
  data: JSON.stringify(event.data),
});

/** Writes a change's events in the caller's transaction, in one statement: they commit with it or not at all. */
export const recordEvents = (trx: DbTransaction, scope: TenantScope, events: readonly NewEvent[]): Promise<void> =>
  insertEvents(
    trx,
    events.map((event) => eventRow(scope, event)),
  );
