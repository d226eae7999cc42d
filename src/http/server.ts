import { randomUUID } from 'node:crypto';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify from 'fastify';
import type { Registry } from 'prom-client';
import type { Clock } from '../core/clock.js';
import type { LogLevel, RateLimitConfig, TrustProxy } from '../config.js';
import type { Api } from './api.js';
import { installDocs } from './docs.js';
import { DetailErrorSchema, ErrorResponseSchema, PageInfoSchema } from './envelope.js';
import { frameworkErrorOptions, installErrorHandling, requestLimits } from './error-handler.js';
import { installJsonBodyParser } from './json-body.js';
import { installMetrics } from './metrics.js';
import { installRateLimits } from './rate-limits.js';
import { installValidation } from './validation.js';

export interface ServerOptions {
  clock: Clock;
  logLevel: LogLevel;
  version: string;
  rateLimits: RateLimitConfig;
  /** Which proxies' X-Forwarded-For to believe for the client address; default: none (the TCP peer). */
  trustProxy?: TrustProxy;
}

const requestIdPattern = /^[A-Za-z0-9._-]{1,128}$/;

/**
 * Fastify as every route gets it, with no route yet: request ids, the JSON body parser,
 * validation, the shared schemas, the error envelope, metrics, the docs and the rate limits.
 * The access guard and the routes are the wiring's (src/app.ts).
 */
export const buildServer = async (options: ServerOptions): Promise<{ app: Api; metrics: Registry }> => {
  const app = Fastify({
    logger: {
      level: options.logLevel,
      redact: ['req.headers.authorization', 'req.headers["df-api-key"]'],
    },
    // A caller's request id is kept when it is sane, so one id follows a request across services.
    genReqId: (request) => {
      const incoming = request.headers['x-request-id'];
      return typeof incoming === 'string' && requestIdPattern.test(incoming) ? incoming : randomUUID();
    },
    bodyLimit: requestLimits.bodyBytes,
    routerOptions: { maxParamLength: requestLimits.pathParameterLength },
    // While closing, installErrorHandling answers 503 in the envelope instead.
    return503OnClosing: false,
    ...frameworkErrorOptions(options.clock),
    trustProxy: options.trustProxy ?? false,
  }).withTypeProvider<TypeBoxTypeProvider>();

  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  // The API speaks JSON only; any other body is a 415, not a string that fails validation.
  app.removeContentTypeParser('text/plain');
  installJsonBodyParser(app);
  installValidation(app);
  app.addSchema(PageInfoSchema);
  app.addSchema(ErrorResponseSchema);
  app.addSchema(DetailErrorSchema);
  installErrorHandling(app, options.clock);
  const metrics = installMetrics(app);
  await installDocs(app, options.version);
  await installRateLimits(app, options.rateLimits, options.clock);
  return { app, metrics };
};
