import { Type } from 'typebox';
import { toRfc3339 } from '../../core/clock.js';
import { unwrap } from '../../core/result.js';
import type { Api, AppDependencies } from '../../http/app.js';
import { errorResponses, ListEnvelope, listEnvelope } from '../../http/envelope.js';
import { access, tenantScopeOf } from '../auth/access.js';
import { TenantUsageParams } from '../usage/schemas.js';
import { listMeteredBillings, type MeteredBilling } from './list-metered-billings.js';
import { MeteredBillingSchema, MeteringQuery } from './schemas.js';

const toMeteredBillingView = (row: MeteredBilling) => ({
  resource_type: row.resourceType,
  period_start: toRfc3339(row.periodStart),
  period_end: toRfc3339(row.periodEnd),
  total_usage: Number(row.totalUsage),
  included_units: Number(row.includedUnits),
  overage_units: Number(row.overageUnits),
  overage_amount: row.overageAmount,
  status: row.status,
  overage_unit_price: row.overageUnitPrice,
  record_id: row.recordId,
});

export const registerMeteringRoutes = (app: Api, { database: { db }, clock }: AppDependencies): void => {
  app.addSchema(MeteredBillingSchema);
  app.get(
    '/billing/usage/:tenant_id/metering',
    {
      config: { access: access.tenantRead },
      schema: {
        tags: ['usage'],
        summary: 'Metered billing per resource type and period: usage, included units, overage, newest period first',
        params: TenantUsageParams,
        querystring: MeteringQuery,
        response: { 200: ListEnvelope(Type.Ref('MeteredBillingExportItem')), ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request) => {
      const { rows, total } = unwrap(await listMeteredBillings(db, clock, tenantScopeOf(request), request.query));
      return listEnvelope(rows.map(toMeteredBillingView), request.query, total, clock.now());
    },
  );
};
