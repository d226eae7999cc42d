import { Type } from 'typebox';
import { notFound } from '../../core/errors.js';
import { unwrap } from '../../core/result.js';
import type { Api, RouteDependencies } from '../../http/api.js';
import {
  DetailEnvelope,
  detailEnvelope,
  errorResponses,
  ListEnvelope,
  listEnvelope,
  ObjectEnvelope,
  objectEnvelope,
} from '../../http/envelope.js';
import { access, apiKeyOf, principalOf, tenantScopeOf } from '../auth/access.js';
import { findTenant } from '../tenants/repository.js';
import { TenantIdParams } from '../tenants/schemas.js';
import { createApiKey } from './create-api-key.js';
import { listApiKeys } from './repository.js';
import { revokeApiKey } from './revoke-api-key.js';
import {
  ApiKeyParams,
  ApiKeySchema,
  CreateApiKeyBody,
  CreatedApiKeySchema,
  KeyInfoSchema,
  ListApiKeysQuery,
} from './schemas.js';
import { toApiKeyView } from './view.js';

export const registerApiKeyRoutes = (app: Api, { database: { db }, clock, tenantClocks }: RouteDependencies): void => {
  app.addSchema(ApiKeySchema);
  app.addSchema(CreatedApiKeySchema);

  app.post(
    '/billing/api-keys/:tenant_id',
    {
      config: { access: access.tenantWrite },
      schema: {
        operationId: 'createApiKey',
        tags: ['api-keys'],
        summary: 'Create a DF-API-KEY for the detail-list API; the key is shown once',
        params: TenantIdParams,
        body: CreateApiKeyBody,
        response: { 201: ObjectEnvelope(Type.Ref('CreatedApiKey')), ...errorResponses(404) },
      },
    },
    async (request, reply) => {
      const { row, key } = unwrap(
        await createApiKey({
          db,
          clock: await tenantClocks.clockFor(tenantScopeOf(request).tenantId),
          scope: tenantScopeOf(request),
          principal: principalOf(request),
          input: request.body,
        }),
      );
      return reply.status(201).send(objectEnvelope({ ...toApiKeyView(row), key }, clock.now(), 201));
    },
  );

  app.get(
    '/billing/api-keys/:tenant_id',
    {
      config: { access: access.tenantWrite },
      schema: {
        operationId: 'listApiKeys',
        tags: ['api-keys'],
        summary: "List a tenant's API keys (never the keys themselves), newest first",
        params: TenantIdParams,
        querystring: ListApiKeysQuery,
        response: { 200: ListEnvelope(Type.Ref('ApiKey')), ...errorResponses(404) },
      },
    },
    async (request) => {
      const scope = tenantScopeOf(request);
      if ((await findTenant(db, scope)) === undefined) throw notFound('tenant');
      const { rows, total } = await listApiKeys(db, scope, request.query);
      return listEnvelope(rows.map(toApiKeyView), request.query, total, clock.now());
    },
  );

  app.delete(
    '/billing/api-keys/:tenant_id/:key_id',
    {
      config: { access: access.tenantWrite },
      schema: {
        operationId: 'revokeApiKey',
        tags: ['api-keys'],
        summary: 'Revoke an API key; it stops working at once',
        params: ApiKeyParams,
        response: { 200: ObjectEnvelope(Type.Ref('ApiKey')), ...errorResponses(404) },
      },
    },
    async (request) => {
      const scope = tenantScopeOf(request);
      const row = unwrap(
        await revokeApiKey({
          db,
          clock: await tenantClocks.clockFor(scope.tenantId),
          scope,
          principal: principalOf(request),
          keyId: request.params.key_id,
        }),
      );
      return objectEnvelope(toApiKeyView(row), clock.now());
    },
  );

  app.get(
    '/api/v1/billing/key',
    {
      config: { access: access.apiKey },
      schema: {
        operationId: 'getPresentedApiKey',
        tags: ['detail-list'],
        summary: 'Describe the DF-API-KEY presented: its tenant and workspace scope',
        response: { 200: DetailEnvelope(KeyInfoSchema) },
      },
    },
    async (request) => {
      const key = apiKeyOf(request);
      return detailEnvelope({ keyId: key.keyId, tenantId: key.tenantId, workspaceUuid: key.appId }, request.id);
    },
  );
};
