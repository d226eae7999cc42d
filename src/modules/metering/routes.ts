import { Type } from 'typebox';
import { unwrap } from '../../core/result.js';
import type { Api, RouteDependencies } from '../../http/api.js';
import { errorResponses, ListEnvelope, listEnvelope } from '../../http/envelope.js';
import { access, tenantScopeOf } from '../auth/access.js';
import { TenantUsageParams } from '../usage/schemas.js';
import { listMeteredBillings, type CurrentSubscriptionLookup } from './list-metered-billings.js';
import { MeteredBillingSchema, MeteringQuery } from './schemas.js';
import { toMeteredBillingView } from './view.js';

export interface MeteringRouteDependencies extends RouteDependencies {
  findCurrentSubscription: CurrentSubscriptionLookup;
}

export const registerMeteringRoutes = (
  app: Api,
  { database: { db }, clock, tenantClocks, findCurrentSubscription }: MeteringRouteDependencies,
): void => {
  app.addSchema(MeteredBillingSchema);
  app.get(
    '/billing/usage/:tenant_id/metering',
    {
      config: { access: access.tenantRead },
      schema: {
        operationId: 'listMeteredBillings',
        tags: ['usage'],
        summary: 'Metered billing per resource type and period: usage, included units, overage, newest period first',
        params: TenantUsageParams,
        querystring: MeteringQuery,
        response: { 200: ListEnvelope(Type.Ref('MeteredBilling')), ...errorResponses(404) },
      },
    },
    async (request) => {
      const { rows, total } = unwrap(
        await listMeteredBillings({
          db,
          clock: await tenantClocks.clockFor(tenantScopeOf(request).tenantId),
          scope: tenantScopeOf(request),
          page: request.query,
          findCurrentSubscription,
        }),
      );
      return listEnvelope(rows.map(toMeteredBillingView), request.query, total, clock.now());
    },
  );
};
