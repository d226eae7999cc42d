import rateLimit, { normalizeIP, type FastifyRateLimitStoreCtor } from '@fastify/rate-limit';
import { Type } from 'typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import {
  callerRateLimitClasses,
  type CallerRateLimitClass,
  type RateLimit,
  type RateLimitClass,
  type RateLimitConfig,
} from '../config.js';
import type { Clock } from '../core/clock.js';
import { AppError } from '../core/errors.js';
import { errorSchemaRef } from './envelope.js';
import { errorBody } from './error-handler.js';
import { memoryRateLimitStore } from './rate-limit-store.js';
import type { Access } from './route-access.js';
import type { Api } from './api.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route's rate-limit class, set from its method, path and access rule when it is added. */
    rateLimitClass?: RateLimitClass;
  }
}

/** Routes that cost more than their method says; any other GET is `read`, any other method `write`. */
const routeClassExceptions: Record<string, CallerRateLimitClass> = {
  'GET /billing/records/:tenant_id/search': 'expensive',
  // A first render of a long invoice is half a second of CPU.
  'GET /billing/records/:tenant_id/:record_id/pdf': 'expensive',
  'GET /billing/credit-transactions/:tenant_id': 'expensive',
  'POST /internal/billing/export-user-data': 'expensive',
  'POST /admin/billing-run': 'expensive',
  'POST /billing/usage/events': 'ingest',
};

/** `GET /path` for a route that only reads (HEAD included), `POST /path` and so on otherwise. */
const routeKey = (methods: string[], url: string): string =>
  `${methods.every((m) => m === 'GET' || m === 'HEAD') ? 'GET' : methods.join(',')} ${url}`;

const classOf = (key: string, rule: Access | undefined): RateLimitClass => {
  if (rule === undefined || rule.kind === 'public') return 'public';
  return routeClassExceptions[key] ?? (key.startsWith('GET ') ? 'read' : 'write');
};

/** The IETF draft's names (draft-ietf-httpapi-ratelimit-headers), as the plugin's `enableDraftSpec` sends them. */
const headers = {
  limit: 'ratelimit-limit',
  remaining: 'ratelimit-remaining',
  reset: 'ratelimit-reset',
  retryAfter: 'retry-after',
} as const;

type Scope = 'caller' | 'tenant' | 'address';

interface Verdict {
  max: number;
  remaining: number;
  resetSeconds: number;
  exceeded: boolean;
}

interface Limiter {
  rateLimitClass: RateLimitClass;
  scope: Scope;
  limit: NonNullable<RateLimit>;
  /** Counts the request (unless `increment` is false) and says where its key stands. */
  check(request: FastifyRequest, increment?: boolean): Promise<Verdict>;
}

const addressOf = (request: FastifyRequest): string => normalizeIP(request.ip);

/** A token's tenant and subject, or a DF-API-KEY: set by the access guard. */
const callerOf = (request: FastifyRequest): string | null => {
  if (request.principal !== null) return `token:${request.principal.tenantId ?? ''}:${request.principal.userId}`;
  if (request.apiKey !== null) return `key:${request.apiKey.keyId}`;
  return null;
};

/** The caller's own tenant; staff acting on a tenant's path do not spend that tenant's allowance. */
const tenantOf = (request: FastifyRequest): string | null =>
  request.principal?.tenantId ?? request.apiKey?.tenantId ?? null;

const scopeLabel: Record<Scope, string> = { caller: 'caller', tenant: 'tenant', address: 'client address' };

const setHeaders = (reply: FastifyReply, verdict: Verdict): void => {
  reply.header(headers.limit, verdict.max);
  reply.header(headers.remaining, verdict.remaining);
  reply.header(headers.reset, verdict.resetSeconds);
};

const refusal = (reply: FastifyReply, limiter: Limiter, verdict: Verdict): AppError => {
  setHeaders(reply, { ...verdict, remaining: 0 });
  reply.header(headers.retryAfter, verdict.resetSeconds);
  const what =
    limiter.rateLimitClass === 'auth_failure' ? 'failed authentications' : `${limiter.rateLimitClass} requests`;
  const { max, windowSeconds } = limiter.limit;
  return new AppError(
    'rate_limited',
    `too many ${what}: at most ${max} per ${windowSeconds} s per ${scopeLabel[limiter.scope]}; retry in ${verdict.resetSeconds} s`,
  );
};

/** The 429 every operation may answer, for the OpenAPI document. */
const tooManyRequestsResponse = (url: string) => ({
  ...errorSchemaRef(url),
  description: 'Rate limit exceeded (see the README, "Rate limits")',
  headers: {
    'Retry-After': Type.Integer({ description: 'Seconds until the window resets' }),
    'RateLimit-Limit': Type.Integer({ description: 'Requests allowed in the window' }),
    'RateLimit-Remaining': Type.Integer({ description: 'Requests left in the window: 0' }),
    'RateLimit-Reset': Type.Integer({ description: 'Seconds until the window resets' }),
  },
});

/**
 * Rate limits by route class (README, "Rate limits"). Installed before the access guard:
 *  - `onRequest`, before authentication: unauthenticated routes are counted per client address;
 *    an address with too many failed authentications is refused before its credentials are checked;
 *  - `onSend`: every 401 counts against the client address, and is a 429 past the allowance;
 *  - `preParsing`, after the guard and before a body is read: per caller and per caller's tenant.
 * Each limit is its own `createRateLimit` limiter: the plugin's route hook runs once per request,
 * and a request may meet three limits. The headers are those of the tightest limit met.
 */
export const installRateLimits = async (
  app: Api,
  settings: RateLimitConfig,
  clock: Clock,
  // In this process's memory; replicas would pass a shared one (e.g. the plugin's Redis store).
  store: FastifyRateLimitStoreCtor = memoryRateLimitStore(clock),
): Promise<void> => {
  await app.register(rateLimit, { global: false, store });

  const limiter = (
    rateLimitClass: RateLimitClass,
    scope: Scope,
    limit: RateLimit,
    key: (request: FastifyRequest) => string,
  ): Limiter | null => {
    if (limit === null) return null;
    const check = app.createRateLimit({ max: limit.max, timeWindow: limit.windowSeconds * 1000, keyGenerator: key });
    return {
      rateLimitClass,
      scope,
      limit,
      check: async (request, increment = true) => {
        const result = await check(request, { increment });
        // No limiter is given an allow list; this narrows the plugin's result type.
        if (result.isAllowed) throw new Error('rate limits have no allow list');
        const exceeded = increment ? result.isExceeded : result.remaining === 0;
        return { max: result.max, remaining: result.remaining, resetSeconds: result.ttlInSeconds, exceeded };
      },
    };
  };
  const callerKey = (request: FastifyRequest) => callerOf(request) ?? '';
  const tenantKey = (request: FastifyRequest) => tenantOf(request) ?? '';
  const publicLimiter = limiter('public', 'address', settings.perCaller.public, addressOf);
  const authFailureLimiter = limiter('auth_failure', 'address', settings.perCaller.auth_failure, addressOf);
  const callerLimiters = {} as Record<CallerRateLimitClass, { caller: Limiter | null; tenant: Limiter | null }>;
  for (const rateLimitClass of callerRateLimitClasses) {
    callerLimiters[rateLimitClass] = {
      caller: limiter(rateLimitClass, 'caller', settings.perCaller[rateLimitClass], callerKey),
      tenant: limiter(rateLimitClass, 'tenant', settings.perTenant[rateLimitClass], tenantKey),
    };
  }

  const classified = new Set<string>();
  app.addHook('onRoute', (route) => {
    const key = routeKey([route.method].flat().map(String), route.url);
    classified.add(key);
    route.config = { ...route.config, rateLimitClass: classOf(key, route.config?.access) };
    route.schema = {
      ...route.schema,
      response: { ...(route.schema?.response as object | undefined), 429: tooManyRequestsResponse(route.url) },
    };
  });
  // A renamed route must not leave its class behind silently.
  app.addHook('onReady', async () => {
    const stale = Object.keys(routeClassExceptions).filter((route) => !classified.has(route));
    if (stale.length > 0) throw new Error(`rate-limit classes name routes that do not exist: ${stale.join(', ')}`);
  });

  app.addHook('onRequest', async (request, reply) => {
    const rateLimitClass = request.routeOptions.config.rateLimitClass ?? 'public';
    const addressLimiter = rateLimitClass === 'public' ? publicLimiter : authFailureLimiter;
    if (addressLimiter === null) return;
    // Failed authentications are counted when they fail (onError); here they are only read.
    const verdict = await addressLimiter.check(request, rateLimitClass === 'public');
    if (verdict.exceeded) throw refusal(reply, addressLimiter, verdict);
    if (rateLimitClass === 'public') setHeaders(reply, verdict);
  });

  // Each failed authentication counts as its 401 goes out. Past the allowance the 401 itself becomes
  // the 429, so guesses sent all at once (each past the onRequest check before any failed) learn no
  // more than guesses sent one by one.
  app.addHook('onSend', async (request, reply, payload) => {
    if (authFailureLimiter === null || reply.statusCode !== 401) return payload;
    const verdict = await authFailureLimiter.check(request);
    if (!verdict.exceeded) return payload;
    const error = refusal(reply, authFailureLimiter, verdict);
    reply.status(error.status).removeHeader('www-authenticate');
    return JSON.stringify(errorBody(request, error, clock.now()));
  });

  app.addHook('preParsing', async (request, reply, payload) => {
    const rateLimitClass = request.routeOptions.config.rateLimitClass;
    if (rateLimitClass === undefined || rateLimitClass === 'public' || rateLimitClass === 'auth_failure')
      return payload;
    // Credentials that were right, checked while guesses from the same address failed past the
    // allowance, are refused too: a 200 among 429s would tell a guesser which guess was right.
    if (authFailureLimiter !== null) {
      const verdict = await authFailureLimiter.check(request, false);
      if (verdict.exceeded) throw refusal(reply, authFailureLimiter, verdict);
    }
    const { caller, tenant } = callerLimiters[rateLimitClass];
    let tightest: Verdict | null = null;
    for (const [current, applies] of [
      [caller, callerOf(request) !== null],
      [tenant, tenantOf(request) !== null],
    ] as const) {
      if (current === null || !applies) continue;
      const verdict = await current.check(request);
      if (verdict.exceeded) throw refusal(reply, current, verdict);
      if (tightest === null || verdict.remaining < tightest.remaining) tightest = verdict;
    }
    if (tightest !== null) setHeaders(reply, tightest);
    return payload;
  });
};
