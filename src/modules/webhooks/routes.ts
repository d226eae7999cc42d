import type { FastifyRequest } from 'fastify';
import { Type, type TSchema } from 'typebox';
import { notFound } from '../../core/errors.js';
import { unwrap } from '../../core/result.js';
import type { Access } from '../../http/route-access.js';
import type { Api, RouteDependencies } from '../../http/api.js';
import { errorResponses, ListEnvelope, listEnvelope, ObjectEnvelope, objectEnvelope } from '../../http/envelope.js';
import { access, tenantScopeOf } from '../auth/access.js';
import { tenantExists } from '../events/repository.js';
import { deleteEndpoint, rotateEndpointSecret, updateEndpointSettings } from './change-endpoint.js';
import { createEndpoint } from './create-endpoint.js';
import type { WebhookDelivery } from './deliver-webhooks.js';
import { pingEndpoint } from './ping-endpoint.js';
import {
  attemptsOf,
  findEndpoint,
  listDeliveries,
  listEndpoints,
  type DeliveryRow,
  type EndpointOwner,
} from './repository.js';
import { resendDelivery } from './resend-delivery.js';
import {
  CreateEndpointBody,
  ListDeliveriesQuery,
  ListEndpointsQuery,
  PlatformDeliveryParams,
  PlatformEndpointParams,
  TenantDeliveryParams,
  TenantEndpointParams,
  TenantEndpointsParams,
  UpdateEndpointBody,
  WebhookDeliverySchema,
  WebhookEndpointSchema,
} from './schemas.js';
import { createWebhookSender } from './send-webhook.js';
import { toDeliveryView, toEndpointView } from './view.js';

export interface WebhookRouteDependencies extends RouteDependencies {
  /** May endpoint URLs point at internal addresses (`BILLING_WEBHOOK_ALLOW_PRIVATE`)? */
  allowInternalAddresses: boolean;
}

/** One of the two sets of the same routes: a tenant's endpoints, or the platform-wide ones. */
interface EndpointRoutes {
  base: string;
  access: { read: Access; write: Access };
  params: { owner: TSchema; endpoint: TSchema; delivery: TSchema };
  /** Operation ids: `createWebhookEndpoint` for tenants, `createPlatformWebhookEndpoint` for the platform. */
  operationId: (verb: string, noun?: string) => string;
  ownerOf: (request: FastifyRequest) => EndpointOwner;
  whose: string;
}

const tenantRoutes: EndpointRoutes = {
  base: '/billing/webhook-endpoints/:tenant_id',
  access: { read: access.tenantRead, write: access.tenantWrite },
  params: { owner: TenantEndpointsParams, endpoint: TenantEndpointParams, delivery: TenantDeliveryParams },
  operationId: (verb, noun = 'WebhookEndpoint') => `${verb}${noun}`,
  ownerOf: (request) => ({ tenantId: tenantScopeOf(request).tenantId }),
  whose: "the tenant's",
};

const platformRoutes: EndpointRoutes = {
  base: '/admin/webhook-endpoints',
  access: { read: access.platformAdmin, write: access.platformAdmin },
  params: { owner: Type.Object({}), endpoint: PlatformEndpointParams, delivery: PlatformDeliveryParams },
  operationId: (verb, noun = 'WebhookEndpoint') => `${verb}Platform${noun}`,
  ownerOf: () => ({ tenantId: null }),
  whose: 'a platform-wide (every tenant’s events)',
};

export const registerWebhookRoutes = (app: Api, deps: WebhookRouteDependencies): void => {
  app.addSchema(WebhookEndpointSchema);
  app.addSchema(WebhookDeliverySchema);
  const send = createWebhookSender({ allowInternalAddresses: deps.allowInternalAddresses });
  registerEndpointRoutes(app, deps, { db: deps.database.db, clock: deps.clock, send }, tenantRoutes);
  registerEndpointRoutes(app, deps, { db: deps.database.db, clock: deps.clock, send }, platformRoutes);
};

const registerEndpointRoutes = (
  app: Api,
  { clock, allowInternalAddresses }: WebhookRouteDependencies,
  delivery: WebhookDelivery,
  routes: EndpointRoutes,
): void => {
  const { db } = delivery;
  const tags = ['webhooks'];
  const endpointResponse = ObjectEnvelope(Type.Ref('WebhookEndpoint'));
  const deliveryResponse = ObjectEnvelope(Type.Ref('WebhookDelivery'));
  const endpointIdOf = (request: FastifyRequest) => (request.params as { endpoint_id: string }).endpoint_id;
  const deliveryView = async (row: DeliveryRow) => toDeliveryView(row, (await attemptsOf(db, [row])).get(row.id) ?? []);

  app.post(
    routes.base,
    {
      config: { access: routes.access.write },
      schema: {
        operationId: routes.operationId('create'),
        tags,
        summary: `Create ${routes.whose} webhook endpoint; the answer shows its signing secret, this once`,
        params: routes.params.owner,
        body: CreateEndpointBody,
        response: { 201: endpointResponse, ...errorResponses(404) },
      },
    },
    async (request, reply) => {
      const endpoint = unwrap(
        await createEndpoint({
          db,
          clock,
          owner: routes.ownerOf(request),
          input: request.body,
          allowInternalAddresses,
        }),
      );
      return reply.status(201).send(objectEnvelope(toEndpointView(endpoint, { withSecret: true }), clock.now(), 201));
    },
  );

  app.get(
    routes.base,
    {
      config: { access: routes.access.read },
      schema: {
        operationId: routes.operationId('list', 'WebhookEndpoints'),
        tags,
        summary: `List ${routes.whose} webhook endpoints, newest first`,
        params: routes.params.owner,
        querystring: ListEndpointsQuery,
        response: { 200: ListEnvelope(Type.Ref('WebhookEndpoint')), ...errorResponses(404) },
      },
    },
    async (request) => {
      const owner = routes.ownerOf(request);
      if (owner.tenantId !== null && !(await tenantExists(db, { tenantId: owner.tenantId }))) throw notFound('tenant');
      const { rows, total } = await listEndpoints(db, owner, request.query);
      const items = rows.map((row) => toEndpointView(row, { withSecret: false }));
      return listEnvelope(items, request.query, total, clock.now());
    },
  );

  app.get(
    `${routes.base}/:endpoint_id`,
    {
      config: { access: routes.access.read },
      schema: {
        operationId: routes.operationId('get'),
        tags,
        summary: 'Get a webhook endpoint',
        params: routes.params.endpoint,
        response: { 200: endpointResponse, ...errorResponses(404) },
      },
    },
    async (request) => {
      const endpoint = await findEndpoint(db, routes.ownerOf(request), endpointIdOf(request));
      if (endpoint === undefined) throw notFound('webhook endpoint');
      return objectEnvelope(toEndpointView(endpoint, { withSecret: false }), clock.now());
    },
  );

  app.patch(
    `${routes.base}/:endpoint_id`,
    {
      config: { access: routes.access.write },
      schema: {
        operationId: routes.operationId('update'),
        tags,
        summary: 'Change a webhook endpoint: URL, event types, description, enabled',
        params: routes.params.endpoint,
        body: UpdateEndpointBody,
        response: { 200: endpointResponse, ...errorResponses(404) },
      },
    },
    async (request) => {
      const endpoint = unwrap(
        await updateEndpointSettings({
          db,
          clock,
          owner: routes.ownerOf(request),
          endpointId: endpointIdOf(request),
          input: request.body,
          allowInternalAddresses,
        }),
      );
      return objectEnvelope(toEndpointView(endpoint, { withSecret: false }), clock.now());
    },
  );

  app.delete(
    `${routes.base}/:endpoint_id`,
    {
      config: { access: routes.access.write },
      schema: {
        operationId: routes.operationId('delete'),
        tags,
        summary: 'Delete a webhook endpoint: it receives nothing more and is no longer listed',
        params: routes.params.endpoint,
        response: { 200: endpointResponse, ...errorResponses(404) },
      },
    },
    async (request) => {
      const owner = routes.ownerOf(request);
      const endpoint = unwrap(await deleteEndpoint({ db, clock, owner, endpointId: endpointIdOf(request) }));
      return objectEnvelope(toEndpointView(endpoint, { withSecret: false }), clock.now());
    },
  );

  app.post(
    `${routes.base}/:endpoint_id/rotate-secret`,
    {
      config: { access: routes.access.write },
      schema: {
        operationId: routes.operationId('rotate', 'WebhookEndpointSecret'),
        tags,
        summary:
          'Replace the signing secret; the old one still signs for 24 h. The answer shows the new one, this once',
        params: routes.params.endpoint,
        response: { 200: endpointResponse, ...errorResponses(404) },
      },
    },
    async (request) => {
      const owner = routes.ownerOf(request);
      const endpoint = unwrap(await rotateEndpointSecret({ db, clock, owner, endpointId: endpointIdOf(request) }));
      return objectEnvelope(toEndpointView(endpoint, { withSecret: true }), clock.now());
    },
  );

  app.post(
    `${routes.base}/:endpoint_id/test`,
    {
      config: { access: routes.access.write },
      schema: {
        operationId: routes.operationId('test'),
        tags,
        summary: 'Send a webhook_endpoint.test ping to this endpoint now; answers the delivery and its attempt',
        params: routes.params.endpoint,
        response: { 200: deliveryResponse, ...errorResponses(404) },
      },
    },
    async (request) => {
      const row = unwrap(
        await pingEndpoint(delivery, { owner: routes.ownerOf(request), endpointId: endpointIdOf(request) }),
      );
      return objectEnvelope(await deliveryView(row), clock.now());
    },
  );

  app.get(
    `${routes.base}/:endpoint_id/deliveries`,
    {
      config: { access: routes.access.read },
      schema: {
        operationId: routes.operationId('list', 'WebhookDeliveries'),
        tags,
        summary: "The endpoint's deliveries with every attempt, newest event first",
        params: routes.params.endpoint,
        querystring: ListDeliveriesQuery,
        response: { 200: ListEnvelope(Type.Ref('WebhookDelivery')), ...errorResponses(404) },
      },
    },
    async (request) => {
      const endpoint = await findEndpoint(db, routes.ownerOf(request), endpointIdOf(request));
      if (endpoint === undefined) throw notFound('webhook endpoint');
      const query = request.query;
      const { rows, total, attempts } = await listDeliveries(
        db,
        endpoint.id,
        { status: query.status, eventId: query.event_id },
        query,
      );
      const items = rows.map((row) => toDeliveryView(row, attempts.get(row.id) ?? []));
      return listEnvelope(items, query, total, clock.now());
    },
  );

  app.post(
    `${routes.base}/:endpoint_id/deliveries/:delivery_id/resend`,
    {
      config: { access: routes.access.write },
      schema: {
        operationId: routes.operationId('resend', 'WebhookDelivery'),
        tags,
        summary: 'Attempt a delivery again now, with the same webhook-id; answers it with the new attempt',
        params: routes.params.delivery,
        response: { 200: deliveryResponse, ...errorResponses(404, 409) },
      },
    },
    async (request) => {
      const row = unwrap(
        await resendDelivery(delivery, {
          owner: routes.ownerOf(request),
          endpointId: endpointIdOf(request),
          deliveryId: (request.params as { delivery_id: string }).delivery_id,
        }),
      );
      return objectEnvelope(await deliveryView(row), clock.now());
    },
  );
};
