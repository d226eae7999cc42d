import { Type } from 'typebox';
import { notFound } from '../../core/errors.js';
import { unwrap } from '../../core/result.js';
import type { Api, RouteDependencies } from '../../http/api.js';
import { errorResponses, ListEnvelope, listEnvelope, ObjectEnvelope, objectEnvelope } from '../../http/envelope.js';
import { access, tenantScopeOf } from '../auth/access.js';
import { eventFilter } from './list-events.js';
import { findEvent, listEvents, tenantExists } from './repository.js';
import { EventParams, EventSchema, ListEventsQuery, TenantEventsParams } from './schemas.js';
import { toEventView } from './view.js';

export const registerEventRoutes = (app: Api, { database: { db }, clock }: RouteDependencies): void => {
  app.addSchema(EventSchema);
  const tags = ['events'];

  app.get(
    '/billing/events/:tenant_id',
    {
      config: { access: access.tenantRead },
      schema: {
        operationId: 'listEvents',
        tags,
        summary: "The tenant's billing events, newest first",
        params: TenantEventsParams,
        querystring: ListEventsQuery,
        response: { 200: ListEnvelope(Type.Ref('BillingEvent')), ...errorResponses(404) },
      },
    },
    async (request) => {
      const scope = tenantScopeOf(request);
      const filter = unwrap(eventFilter(request.query));
      if (!(await tenantExists(db, scope))) throw notFound('tenant');
      const { rows, total } = await listEvents(db, scope, filter, request.query);
      return listEnvelope(rows.map(toEventView), request.query, total, clock.now());
    },
  );

  app.get(
    '/billing/events/:tenant_id/:event_id',
    {
      config: { access: access.tenantRead },
      schema: {
        operationId: 'getEvent',
        tags,
        summary: 'One billing event',
        params: EventParams,
        response: { 200: ObjectEnvelope(Type.Ref('BillingEvent')), ...errorResponses(404) },
      },
    },
    async (request) => {
      const event = await findEvent(db, tenantScopeOf(request), request.params.event_id);
      if (event === undefined) throw notFound('event');
      return objectEnvelope(toEventView(event), clock.now());
    },
  );
};
