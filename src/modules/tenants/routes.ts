import { Type } from 'typebox';
import { notFound } from '../../core/errors.js';
import { unwrap } from '../../core/result.js';
import type { Api, RouteDependencies } from '../../http/api.js';
import { errorResponses, ListEnvelope, listEnvelope, ObjectEnvelope, objectEnvelope } from '../../http/envelope.js';
import { access, tenantScopeOf } from '../auth/access.js';
import { createTenant } from './create-tenant.js';
import { findTenant, listTenants } from './repository.js';
import {
  CreateTenantBody,
  ListTenantsQuery,
  SyncTenantBody,
  TenantIdParams,
  TenantSchema,
  UpdateTenantBody,
} from './schemas.js';
import { syncTenant } from './sync-tenant.js';
import { updateTenant } from './update-tenant.js';
import { toTenantView } from './view.js';

const tenantRef = Type.Ref('Tenant');

export const registerTenantRoutes = (app: Api, { database: { db }, clock, tenantClocks }: RouteDependencies): void => {
  app.addSchema(TenantSchema);

  app.post(
    '/admin/tenants',
    {
      config: { access: access.platformAdmin },
      schema: {
        operationId: 'createTenant',
        tags: ['admin'],
        summary: 'Create a tenant',
        body: CreateTenantBody,
        // 422: a test_clock_id naming no test clock.
        response: { 201: ObjectEnvelope(tenantRef), ...errorResponses(409, 422) },
      },
    },
    async (request, reply) => {
      const tenant = unwrap(await createTenant(db, clock, request.body));
      return reply.status(201).send(objectEnvelope(toTenantView(tenant), clock.now(), 201));
    },
  );

  app.get(
    '/admin/tenants',
    {
      config: { access: access.platformAdmin },
      schema: {
        operationId: 'listTenants',
        tags: ['admin'],
        summary: 'List tenants, newest first',
        querystring: ListTenantsQuery,
        response: { 200: ListEnvelope(tenantRef) },
      },
    },
    async (request) => {
      const { rows, total } = await listTenants(db, request.query);
      return listEnvelope(rows.map(toTenantView), request.query, total, clock.now());
    },
  );

  app.patch(
    '/admin/tenants/:tenant_id',
    {
      config: { access: access.platformAdmin },
      schema: {
        operationId: 'updateTenant',
        tags: ['admin'],
        summary: "Update a tenant's name, currency, time zone, tax rate, admin or status",
        params: TenantIdParams,
        body: UpdateTenantBody,
        // 409: a currency change once the tenant has invoices or a balance in another.
        response: { 200: ObjectEnvelope(tenantRef), ...errorResponses(404, 409) },
      },
    },
    async (request) => {
      const scope = tenantScopeOf(request);
      const tenantClock = await tenantClocks.clockFor(scope.tenantId);
      const tenant = unwrap(
        await db.transaction().execute((trx) => updateTenant(trx, tenantClock, scope, request.body)),
      );
      return objectEnvelope(toTenantView(tenant), clock.now());
    },
  );

  app.get(
    '/billing/tenants/:tenant_id',
    {
      config: { access: access.tenantRead },
      schema: {
        operationId: 'getTenant',
        tags: ['tenants'],
        summary: 'Get a tenant',
        params: TenantIdParams,
        response: { 200: ObjectEnvelope(tenantRef), ...errorResponses(404) },
      },
    },
    async (request) => {
      const tenant = await findTenant(db, tenantScopeOf(request));
      if (tenant === undefined) throw notFound('tenant');
      return objectEnvelope(toTenantView(tenant), clock.now());
    },
  );

  app.put(
    '/internal/billing/tenants/:tenant_id',
    {
      config: { access: access.service },
      schema: {
        operationId: 'syncTenant',
        tags: ['internal'],
        summary: "Sync a tenant from the platform's tenant service (create or update)",
        params: TenantIdParams,
        body: SyncTenantBody,
        response: {
          200: ObjectEnvelope(tenantRef),
          201: ObjectEnvelope(tenantRef),
          // The update refuses a currency change, as PATCH does.
          ...errorResponses(409),
        },
      },
    },
    async (request, reply) => {
      const { tenant, created } = unwrap(
        await syncTenant(
          db,
          await tenantClocks.clockFor(tenantScopeOf(request).tenantId),
          tenantScopeOf(request),
          request.body,
        ),
      );
      const status = created ? 201 : 200;
      return reply.status(status).send(objectEnvelope(toTenantView(tenant), clock.now(), status));
    },
  );
};
