import { randomUUID } from 'node:crypto';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type RawServerDefault } from 'fastify';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Clock } from '../core/clock.js';
import type { DatabaseHandle } from '../db/database.js';
import { createApiKeyAuthenticator } from '../modules/api-keys/authenticate.js';
import { registerApiKeyRoutes } from '../modules/api-keys/routes.js';
import { registerAppRoutes } from '../modules/apps/routes.js';
import { registerBillingRecordRoutes } from '../modules/billing-records/routes.js';
import { registerComplianceExportRoutes } from '../modules/compliance-export/routes.js';
import { registerCreditLedgerRoutes } from '../modules/credit-ledger/routes.js';
import { installAccessGuard } from '../modules/auth/access.js';
import type { TokenVerifier } from '../modules/auth/tokens.js';
import { registerHealthRoutes } from '../modules/health/routes.js';
import { registerPlanRoutes } from '../modules/plans/routes.js';
import { registerMeteringRoutes } from '../modules/metering/routes.js';
import { registerNotificationRoutes } from '../modules/notifications/routes.js';
import { registerPaygRoutes } from '../modules/payg/routes.js';
import { registerSubscriptionRoutes } from '../modules/subscriptions/routes.js';
import { registerTenantRoutes } from '../modules/tenants/routes.js';
import { registerUsageAlertRoutes } from '../modules/usage-alerts/routes.js';
import { registerUsageRoutes } from '../modules/usage/routes.js';
import { installDocs } from './docs.js';
import { DetailErrorSchema, ErrorResponseSchema, PageInfoSchema } from './envelope.js';
import { frameworkErrorOptions, installErrorHandling, requestLimits } from './error-handler.js';
import { installJsonBodyParser } from './json-body.js';
import { installMetrics } from './metrics.js';
import { installValidation } from './validation.js';
import type { LogLevel, RateLimitConfig, TrustProxy } from '../config.js';
import { installRateLimits } from './rate-limits.js';

export type Api = FastifyInstance<
  RawServerDefault,
  IncomingMessage,
  ServerResponse,
  FastifyBaseLogger,
  TypeBoxTypeProvider
>;

export interface AppDependencies {
  database: DatabaseHandle;
  clock: Clock;
  tokens: TokenVerifier;
  logLevel: LogLevel;
  version: string;
  rateLimits: RateLimitConfig;
  /** Which proxies' X-Forwarded-For to believe for the client address; default: none (the TCP peer). */
  trustProxy?: TrustProxy;
}

const requestIdPattern = /^[A-Za-z0-9._-]{1,128}$/;

export const buildApp = async (deps: AppDependencies): Promise<Api> => {
  const app = Fastify({
    logger: {
      level: deps.logLevel,
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
    ...frameworkErrorOptions(deps.clock),
    trustProxy: deps.trustProxy ?? false,
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
  installErrorHandling(app, deps.clock);
  const metrics = installMetrics(app);
  await installDocs(app, deps.version);

  await installRateLimits(app, deps.rateLimits, deps.clock);
  installAccessGuard(app, deps.tokens, createApiKeyAuthenticator(deps.database.db));
  registerHealthRoutes(app, deps.database, metrics);
  registerTenantRoutes(app, deps);
  registerAppRoutes(app, deps);
  registerPlanRoutes(app, deps);
  registerApiKeyRoutes(app, deps);
  registerBillingRecordRoutes(app, deps);
  registerCreditLedgerRoutes(app, deps);
  registerSubscriptionRoutes(app, deps);
  registerUsageRoutes(app, deps);
  registerMeteringRoutes(app, deps);
  registerUsageAlertRoutes(app, deps);
  registerNotificationRoutes(app, deps);
  registerComplianceExportRoutes(app, deps);
  registerPaygRoutes(app, deps);
  return app;
};
