import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { noRateLimits, perMinute, type RateLimitConfig } from '../config.js';
import { givenApiKey, givenTenant } from '../testing/fixtures.js';
import { bearer, createTestApp, type TestApp } from '../testing/test-app.js';

/** Small limits so a test reaches them in a few requests; every class not named is off. */
const limits: RateLimitConfig = {
  perCaller: {
    ...noRateLimits.perCaller,
    read: perMinute(3),
    expensive: perMinute(2),
    ingest: perMinute(4),
    auth_failure: perMinute(4),
    public: perMinute(3),
  },
  perTenant: { ...noRateLimits.perTenant, read: perMinute(5) },
};

interface ResponseObject {
  headers?: Record<string, unknown>;
  content: Record<string, { schema: { $ref?: string } } | undefined>;
}

const rateHeaders = (response: LightMyRequestResponse) => ({
  limit: response.headers['ratelimit-limit'],
  remaining: response.headers['ratelimit-remaining'],
  reset: response.headers['ratelimit-reset'],
  retryAfter: response.headers['retry-after'],
});

describe('rate limits', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp({ rateLimits: limits });
    for (const tenantId of ['tnt_rl_a', 'tnt_rl_b', 'tnt_rl_c', 'tnt_rl_d', 'tnt_rl_e']) await givenTenant(t, tenantId);
  });
  afterAll(() => t.close());

  const viewer = (tenantId: string, userId: string) =>
    t.token({ userId, tenantId, roles: ['tenant_viewer'] }).then(bearer);
  const readTenant = async (tenantId: string, headers: Record<string, string>, remoteAddress?: string) =>
    t.app.inject({
      method: 'GET',
      url: `/billing/tenants/${tenantId}`,
      headers,
      ...(remoteAddress && { remoteAddress }),
    });

  it('answers 429 in the envelope once a caller has spent its window, with the draft headers, and again after it', async () => {
    const headers = await viewer('tnt_rl_a', 'usr_reader');
    for (const remaining of ['2', '1', '0']) {
      const response = await readTenant('tnt_rl_a', headers);
      expect(response.statusCode, response.body).toBe(200);
      expect(rateHeaders(response)).toEqual({ limit: '3', remaining, reset: '60', retryAfter: undefined });
    }
    t.clock.advance(20_000);
    const refused = await readTenant('tnt_rl_a', headers);
    expect(refused.statusCode).toBe(429);
    expect(rateHeaders(refused)).toEqual({ limit: '3', remaining: '0', reset: '40', retryAfter: '40' });
    expect(refused.json()).toEqual({
      code: 429,
      message: 'too many read requests: at most 3 per 60 s per caller; retry in 40 s',
      error: { type: 'rate_limited', details: [] },
      timestamp: '2026-01-01T00:00:20Z',
      request_id: refused.headers['x-request-id'],
    });
    t.clock.advance(40_000);
    expect((await readTenant('tnt_rl_a', headers)).statusCode).toBe(200);
  });

  it("limits a tenant's users together, and other tenants not at all", async () => {
    const first = await viewer('tnt_rl_b', 'usr_one');
    const second = await viewer('tnt_rl_b', 'usr_two');
    for (let i = 0; i < 3; i += 1) expect((await readTenant('tnt_rl_b', first)).statusCode).toBe(200);
    expect((await readTenant('tnt_rl_b', second)).statusCode).toBe(200);
    const last = await readTenant('tnt_rl_b', second);
    expect(last.statusCode).toBe(200);
    expect(rateHeaders(last)).toMatchObject({ limit: '5', remaining: '0' });

    const refused = await readTenant('tnt_rl_b', second);
    expect(refused.statusCode).toBe(429);
    expect(refused.json<{ message: string }>().message).toMatch(
      /^too many read requests: at most 5 per 60 s per tenant;/,
    );
    // The same subject in another tenant is another caller; that tenant has its own allowance.
    const elsewhere = await readTenant('tnt_rl_c', await viewer('tnt_rl_c', 'usr_one'));
    expect(elsewhere.statusCode).toBe(200);
    expect(rateHeaders(elsewhere)).toMatchObject({ limit: '3', remaining: '2' });
  });

  it('limits each DF-API-KEY, answering in the detail-list envelope under /api/v1/', async () => {
    const { key } = await givenApiKey(t, 'tnt_rl_d');
    const readKey = () => t.app.inject({ method: 'GET', url: '/api/v1/billing/key', headers: { 'df-api-key': key } });
    for (let i = 0; i < 3; i += 1) expect((await readKey()).statusCode).toBe(200);
    const refused = await readKey();
    expect(refused.statusCode).toBe(429);
    expect(rateHeaders(refused)).toEqual({ limit: '3', remaining: '0', reset: '60', retryAfter: '60' });
    expect(refused.json()).toEqual({
      code: 429,
      content: null,
      errorCode: 'rate_limited',
      message: 'too many read requests: at most 3 per 60 s per caller; retry in 60 s',
      success: false,
      traceId: refused.headers['x-request-id'],
    });
    const { key: otherKey } = await givenApiKey(t, 'tnt_rl_d');
    const other = await t.app.inject({
      method: 'GET',
      url: '/api/v1/billing/key',
      headers: { 'df-api-key': otherKey },
    });
    expect(other.statusCode).toBe(200);
  });

  it('refuses an address after too many failed authentications, before checking its credentials', async () => {
    const { key } = await givenApiKey(t, 'tnt_rl_e');
    const withKey = (presented: string, remoteAddress: string) =>
      t.app.inject({ method: 'GET', url: '/api/v1/billing/key', headers: { 'df-api-key': presented }, remoteAddress });
    const guess = `dfk_${'0'.repeat(40)}`;
    for (let i = 0; i < 3; i += 1) expect((await withKey(guess, '10.0.0.1')).statusCode).toBe(401);
    expect((await readTenant('tnt_rl_e', bearer('not-a-token'), '10.0.0.1')).statusCode).toBe(401);

    const refused = await withKey(guess, '10.0.0.1');
    expect(refused.statusCode).toBe(429);
    expect(rateHeaders(refused)).toEqual({ limit: '4', remaining: '0', reset: '60', retryAfter: '60' });
    expect(refused.json<{ message: string }>().message).toBe(
      'too many failed authentications: at most 4 per 60 s per client address; retry in 60 s',
    );
    // Even a valid key waits from that address; from another it is served, its own allowance untouched.
    expect((await withKey(key, '10.0.0.1')).statusCode).toBe(429);
    const elsewhere = await withKey(key, '10.0.0.2');
    expect(elsewhere.statusCode).toBe(200);
    expect(rateHeaders(elsewhere)).toMatchObject({ limit: '3', remaining: '2' });
  });

  it('answers guesses sent all at once like guesses sent one by one: the allowance, then 429', async () => {
    const guesses = Array.from({ length: 20 }, (_, i) =>
      t.app.inject({
        method: 'GET',
        url: '/api/v1/billing/key',
        headers: { 'df-api-key': `dfk_${String(i).padStart(40, '0')}` },
        remoteAddress: '10.0.0.9',
      }),
    );
    const statuses = (await Promise.all(guesses)).map((response) => response.statusCode);
    expect(statuses.filter((status) => status === 401)).toHaveLength(4);
    expect(statuses.filter((status) => status === 429)).toHaveLength(16);
  });

  it('limits expensive routes apart from reads, and ingestion apart from both', async () => {
    const headers = await viewer('tnt_rl_c', 'usr_searcher');
    const search = () => t.app.inject({ method: 'GET', url: '/billing/records/tnt_rl_c/search?min_amount=1', headers });
    for (let i = 0; i < 2; i += 1) expect((await search()).statusCode).toBe(200);
    const refused = await search();
    expect(refused.statusCode).toBe(429);
    expect(refused.json<{ message: string }>().message).toMatch(/^too many expensive requests: at most 2 per 60 s/);
    expect((await readTenant('tnt_rl_c', headers)).statusCode).toBe(200);

    // Counted before the body is read: an invalid batch still spends the allowance.
    const ingest = await t.app.inject({
      method: 'POST',
      url: '/billing/usage/events',
      headers: await t.as.service(),
      payload: { events: 'not a list' },
    });
    expect(ingest.statusCode).toBe(400);
    expect(rateHeaders(ingest)).toMatchObject({ limit: '4', remaining: '3' });
  });

  it('leaves a class that is off unlimited', async () => {
    // `write` is off here: the platform admin's writes carry no limit and never meet one.
    const headers = await t.as.platformAdmin();
    for (let i = 0; i < 20; i += 1) {
      const response = await t.app.inject({
        method: 'PATCH',
        url: '/admin/tenants/tnt_rl_a',
        headers,
        payload: { name: `Renamed ${i}` },
      });
      expect(response.statusCode, response.body).toBe(200);
      expect(response.headers['ratelimit-limit']).toBeUndefined();
    }
    // Only that class: the same caller's reads are still counted.
    const read = await t.app.inject({ method: 'GET', url: '/admin/tenants', headers });
    expect(rateHeaders(read)).toMatchObject({ limit: '3', remaining: '2' });
  });

  it('limits unauthenticated routes and unknown paths per client address', async () => {
    for (let i = 0; i < 2; i += 1) {
      expect((await t.app.inject({ url: '/healthz', remoteAddress: '10.0.1.1' })).statusCode).toBe(200);
    }
    expect((await t.app.inject({ url: '/no/such/route', remoteAddress: '10.0.1.1' })).statusCode).toBe(404);
    const refused = await t.app.inject({ url: '/healthz', remoteAddress: '10.0.1.1' });
    expect(refused.statusCode).toBe(429);
    expect(rateHeaders(refused)).toMatchObject({ limit: '3', remaining: '0', retryAfter: '60' });
    expect((await t.app.inject({ url: '/healthz', remoteAddress: '10.0.1.2' })).statusCode).toBe(200);
    // X-Forwarded-For is believed only from a trusted proxy (none here): naming another client does not help.
    const spoofed = await t.app.inject({
      url: '/healthz',
      remoteAddress: '10.0.1.1',
      headers: { 'x-forwarded-for': '203.0.113.9' },
    });
    expect(spoofed.statusCode).toBe(429);
  });
});

describe('rate limits behind a trusted proxy', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp({ rateLimits: limits, trustProxy: ['10.0.2.1'] });
  });
  afterAll(() => t.close());

  it("counts each client named by the proxy's X-Forwarded-For, not the proxy", async () => {
    const viaProxy = (client: string) =>
      t.app.inject({ url: '/healthz', remoteAddress: '10.0.2.1', headers: { 'x-forwarded-for': client } });
    for (let i = 0; i < 3; i += 1) expect((await viaProxy('203.0.113.1')).statusCode).toBe(200);
    expect((await viaProxy('203.0.113.1')).statusCode).toBe(429);
    expect(rateHeaders(await viaProxy('203.0.113.2'))).toMatchObject({ limit: '3', remaining: '2' });
  });
});

describe('rate limits with the production defaults', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.close());

  it('stops DF-API-KEY guessing from one address after 30 failures a minute', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 31; i += 1) {
      const guess = `dfk_${String(i).padStart(40, '0')}`;
      const response = await t.app.inject({
        method: 'GET',
        url: '/api/v1/billing/key',
        headers: { 'df-api-key': guess },
      });
      statuses.push(response.statusCode);
    }
    expect(statuses).toEqual([...Array<number>(30).fill(401), 429]);
  });

  it('documents the 429 with its headers on every operation, in the envelope the route answers in', async () => {
    const document = (await t.app.inject({ url: '/openapi.json' })).json<{
      paths: Record<string, Record<string, { responses: Record<string, ResponseObject | undefined> }>>;
      components: { schemas: Record<string, { properties: Record<string, unknown> }> };
    }>();
    const operations = Object.entries(document.paths).flatMap(([path, methods]) =>
      Object.entries(methods).map(([method, operation]) => ({ path, method, tooMany: operation.responses['429'] })),
    );
    expect(operations.length).toBeGreaterThan(50);
    for (const { path, method, tooMany } of operations) {
      const where = `${method} ${path}`;
      expect(Object.keys(tooMany?.headers ?? {}).sort(), where).toEqual([
        'RateLimit-Limit',
        'RateLimit-Remaining',
        'RateLimit-Reset',
        'Retry-After',
      ]);
      const reference = tooMany?.content['application/json']?.schema.$ref ?? '';
      const schema = document.components.schemas[reference.replace('#/components/schemas/', '')];
      // The body is the envelope the route's errors come in: the detail list's under /api/v1/.
      const envelopeField = path.startsWith('/api/v1/') ? 'errorCode' : 'request_id';
      expect(Object.keys(schema?.properties ?? {}), where).toContain(envelopeField);
    }
  });
});
