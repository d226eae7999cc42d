export const roles = ['tenant_admin', 'tenant_viewer', 'platform_admin', 'service'] as const;
export type Role = (typeof roles)[number];

/** Who is calling, as proven by a verified token. */
export interface Principal {
  userId: string;
  tenantId: string | null;
  roles: ReadonlySet<Role>;
}

/** The tenant a request may act on, resolved by the access guard; repositories take nothing else. */
export interface TenantScope {
  tenantId: string;
}

/** A verified DF-API-KEY: its tenant, and the one app it is limited to, if any. */
export interface ApiKeyPrincipal {
  keyId: string;
  tenantId: string;
  appId: string | null;
}

export const isRole = (value: unknown): value is Role => roles.includes(value as Role);
