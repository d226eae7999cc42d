import { Type } from 'typebox';
import { notFound } from '../../core/errors.js';
import { unwrap } from '../../core/result.js';
import type { Api, RouteDependencies } from '../../http/api.js';
import { errorResponses, ListEnvelope, listEnvelope, ObjectEnvelope, objectEnvelope } from '../../http/envelope.js';
import { access, tenantScopeOf } from '../auth/access.js';
import { findTenant } from '../tenants/repository.js';
import { findAlert, listAlerts } from './repository.js';
import { changeAlert, createAlert } from './save-alert.js';
import {
  AlertParams,
  CreateAlertBody,
  ListAlertsQuery,
  TenantAlertsParams,
  UpdateAlertBody,
  UsageAlertSchema,
} from './schemas.js';
import { toAlertView } from './view.js';

export const registerUsageAlertRoutes = (
  app: Api,
  { database: { db }, clock, tenantClocks }: RouteDependencies,
): void => {
  app.addSchema(UsageAlertSchema);
  const alertResponse = ObjectEnvelope(Type.Ref('UsageAlertResponse'));
  const tags = ['usage-alerts'];

  app.post(
    '/billing/usage-alerts/:tenant_id',
    {
      config: { access: access.tenantWrite },
      schema: {
        operationId: 'createUsageAlert',
        tags,
        summary: "Create a usage alert on a share of the plan's included units",
        params: TenantAlertsParams,
        body: CreateAlertBody,
        response: { 201: alertResponse, ...errorResponses(404) },
      },
    },
    async (request, reply) => {
      const alert = unwrap(
        await createAlert(
          db,
          await tenantClocks.clockFor(tenantScopeOf(request).tenantId),
          tenantScopeOf(request),
          request.body,
        ),
      );
      return reply.status(201).send(objectEnvelope(toAlertView(alert, { withSecret: true }), clock.now(), 201));
    },
  );

  app.get(
    '/billing/usage-alerts/:tenant_id',
    {
      config: { access: access.tenantRead },
      schema: {
        operationId: 'listUsageAlerts',
        tags,
        summary: "The tenant's usage alerts, newest first",
        params: TenantAlertsParams,
        querystring: ListAlertsQuery,
        response: { 200: ListEnvelope(Type.Ref('UsageAlertResponse')), ...errorResponses(404) },
      },
    },
    async (request) => {
      const scope = tenantScopeOf(request);
      if ((await findTenant(db, scope)) === undefined) throw notFound('tenant');
      const { rows, total } = await listAlerts(db, scope, request.query);
      return listEnvelope(
        rows.map((row) => toAlertView(row, { withSecret: false })),
        request.query,
        total,
        clock.now(),
      );
    },
  );

  app.get(
    '/billing/usage-alerts/:tenant_id/:alert_id',
    {
      config: { access: access.tenantRead },
      schema: {
        operationId: 'getUsageAlert',
        tags,
        summary: 'Get a usage alert',
        params: AlertParams,
        response: { 200: alertResponse, ...errorResponses(404) },
      },
    },
    async (request) => {
      const alert = await findAlert(db, tenantScopeOf(request), request.params.alert_id);
      if (alert === undefined) throw notFound('usage alert');
      return objectEnvelope(toAlertView(alert, { withSecret: false }), clock.now());
    },
  );

  app.patch(
    '/billing/usage-alerts/:tenant_id/:alert_id',
    {
      config: { access: access.tenantWrite },
      schema: {
        operationId: 'updateUsageAlert',
        tags,
        summary: 'Change a usage alert: name, threshold, channels and their addresses, status',
        params: AlertParams,
        body: UpdateAlertBody,
        response: { 200: alertResponse, ...errorResponses(404) },
      },
    },
    async (request) => {
      const alert = unwrap(
        await changeAlert({
          db,
          clock: await tenantClocks.clockFor(tenantScopeOf(request).tenantId),
          scope: tenantScopeOf(request),
          alertId: request.params.alert_id,
          input: request.body,
        }),
      );
      return objectEnvelope(toAlertView(alert, { withSecret: true }), clock.now());
    },
  );

  app.delete(
    '/billing/usage-alerts/:tenant_id/:alert_id',
    {
      config: { access: access.tenantWrite },
      schema: {
        operationId: 'deleteUsageAlert',
        tags,
        summary: 'Disable a usage alert (it is kept, with its history)',
        params: AlertParams,
        response: { 200: alertResponse, ...errorResponses(404) },
      },
    },
    async (request) => {
      const alert = unwrap(
        await changeAlert({
          db,
          clock: await tenantClocks.clockFor(tenantScopeOf(request).tenantId),
          scope: tenantScopeOf(request),
          alertId: request.params.alert_id,
          input: { status: 'disabled' },
        }),
      );
      return objectEnvelope(toAlertView(alert, { withSecret: true }), clock.now());
    },
  );
};
