import type { ApiKeyPrincipal, Principal, TenantScope } from '../core/principal.js';

/**
 * What a route lets in. Every route declares one in `config.access`; a route without one is
 * refused when the app starts, so nothing is left open by forgetting.
 */
export type Access =
  | { kind: 'public' }
  /** Platform admins; a `tenant_id` path parameter, if any, becomes the tenant scope. */
  | { kind: 'platform_admin' }
  /** The platform's own services; likewise scoped by a `tenant_id` path parameter. */
  | { kind: 'service' }
  /** Platform admins or the platform's services, scoped likewise. */
  | { kind: 'staff' }
  /** The tenant named by the `tenant_id` path parameter: its admins (and viewers when not `write`), or a platform admin. */
  | { kind: 'tenant'; write: boolean }
  | { kind: 'api_key' };

export const apiKeyHeader = 'df-api-key';

/** The route's rule, read by the docs and the rate limits; the caller, set by the access guard (modules/auth). */
declare module 'fastify' {
  interface FastifyContextConfig {
    access?: Access;
  }
  interface FastifyRequest {
    principal: Principal | null;
    tenantScope: TenantScope | null;
    apiKey: ApiKeyPrincipal | null;
  }
}
