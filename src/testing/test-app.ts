import type { LightMyRequestResponse } from 'fastify';
import {
  defaultRateLimits,
  type IssuerConfig,
  type RateLimitClass,
  type RateLimitConfig,
  type TrustProxy,
} from '../config.js';
import { ManualClock } from '../core/clock.js';
import { buildApp } from '../app.js';
import type { Api } from '../http/api.js';
import type { Role } from '../core/principal.js';
import { createTokenVerifier, mintToken, type TokenClaims } from '../modules/auth/tokens.js';
import { JobRegistry } from '../modules/jobs/job-registry.js';
import { checkResponsesAgainstDocument } from './response-contract.js';
import { createTestDatabase, type TestDatabase } from './test-database.js';

export const testSecret = 'test-secret-that-is-at-least-32-bytes-long';
export const testStart = '2026-01-01T00:00:00Z';

export interface TestApp {
  app: Api;
  database: TestDatabase;
  clock: ManualClock;
  /** The app's long jobs (`GET /admin/jobs`): a test runs its own work through it. */
  jobs: JobRegistry;
  token(claims: TokenClaims, ttlSeconds?: number): Promise<string>;
  /** Bearer headers for the usual callers. */
  as: {
    platformAdmin(): Promise<Record<string, string>>;
    service(): Promise<Record<string, string>>;
    tenant(tenantId: string, role?: Extract<Role, 'tenant_admin' | 'tenant_viewer'>): Promise<Record<string, string>>;
  };
  close(): Promise<void>;
}

export const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });

/** The claims of the platform admin tests act as. */
export const platformAdminClaims: TokenClaims = { userId: 'usr_platform', roles: ['platform_admin'] };

/** The production limits with some classes off, for a test that is itself the flood they stop. */
export const defaultRateLimitsWithout = (...off: RateLimitClass[]): RateLimitConfig => ({
  perCaller: { ...defaultRateLimits.perCaller, ...Object.fromEntries(off.map((c) => [c, null])) },
  perTenant: { ...defaultRateLimits.perTenant, ...Object.fromEntries(off.map((c) => [c, null])) },
});

interface TestAppOptions {
  rateLimits?: RateLimitConfig;
  trustProxy?: TrustProxy;
  /** Webhook URLs may name internal addresses; true unless a test says otherwise (its receivers are on 127.0.0.1). */
  webhookAllowPrivate?: boolean;
  jobs?: JobRegistry;
  /** The configuration's invoice issuer (`BILLING_ISSUER_*`); the default when absent. */
  issuerFallback?: IssuerConfig;
}

/**
 * The app as tests build it on `database`: silent, tokens signed with the test secret, time from
 * `clock`, every response checked against its document. Not yet ready, so a test may add hooks.
 */
export const buildTestApi = async (
  database: Parameters<typeof buildApp>[0]['database'],
  clock: ManualClock,
  options: TestAppOptions = {},
): Promise<Api> => {
  const app = await buildApp({
    database,
    clock,
    tokens: createTokenVerifier({ secret: testSecret, clock }),
    logLevel: 'silent',
    version: 'test',
    rateLimits: options.rateLimits ?? defaultRateLimits,
    webhookAllowPrivate: options.webhookAllowPrivate ?? true,
    ...(options.jobs === undefined ? {} : { jobs: options.jobs }),
    ...(options.trustProxy === undefined ? {} : { trustProxy: options.trustProxy }),
    ...(options.issuerFallback === undefined ? {} : { issuerFallback: options.issuerFallback }),
  });
  checkResponsesAgainstDocument(app);
  return app;
};

/**
 * The app on a fresh database of its own, with a clock that only moves when told (rate-limit
 * windows too). Rate limits are the production defaults unless a test gives its own.
 */
export const createTestApp = async (options: TestAppOptions = {}): Promise<TestApp> =>
  createTestAppOn(await createTestDatabase(), new ManualClock(testStart), options);

/**
 * The app on a database the test opened (a CLI's data folder, say), dated by `clock`; `close`
 * closes the app and then the database.
 */
export const createTestAppOn = async (
  database: TestDatabase,
  clock: ManualClock,
  options: TestAppOptions = {},
): Promise<TestApp> => {
  const jobs = options.jobs ?? new JobRegistry(clock);
  const app = await buildTestApi(database, clock, { ...options, jobs });
  await app.ready();
  const token = (claims: TokenClaims, ttlSeconds?: number) => mintToken(testSecret, claims, clock, ttlSeconds);
  return {
    app,
    database,
    clock,
    jobs,
    token,
    as: {
      platformAdmin: async () => bearer(await token(platformAdminClaims)),
      service: async () => bearer(await token({ userId: 'svc_compliance', roles: ['service'] })),
      tenant: async (tenantId, role = 'tenant_admin') =>
        bearer(await token({ userId: `usr_admin_of_${tenantId}`, tenantId, roles: [role] })),
    },
    close: async () => {
      await app.close();
      await database.destroy();
    },
  };
};

export const json = <T = Record<string, unknown>>(response: LightMyRequestResponse): T => response.json<T>();
