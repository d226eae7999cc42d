import { Type } from 'typebox';
import { notFound } from '../../core/errors.js';
import { unwrap } from '../../core/result.js';
import type { Api, RouteDependencies } from '../../http/api.js';
import { errorResponses, ListEnvelope, listEnvelope, ObjectEnvelope, objectEnvelope } from '../../http/envelope.js';
import { access, tenantScopeOf } from '../auth/access.js';
import { findTenant } from '../tenants/repository.js';
import { TenantIdParams } from '../tenants/schemas.js';
import { createApp } from './create-app.js';
import { listApps } from './repository.js';
import { AppSchema, CreateAppBody, ListAppsQuery, SyncAppBody, TenantAppParams } from './schemas.js';
import { syncApp } from './sync-app.js';
import { toAppView } from './view.js';

const appRef = Type.Ref('App');

export const registerAppRoutes = (app: Api, { database: { db }, clock, tenantClocks }: RouteDependencies): void => {
  app.addSchema(AppSchema);

  app.post(
    '/admin/tenants/:tenant_id/apps',
    {
      config: { access: access.platformAdmin },
      schema: {
        operationId: 'createApp',
        tags: ['admin'],
        summary: 'Create an app (workspace) of a tenant',
        params: TenantIdParams,
        body: CreateAppBody,
        response: { 201: ObjectEnvelope(appRef), ...errorResponses(404, 409) },
      },
    },
    async (request, reply) => {
      const created = unwrap(
        await createApp({
          db,
          clock: await tenantClocks.clockFor(tenantScopeOf(request).tenantId),
          scope: tenantScopeOf(request),
          input: request.body,
        }),
      );
      return reply.status(201).send(objectEnvelope(toAppView(created), clock.now(), 201));
    },
  );

  app.get(
    '/billing/tenants/:tenant_id/apps',
    {
      config: { access: access.tenantRead },
      schema: {
        operationId: 'listApps',
        tags: ['tenants'],
        summary: "List a tenant's apps, newest first",
        params: TenantIdParams,
        querystring: ListAppsQuery,
        response: { 200: ListEnvelope(appRef), ...errorResponses(404) },
      },
    },
    async (request) => {
      const scope = tenantScopeOf(request);
      if ((await findTenant(db, scope)) === undefined) throw notFound('tenant');
      const { rows, total } = await listApps(db, scope, request.query);
      return listEnvelope(rows.map(toAppView), request.query, total, clock.now());
    },
  );

  app.put(
    '/internal/billing/tenants/:tenant_id/apps/:app_id',
    {
      config: { access: access.service },
      schema: {
        operationId: 'syncApp',
        tags: ['internal'],
        summary: 'Sync an app from the platform (create or update)',
        params: TenantAppParams,
        body: SyncAppBody,
        response: {
          200: ObjectEnvelope(appRef),
          201: ObjectEnvelope(appRef),
          ...errorResponses(404, 409),
        },
      },
    },
    async (request, reply) => {
      const scope = tenantScopeOf(request);
      const { app: synced, created } = unwrap(
        await syncApp({
          db,
          clock: await tenantClocks.clockFor(scope.tenantId),
          scope,
          appId: request.params.app_id,
          input: request.body,
        }),
      );
      const status = created ? 201 : 200;
      return reply.status(status).send(objectEnvelope(toAppView(synced), clock.now(), status));
    },
  );
};
