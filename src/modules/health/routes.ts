import { Type } from 'typebox';
import type { Registry } from 'prom-client';
import type { DatabaseHandle } from '../../db/database.js';
import type { Api } from '../../http/api.js';
import { access } from '../auth/access.js';

const readinessTimeoutMs = 2000;

const ReadinessSchema = Type.Object({
  status: Type.Union([Type.Literal('ready'), Type.Literal('unready')]),
  checks: Type.Object({ database: Type.Union([Type.Literal('up'), Type.Literal('down')]) }),
});

const withTimeout = <T>(work: Promise<T>, ms: number): Promise<T> =>
  new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    work.then(resolve, reject).finally(() => clearTimeout(timer));
  });

export const registerHealthRoutes = (app: Api, database: DatabaseHandle, metrics: Registry): void => {
  app.get(
    '/healthz',
    {
      config: { access: access.public },
      schema: {
        operationId: 'getLiveness',
        tags: ['operations'],
        summary: 'Liveness: the process is up',
        response: { 200: Type.Object({ status: Type.Literal('ok') }) },
      },
    },
    async () => ({ status: 'ok' as const }),
  );

  app.get(
    '/readyz',
    {
      config: { access: access.public },
      schema: {
        operationId: 'getReadiness',
        tags: ['operations'],
        summary: 'Readiness: the database answers',
        // 503: the database does not answer (this body), or the server is shutting down (the error envelope).
        response: { 200: ReadinessSchema, 503: Type.Union([ReadinessSchema, Type.Ref('ErrorResponse')]) },
      },
    },
    async (request, reply) => {
      try {
        await withTimeout(database.ping(), readinessTimeoutMs);
        return { status: 'ready' as const, checks: { database: 'up' as const } };
      } catch (error) {
        request.log.warn({ err: error }, 'readiness check failed');
        return reply.status(503).send({ status: 'unready', checks: { database: 'down' } });
      }
    },
  );

  app.get(
    '/metrics',
    { config: { access: access.public }, schema: { tags: ['operations'], summary: 'Prometheus metrics', hide: true } },
    async (_request, reply) => reply.type(metrics.contentType).send(await metrics.metrics()),
  );

  app.get('/openapi.json', { config: { access: access.public }, schema: { hide: true } }, async () => app.swagger());
};
