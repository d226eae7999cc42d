import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance, RouteOptions } from 'fastify';
import { errorSchemaRef } from './envelope.js';
import { toOpenApi30Bounds } from './openapi-bounds.js';
import { apiKeyHeader, type Access } from './route-access.js';

/** Public routes say so with an empty requirement: OpenAPI reads a missing `security` as "not stated". */
const securityFor = (rule: Access | undefined): Record<string, string[]>[] => {
  if (rule === undefined || rule.kind === 'public') return [];
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

/** Methods whose body Fastify parses: each can be malformed (400), too large (413) or not JSON (415). */
const bodyMethods = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * The error statuses every route of its kind can answer, whatever its handler does: 400 (bad input,
 * a NUL character anywhere in the query), the guard's 401/403, the body parser's 413/415, 409 on a
 * write that would duplicate something unique (a unique violation is never a 500), 500, and 503
 * when the database is down or the server is shutting down. Routes add their own (404, 409, 422).
 */
const frameworkStatuses = (route: RouteOptions): number[] => {
  const rule = route.config?.access;
  const guarded = rule !== undefined && rule.kind !== 'public';
  const hasBody = [route.method].flat().some((method) => bodyMethods.has(method));
  return [
    400,
    ...(guarded ? [401] : []),
    ...(guarded && rule.kind !== 'api_key' ? [403] : []),
    ...(hasBody ? [409, 413, 415] : []),
    500,
    503,
  ];
};

/**
 * OpenAPI 3.0.3 from the route schemas, at `/openapi.json`, and Swagger UI at `/docs`, served from
 * the installed package (no CDN). Each operation's security comes from its access rule, its
 * framework-level error responses from its shape; every documented route names its operationId
 * (a generated client's method name), or the app refuses to start.
 */
export const installDocs = async (app: FastifyInstance, version: string): Promise<void> => {
  app.addHook('onRoute', (route) => {
    if (route.schema?.hide === true) return;
    if (route.schema?.operationId === undefined && route.method !== 'HEAD') {
      throw new Error(`route ${String(route.method)} ${route.url} has no operationId`);
    }
    const rule = route.config?.access;
    const response = { ...(route.schema?.response as Record<string, unknown> | undefined) };
    for (const status of frameworkStatuses(route)) response[status] ??= errorSchemaRef(route.url);
    route.schema = {
      ...route.schema,
      security: securityFor(rule),
      description: [route.schema?.description, describeAccess(rule)].filter(Boolean).join('\n\n'),
      response,
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
        license: { name: 'Apache-2.0', url: 'https://www.apache.org/licenses/LICENSE-2.0' },
      },
      // The document is served by the API it describes: its paths are relative to where it was fetched.
      servers: [{ url: '/', description: 'The server this document was fetched from' }],
      components: {
        securitySchemes: {
          bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
          apiKeyAuth: { type: 'apiKey', in: 'header', name: apiKeyHeader.toUpperCase() },
        },
      },
    },
    // Shared schemas keep their names (`#/components/schemas/Tenant`, not `def-3`).
    refResolver: {
      buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`),
    },
    transformObject: (document) =>
      'openapiObject' in document ? toOpenApi30Bounds(document.openapiObject) : document.swaggerObject,
  });
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    uiConfig: { deepLinking: true },
    staticCSP: true,
    uiHooks: {},
    logLevel: 'warn',
  });
};
