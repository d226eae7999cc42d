import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AppError } from '../../core/errors.js';
import type { ApiKeyPrincipal, Principal, Role, TenantScope } from '../../core/principal.js';
import { apiKeyHeader, type Access } from '../../http/route-access.js';
import type { TokenVerifier } from './tokens.js';

/** The rules routes declare, e.g. `config: { access: access.tenantRead }`. */
export const access = {
  public: { kind: 'public' },
  platformAdmin: { kind: 'platform_admin' },
  service: { kind: 'service' },
  staff: { kind: 'staff' },
  tenantRead: { kind: 'tenant', write: false },
  tenantWrite: { kind: 'tenant', write: true },
  apiKey: { kind: 'api_key' },
} as const satisfies Record<string, Access>;

declare module 'fastify' {
  interface FastifyInstance {
    /** Every guarded route and its access rule, for the docs and the shared security tests. */
    accessCatalog: AccessCatalogEntry[];
  }
}

export interface AccessCatalogEntry {
  method: string;
  url: string;
  access: Access;
}

export interface ApiKeyAuthenticator {
  /** Resolves an active key, or throws `unauthorized`. */
  authenticate(presentedKey: string): Promise<ApiKeyPrincipal>;
}

const forbidden = (): AppError => new AppError('forbidden', 'not allowed');
const authenticationRequired = (): AppError => new AppError('unauthorized', 'authentication required');

const hasRole = (principal: Principal, ...wanted: Role[]): boolean => wanted.some((role) => principal.roles.has(role));

const bearerToken = (request: FastifyRequest): string => {
  const header = request.headers.authorization;
  if (header === undefined) throw authenticationRequired();
  const match = /^Bearer ([A-Za-z0-9._~+/=-]+)$/.exec(header);
  if (match?.[1] === undefined) throw new AppError('unauthorized', 'invalid or expired token');
  return match[1];
};

/** Decides, from a verified principal, whether the route may run and for which tenant. */
export const authorize = (principal: Principal, rule: Access, pathTenantId: string | undefined): TenantScope | null => {
  switch (rule.kind) {
    case 'public':
    case 'api_key':
      return null;
    case 'platform_admin':
    case 'service':
      if (!hasRole(principal, rule.kind)) throw forbidden();
      return pathTenantId === undefined ? null : { tenantId: pathTenantId };
    case 'staff':
      if (!hasRole(principal, 'platform_admin', 'service')) throw forbidden();
      return pathTenantId === undefined ? null : { tenantId: pathTenantId };
    case 'tenant': {
      if (pathTenantId === undefined) throw new Error('tenant routes need a tenant_id path parameter');
      if (hasRole(principal, 'platform_admin')) return { tenantId: pathTenantId };
      const tenantRoles: Role[] = rule.write ? ['tenant_admin'] : ['tenant_admin', 'tenant_viewer'];
      // The same refusal whether or not the other tenant exists.
      if (principal.tenantId !== pathTenantId || !hasRole(principal, ...tenantRoles)) throw forbidden();
      return { tenantId: pathTenantId };
    }
  }
};

/** Installs the guard: every route states its access, `/internal/*` is for the service role only. */
export const installAccessGuard = (app: FastifyInstance, tokens: TokenVerifier, apiKeys: ApiKeyAuthenticator): void => {
  app.decorateRequest('principal', null);
  app.decorateRequest('tenantScope', null);
  app.decorateRequest('apiKey', null);
  const catalog: AccessCatalogEntry[] = [];
  app.decorate('accessCatalog', catalog);

  app.addHook('onRoute', (route) => {
    const rule = route.config?.access;
    if (rule === undefined) throw new Error(`route ${String(route.method)} ${route.url} declares no access rule`);
    if (route.url.startsWith('/internal/') && rule.kind !== 'service') {
      throw new Error(`route ${route.url} is under /internal/ and must be for the service role`);
    }
    if (rule.kind === 'tenant' && !route.url.includes(':tenant_id')) {
      throw new Error(`tenant route ${route.url} has no :tenant_id path parameter`);
    }
    for (const method of [route.method].flat()) {
      if (method !== 'HEAD') catalog.push({ method, url: route.url, access: rule });
    }
  });

  app.addHook('onRequest', async (request) => {
    const rule = request.routeOptions.config.access;
    if (rule === undefined || rule.kind === 'public') return;
    if (rule.kind === 'api_key') {
      const presented = request.headers[apiKeyHeader];
      if (typeof presented !== 'string' || presented === '') throw authenticationRequired();
      request.apiKey = await apiKeys.authenticate(presented);
      return;
    }
    const principal = await tokens.verify(bearerToken(request));
    request.principal = principal;
    const params = request.params as Record<string, string | undefined>;
    request.tenantScope = authorize(principal, rule, params.tenant_id);
  });
};

/** The tenant scope of a tenant route; set by the guard before any handler runs. */
export const tenantScopeOf = (request: FastifyRequest): TenantScope => {
  if (request.tenantScope === null) throw new Error('tenant scope missing: route is not a tenant route');
  return request.tenantScope;
};

export const principalOf = (request: FastifyRequest): Principal => {
  if (request.principal === null) throw new Error('principal missing: route is public');
  return request.principal;
};

export const apiKeyOf = (request: FastifyRequest): ApiKeyPrincipal => {
  if (request.apiKey === null) throw new Error('API key missing: route is not an API-key route');
  return request.apiKey;
};
