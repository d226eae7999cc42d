import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import type { Access } from '../modules/auth/access.js';
import { apiKeyHeader } from '../modules/auth/access.js';

const securityFor = (rule: Access | undefined): Record<string, string[]>[] | undefined => {
  if (rule === undefined || rule.kind === 'public') return undefined;
  return rule.kind === 'api_key' ? [{ apiKeyAuth: [] }] : [{ bearerAuth: [] }];
};

const describeAccess = (rule: Access | undefined): string => {
  switch (rule?.kind) {
    case 'platform_admin':
      return 'Requires the platform_admin role.';
    case 'service':
      return 'Requires the service role.';
    case 'staff':
      return 'Requires the platform_admin or the service role.';
    case 'tenant':
      return rule.write
        ? "Requires tenant_admin of the path's tenant, or platform_admin."
        : "Requires tenant_admin or tenant_viewer of the path's tenant, or platform_admin.";
    case 'api_key':
      return 'Requires a DF-API-KEY header.';
    default:
      return 'Public.';
  }
};

/**
 * OpenAPI 3 from the route schemas, at `/openapi.json`, and Swagger UI at `/docs`, served from the
 * installed package (no CDN). Each operation's security comes from its access rule.
 */
export const installDocs = async (app: FastifyInstance, version: string): Promise<void> => {
  app.addHook('onRoute', (route) => {
    const rule = route.config?.access;
    const security = securityFor(rule);
    route.schema = {
      ...route.schema,
      ...(security === undefined ? {} : { security }),
      description: [route.schema?.description, describeAccess(rule)].filter(Boolean).join('\n\n'),
    };
  });
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Billing service',
        version,
        description:
          'Plans, subscriptions, invoices, an insert-only double-entry credit ledger, usage metering and pay-as-you-go settlement for the tenants of a SaaS platform.',
      },
      components: {
        securitySchemes: {
          bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
          apiKeyAuth: { type: 'apiKey', in: 'header', name: apiKeyHeader.toUpperCase() },
        },
      },
    },
  });
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    uiConfig: { deepLinking: true },
    staticCSP: true,
    uiHooks: {},
    logLevel: 'warn',
  });
};
