import { Type } from 'typebox';
import { unwrap } from '../../core/result.js';
import type { Api, RouteDependencies } from '../../http/api.js';
import { errorResponses, ListEnvelope, listEnvelope, ObjectEnvelope, objectEnvelope } from '../../http/envelope.js';
import { access, tenantScopeOf } from '../auth/access.js';
import { getUsageStats } from './get-usage-stats.js';
import { ingestEvents } from './ingest-events.js';
import {
  IngestEventsBody,
  IngestResultSchema,
  TenantUsageParams,
  UsageStatsQuery,
  UsageStatsSchema,
} from './schemas.js';
import { toDayStatsView } from './view.js';

/**
 * Told, after an ingestion committed, which tenants' usage grew: usage alerts listen, and are
 * checked on committed usage without usage knowing them.
 */
export type UsageRecordedListener = (tenantIds: string[]) => Promise<void>;

export interface UsageRouteDependencies extends RouteDependencies {
  onUsageRecorded: UsageRecordedListener;
}

export const registerUsageRoutes = (
  app: Api,
  { database: { db }, clock, tenantClocks, onUsageRecorded }: UsageRouteDependencies,
): void => {
  app.addSchema(UsageStatsSchema);

  app.post(
    '/billing/usage/events',
    {
      config: { access: access.service },
      schema: {
        operationId: 'ingestUsageEvents',
        tags: ['usage'],
        summary: 'Ingest a batch of up to 1,000 usage events; each is counted exactly once and its outcome reported',
        body: IngestEventsBody,
        response: { 200: ObjectEnvelope(IngestResultSchema) },
      },
    },
    async (request) => {
      const { counted, ...result } = await ingestEvents(db, { clock, tenantClocks }, request.body.events);
      // The events are counted; alerts are checked after, on committed usage. A failure here
      // leaves them to the scheduler's evaluation, which finds the same crossings.
      try {
        await onUsageRecorded([...new Set(counted.map((event) => event.tenantId))]);
      } catch (error) {
        request.log.warn({ err: error }, 'usage alert evaluation failed; the scheduler will retry it');
      }
      return objectEnvelope(result, clock.now());
    },
  );

  app.get(
    '/billing/usage/:tenant_id/stats',
    {
      config: { access: access.tenantRead },
      schema: {
        operationId: 'listUsageStats',
        tags: ['usage'],
        summary: "Usage per day in the tenant's time zone, newest first (default: the last 30 days)",
        params: TenantUsageParams,
        querystring: UsageStatsQuery,
        response: { 200: ListEnvelope(Type.Ref('UsageStats')), ...errorResponses(404) },
      },
    },
    async (request) => {
      const { rows, total } = unwrap(
        await getUsageStats(
          db,
          await tenantClocks.clockFor(tenantScopeOf(request).tenantId),
          tenantScopeOf(request),
          request.query,
        ),
      );
      return listEnvelope(rows.map(toDayStatsView), request.query, total, clock.now());
    },
  );
};
