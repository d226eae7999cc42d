import { Type } from 'typebox';
import { toRfc3339 } from '../../core/clock.js';
import { notFound } from '../../core/errors.js';
import type { Api, RouteDependencies } from '../../http/api.js';
import { errorResponses, ListEnvelope, listEnvelope } from '../../http/envelope.js';
import { fetchPage } from '../../db/paginate.js';
import { pageQueryFields } from '../../http/pagination.js';
import { access, tenantScopeOf } from '../auth/access.js';
import { findTenant } from '../tenants/repository.js';
import { tenantIdPattern } from '../tenants/schemas.js';

const NotificationSchema = Type.Object(
  {
    id: Type.String({ examples: ['ntf_0123456789abcdef'] }),
    alert_id: Type.Union([Type.String(), Type.Null()]),
    title: Type.String(),
    body: Type.String(),
    created_at: Type.String(),
  },
  { $id: 'Notification' },
);

export const registerNotificationRoutes = (app: Api, { database: { db }, clock }: RouteDependencies): void => {
  app.addSchema(NotificationSchema);
  app.get(
    '/billing/notifications/:tenant_id',
    {
      config: { access: access.tenantRead },
      schema: {
        operationId: 'listNotifications',
        tags: ['usage-alerts'],
        summary: "The tenant's in-app notifications, newest first",
        params: Type.Object({ tenant_id: Type.String({ pattern: tenantIdPattern }) }),
        querystring: Type.Object(pageQueryFields, { additionalProperties: false }),
        response: { 200: ListEnvelope(Type.Ref('Notification')), ...errorResponses(404) },
      },
    },
    async (request) => {
      const scope = tenantScopeOf(request);
      if ((await findTenant(db, scope)) === undefined) throw notFound('tenant');
      const { rows, total } = await fetchPage(
        db.selectFrom('notifications').where('tenant_id', '=', scope.tenantId),
        (query) => query.selectAll().orderBy('created_at', 'desc').orderBy('id', 'desc'),
        request.query,
      );
      const items = rows.map((row) => ({
        id: row.id,
        alert_id: row.alert_id,
        title: row.title,
        body: row.body,
        created_at: toRfc3339(row.created_at),
      }));
      return listEnvelope(items, request.query, total, clock.now());
    },
  );
};
