import { Type } from 'typebox';
import { notFound } from '../../core/errors.js';
import { unwrap } from '../../core/result.js';
import type { Api, RouteDependencies } from '../../http/api.js';
import { errorResponses, ListEnvelope, listEnvelope, ObjectEnvelope, objectEnvelope } from '../../http/envelope.js';
import { access } from '../auth/access.js';
import { createMetric } from './create-metric.js';
import { deleteMetric } from './delete-metric.js';
import { findMetric, listMetrics } from './repository.js';
import { CreateMetricBody, MetricListQuery, MetricParams, MetricSchema, UpdateMetricBody } from './schemas.js';
import { updateMetric } from './update-metric.js';
import { toMetricView } from './view.js';

export const registerMetricRoutes = (app: Api, { database: { db }, clock }: RouteDependencies): void => {
  app.addSchema(MetricSchema);
  const metricResponse = ObjectEnvelope(Type.Ref('BillableMetric'));

  app.post(
    '/admin/metrics',
    {
      config: { access: access.platformAdmin },
      schema: {
        operationId: 'createMetric',
        tags: ['metrics'],
        summary: 'Define a billable metric: usage events name it in resource_type, plans price it',
        body: CreateMetricBody,
        response: { 201: metricResponse, ...errorResponses(409) },
      },
    },
    async (request, reply) => {
      const metric = unwrap(await createMetric(db, clock, request.body));
      return reply.status(201).send(objectEnvelope(toMetricView(metric), clock.now(), 201));
    },
  );

  app.get(
    '/admin/metrics',
    {
      config: { access: access.staff },
      schema: {
        operationId: 'listMetrics',
        tags: ['metrics'],
        summary: 'List billable metrics by code, the built-in ones included',
        querystring: MetricListQuery,
        response: { 200: ListEnvelope(Type.Ref('BillableMetric')) },
      },
    },
    async (request) => {
      const { rows, total } = await listMetrics(db, request.query);
      return listEnvelope(rows.map(toMetricView), request.query, total, clock.now());
    },
  );

  app.get(
    '/admin/metrics/:code',
    {
      config: { access: access.staff },
      schema: {
        operationId: 'getMetric',
        tags: ['metrics'],
        summary: 'Get a billable metric',
        params: MetricParams,
        response: { 200: metricResponse, ...errorResponses(404) },
      },
    },
    async (request) => {
      const metric = await findMetric(db, request.params.code);
      if (metric === undefined) throw notFound(`metric ${request.params.code}`);
      return objectEnvelope(toMetricView(metric), clock.now());
    },
  );

  app.patch(
    '/admin/metrics/:code',
    {
      config: { access: access.platformAdmin },
      schema: {
        operationId: 'updateMetric',
        tags: ['metrics'],
        summary: 'Rename a metric; change its aggregation or field only while nothing uses it',
        params: MetricParams,
        body: UpdateMetricBody,
        response: { 200: metricResponse, ...errorResponses(404, 409) },
      },
    },
    async (request) =>
      objectEnvelope(
        toMetricView(unwrap(await updateMetric(db, clock, request.params.code, request.body))),
        clock.now(),
      ),
  );

  app.delete(
    '/admin/metrics/:code',
    {
      config: { access: access.platformAdmin },
      schema: {
        operationId: 'deleteMetric',
        tags: ['metrics'],
        summary: 'Delete a metric nothing uses',
        params: MetricParams,
        response: {
          200: ObjectEnvelope(Type.Object({ code: Type.String(), deleted: Type.Literal(true) })),
          ...errorResponses(404, 409),
        },
      },
    },
    async (request) => {
      const deleted = unwrap(await deleteMetric(db, request.params.code));
      return objectEnvelope({ code: deleted.code, deleted: true as const }, clock.now());
    },
  );
};
