import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../core/clock.js';
import type { AccessCatalogEntry } from '../modules/auth/access.js';
import { mintToken } from '../modules/auth/tokens.js';
import { asTenantAdmin } from '../testing/api.js';
import { comparable, expectNothingLeaked } from '../testing/envelopes.js';
import { givenApiKey, givenApp, givenTenant } from '../testing/fixtures.js';
import { bearer, createTestApp, defaultRateLimitsWithout, testSecret, type TestApp } from '../testing/test-app.js';

/**
 * The security checks every guarded route must pass, run over the whole route catalog: a new
 * route is covered the moment it is registered.
 */
let t: TestApp;
let catalog: AccessCatalogEntry[];
let revokedKey: string;
let activeKey: string;

const tenantA = 'tnt_alpha';
const tenantB = 'tnt_bravo';

/** What a route needs in its query string to succeed once the caller is let in. */
const requiredQuery: Record<string, string> = {
  '/api/v1/billing/detail/list': '?startDate=20260101&endDate=20260101',
};

const urlFor = (route: AccessCatalogEntry): string =>
  route.url
    .replace(':tenant_id', tenantA)
    .replace(':app_id', 'app_alpha')
    .replace(':key_id', 'key_0000000000000000')
    .replace(/:([a-z_]+)/g, 'x_$1');

const send = async (route: AccessCatalogEntry, headers: Record<string, string>) => {
  const hasBody = ['POST', 'PUT', 'PATCH'].includes(route.method);
  return t.app.inject({
    method: route.method as 'GET',
    url: urlFor(route),
    headers,
    ...(hasBody ? { payload: {} } : {}),
  });
};

const expectRefused = (response: Awaited<ReturnType<typeof send>>, status: 401 | 403, route: AccessCatalogEntry) => {
  const label = `${route.method} ${route.url}`;
  expect(response.statusCode, `${label}: ${response.body}`).toBe(status);
  expect(response.headers['content-type'], label).toMatch(/application\/json/);
  expectNothingLeaked(response.body);
  const body = response.json<Record<string, unknown>>();
  if (route.access.kind === 'api_key') {
    expect(body).toMatchObject({ code: status, success: false, content: null });
    expect(body.errorCode).not.toBe('');
  } else {
    expect(body).toMatchObject({
      code: status,
      error: { type: status === 401 ? 'unauthorized' : 'forbidden' },
    });
  }
};

beforeAll(async () => {
  // Hundreds of bad credentials from one address, on purpose: the limit on failed authentication
  // would answer 429 after 30 (rate-limits.test.ts tests it); every other limit is the default.
  t = await createTestApp({ rateLimits: defaultRateLimitsWithout('auth_failure') });
  catalog = t.app.accessCatalog.filter((route) => route.access.kind !== 'public');
  await givenTenant(t, tenantA);
  await givenTenant(t, tenantB);
  await givenApp(t, tenantA, 'app_alpha');
  activeKey = (await givenApiKey(t, tenantA)).key;
  const revoked = await givenApiKey(t, tenantA);
  revokedKey = revoked.key;
  const revoke = await asTenantAdmin(t, tenantA).delete(`/billing/api-keys/${tenantA}/${revoked.id}`);
  expect(revoke.statusCode).toBe(200);
});
afterAll(() => t.close());

describe('the route catalog', () => {
  it('covers every kind of access, and /internal/* only for the service role', () => {
    const kinds = new Set(
      catalog.map((route) => (route.access.kind === 'tenant' ? `tenant:${route.access.write}` : route.access.kind)),
    );
    expect([...kinds].sort()).toEqual(['api_key', 'platform_admin', 'service', 'staff', 'tenant:false', 'tenant:true']);
    const internal = catalog.filter((route) => route.url.startsWith('/internal/'));
    expect(internal.length).toBeGreaterThan(0);
    for (const route of internal) expect(route.access.kind).toBe('service');
  });
});

describe('bearer routes refuse bad credentials with 401', () => {
  const badHeaders = async (): Promise<Record<string, Record<string, string>>> => {
    const past = new ManualClock('2025-01-01T00:00:00Z');
    const claims = { userId: 'usr_platform', roles: ['platform_admin' as const] };
    const expired = await mintToken(testSecret, claims, past, 60);
    const wrongSignature = await mintToken('another-secret-that-is-also-32-bytes-long!', claims, t.clock);
    const now = Math.floor(t.clock.now().getTime() / 1000);
    const wrongAudience = await new SignJWT({ roles: ['platform_admin'] })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('usr_platform')
      .setAudience('another-service')
      .setExpirationTime(now + 60)
      .sign(new TextEncoder().encode(testSecret));
    const noExpiry = await new SignJWT({ roles: ['platform_admin'] })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('usr_platform')
      .setAudience('billing')
      .sign(new TextEncoder().encode(testSecret));
    const unsigned = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(
      JSON.stringify({ sub: 'usr_platform', aud: 'billing', exp: now + 60, roles: ['platform_admin'] }),
    ).toString('base64url')}.`;
    return {
      'no token': {},
      'empty bearer': { authorization: 'Bearer ' },
      'basic scheme': { authorization: 'Basic dXNlcjpwYXNz' },
      malformed: bearer('not.a.jwt'),
      'wrong signature': bearer(wrongSignature),
      expired: bearer(expired),
      'wrong audience': bearer(wrongAudience),
      'no expiry': bearer(noExpiry),
      'alg none': bearer(unsigned),
    };
  };

  it('for every bearer route and every kind of bad token', async () => {
    const cases = await badHeaders();
    const bearerRoutes = catalog.filter((route) => route.access.kind !== 'api_key');
    expect(bearerRoutes.length).toBeGreaterThan(5);
    for (const route of bearerRoutes) {
      for (const [name, headers] of Object.entries(cases)) {
        const response = await send(route, headers);
        expect(response.statusCode, `${name} on ${route.method} ${route.url}`).toBe(401);
        expectRefused(response, 401, route);
      }
    }
  });
});

describe('roles and tenants', () => {
  it('tenant routes refuse another tenant with the same 403 whether or not that tenant exists', async () => {
    const routes = catalog.filter((route) => route.access.kind === 'tenant');
    for (const route of routes) {
      const otherTenant = await send(route, await t.as.tenant(tenantB));
      const missingTenant = await send(route, await t.as.tenant('tnt_nonexistent'));
      expectRefused(otherTenant, 403, route);
      expectRefused(missingTenant, 403, route);
      expect(comparable(otherTenant.body)).toEqual(comparable(missingTenant.body));
      const own = await send(route, await t.as.tenant(tenantA));
      expect([401, 403], `${route.method} ${route.url} own tenant`).not.toContain(own.statusCode);
      const platform = await send(route, await t.as.platformAdmin());
      expect([401, 403], `${route.method} ${route.url} platform admin`).not.toContain(platform.statusCode);
    }
  });

  it('tenant write routes refuse a tenant viewer; read routes let one in', async () => {
    for (const route of catalog.filter((entry) => entry.access.kind === 'tenant')) {
      const response = await send(route, await t.as.tenant(tenantA, 'tenant_viewer'));
      if (route.access.kind === 'tenant' && route.access.write) expectRefused(response, 403, route);
      else expect([401, 403], `${route.method} ${route.url}`).not.toContain(response.statusCode);
    }
  });

  it('platform admin routes refuse tenant admins and services', async () => {
    for (const route of catalog.filter((entry) => entry.access.kind === 'platform_admin')) {
      expectRefused(await send(route, await t.as.tenant(tenantA)), 403, route);
      expectRefused(await send(route, await t.as.service()), 403, route);
      const allowed = await send(route, await t.as.platformAdmin());
      expect([401, 403], `${route.method} ${route.url}`).not.toContain(allowed.statusCode);
    }
  });

  it('staff routes refuse tenant admins and let platform admins and services in', async () => {
    for (const route of catalog.filter((entry) => entry.access.kind === 'staff')) {
      expectRefused(await send(route, await t.as.tenant(tenantA)), 403, route);
      for (const headers of [await t.as.platformAdmin(), await t.as.service()]) {
        const allowed = await send(route, headers);
        expect([401, 403], `${route.method} ${route.url}`).not.toContain(allowed.statusCode);
      }
    }
  });

  it('service routes (all of /internal/*) refuse tenant tokens and platform admins', async () => {
    for (const route of catalog.filter((entry) => entry.access.kind === 'service')) {
      expectRefused(await send(route, await t.as.tenant(tenantA)), 403, route);
      expectRefused(await send(route, await t.as.platformAdmin()), 403, route);
      const allowed = await send(route, await t.as.service());
      expect([401, 403], `${route.method} ${route.url}`).not.toContain(allowed.statusCode);
    }
  });

  it('a tenant role without a tenant_id claim is not a valid token', async () => {
    const route = catalog.find((entry) => entry.access.kind === 'tenant')!;
    const token = await t.token({ userId: 'usr_x', roles: ['tenant_admin'] });
    expectRefused(await send(route, bearer(token)), 401, route);
  });
});

describe('API-key routes', () => {
  const apiKeyRoutes = () => catalog.filter((route) => route.access.kind === 'api_key');

  it('refuse a missing, unknown or revoked key, and a key sent in the query string', async () => {
    expect(apiKeyRoutes().length).toBeGreaterThan(0);
    for (const route of apiKeyRoutes()) {
      expectRefused(await send(route, {}), 401, route);
      expectRefused(await send(route, { 'df-api-key': 'dfk_' + 'x'.repeat(40) }), 401, route);
      expectRefused(await send(route, { 'df-api-key': 'garbage' }), 401, route);
      expectRefused(await send(route, { 'df-api-key': revokedKey }), 401, route);
      const inQuery = await t.app.inject({ method: 'GET', url: `${urlFor(route)}?DF-API-KEY=${activeKey}` });
      expectRefused(inQuery, 401, route);
      const allowed = await t.app.inject({
        method: 'GET',
        url: `${urlFor(route)}${requiredQuery[route.url] ?? ''}`,
        headers: { 'df-api-key': activeKey },
      });
      expect(allowed.statusCode, allowed.body).toBe(200);
    }
  });

  it('do not accept a bearer token instead of a key', async () => {
    for (const route of apiKeyRoutes()) expectRefused(await send(route, await t.as.platformAdmin()), 401, route);
  });
});
