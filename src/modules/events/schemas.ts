import { Type, type Static } from 'typebox';
import { tenantIdPattern } from '../../core/ids.js';
import { pageQueryFields } from '../../http/pagination.js';
import { eventTypes } from './event-types.js';

export const EventSchema = Type.Object(
  {
    id: Type.String({
      description: 'Time-sortable: later events have greater ids',
      examples: ['evt_0mf3k2a9c0123456789abcdef'],
    }),
    type: Type.Union(
      eventTypes.map((type) => Type.Literal(type)),
      { description: 'What happened; see docs/events.md' },
    ),
    tenant_id: Type.String(),
    app_id: Type.Union([Type.String(), Type.Null()]),
    created_at: Type.String({ description: 'RFC 3339, UTC: when the change happened' }),
    data: Type.Object(
      {},
      { additionalProperties: true, description: 'The changed object as the API shows it after the change' },
    ),
  },
  { $id: 'BillingEvent' },
);

export const TenantEventsParams = Type.Object({ tenant_id: Type.String({ pattern: tenantIdPattern }) });

export const EventParams = Type.Object({
  tenant_id: Type.String({ pattern: tenantIdPattern }),
  event_id: Type.String({ maxLength: 100 }),
});

export const ListEventsQuery = Type.Object(
  {
    ...pageQueryFields,
    type: Type.Optional(
      Type.String({
        maxLength: 100,
        description: 'An event type (`subscription.renewed`), or every type of one object (`subscription.*`)',
      }),
    ),
    created_from: Type.Optional(Type.String({ format: 'date-time', description: 'RFC 3339; inclusive' })),
    created_to: Type.Optional(Type.String({ format: 'date-time', description: 'RFC 3339; inclusive' })),
  },
  { additionalProperties: false },
);

export type ListEventsQuery = Static<typeof ListEventsQuery>;
