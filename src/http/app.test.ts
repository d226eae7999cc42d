import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asPlatformAdmin } from '../testing/api.js';
import { expectNothingLeaked } from '../testing/envelopes.js';
import { createTestApp, type TestApp } from '../testing/test-app.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t.close());

describe('operations endpoints', () => {
  it('/healthz and /readyz answer', async () => {
    expect((await t.app.inject('/healthz')).json()).toEqual({ status: 'ok' });
    const ready = await t.app.inject('/readyz');
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toEqual({ status: 'ready', checks: { database: 'up' } });
  });

  it('/metrics exposes Prometheus text with per-route request counts', async () => {
    await t.app.inject('/healthz');
    const metrics = await t.app.inject('/metrics');
    expect(metrics.headers['content-type']).toMatch(/text\/plain/);
    expect(metrics.body).toMatch(/http_requests_total\{method="GET",route="\/healthz",status_code="200"\} \d+/);
    expect(metrics.body).toContain('process_cpu_user_seconds_total');
  });

  it('/openapi.json is OpenAPI 3 with both security schemes and the guarded routes', async () => {
    const spec = (await t.app.inject('/openapi.json')).json<{
      openapi: string;
      paths: Record<string, Record<string, { security?: unknown[] }>>;
      components: { securitySchemes: Record<string, unknown> };
    }>();
    expect(spec.openapi).toMatch(/^3\./);
    expect(Object.keys(spec.components.securitySchemes).sort()).toEqual(['apiKeyAuth', 'bearerAuth']);
    expect(spec.paths['/admin/tenants']?.post?.security).toEqual([{ bearerAuth: [] }]);
    expect(spec.paths['/api/v1/billing/key']?.get?.security).toEqual([{ apiKeyAuth: [] }]);
    // Public: an empty requirement, which OpenAPI reads as "no authentication", not "not stated".
    expect(spec.paths['/healthz']?.get?.security).toEqual([]);
  });

  it('/docs serves Swagger UI from the installed package, with no external assets', async () => {
    const page = await t.app.inject('/docs/');
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('swagger-ui');
    expect(page.body).not.toMatch(/src="https?:\/\//);
    const bundle = await t.app.inject('/docs/static/swagger-ui-bundle.js');
    expect(bundle.statusCode).toBe(200);
    expect(bundle.body.length).toBeGreaterThan(100_000);
  });
});

describe('request ids and the error model', () => {
  it('echoes a sane x-request-id and replaces an unsafe one', async () => {
    const kept = await t.app.inject({ url: '/healthz', headers: { 'x-request-id': 'req-abc.123' } });
    expect(kept.headers['x-request-id']).toBe('req-abc.123');
    const replaced = await t.app.inject({ url: '/healthz', headers: { 'x-request-id': 'bad id\n<script>' } });
    expect(replaced.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('answers an unknown route with the error envelope and the request id', async () => {
    const response = await t.app.inject({ url: '/billing/nothing-here', headers: { 'x-request-id': 'req-404' } });
    expect(response.statusCode).toBe(404);
    expect(response.json()).toEqual({
      code: 404,
      message: 'no route for GET /billing/nothing-here',
      error: { type: 'not_found', details: [] },
      timestamp: '2026-01-01T00:00:00Z',
      request_id: 'req-404',
    });
  });

  it('answers an unknown /api/v1 route in the detail-list envelope', async () => {
    const response = await t.app.inject({ url: '/api/v1/billing/nothing', headers: { 'x-request-id': 'req-v1' } });
    expect(response.statusCode).toBe(404);
    expect(response.json()).toMatchObject({
      code: 404,
      content: null,
      errorCode: 'not_found',
      success: false,
      traceId: 'req-v1',
    });
  });

  it('refuses an oversized body with 413 and a non-JSON body with 415', async () => {
    const headers = await t.as.platformAdmin();
    const huge = await t.app.inject({
      method: 'POST',
      url: '/admin/tenants',
      headers: { ...headers, 'content-type': 'application/json' },
      payload: JSON.stringify({ name: 'x'.repeat(2 * 1024 * 1024), admin_user_id: 'usr_x' }),
    });
    expect(huge.statusCode).toBe(413);
    expect(huge.json()).toMatchObject({ error: { type: 'payload_too_large' } });
    const text = await t.app.inject({
      method: 'POST',
      url: '/admin/tenants',
      headers: { ...headers, 'content-type': 'text/plain' },
      payload: 'name=x',
    });
    expect(text.statusCode).toBe(415);
    expectNothingLeaked(text.body);
  });
});

describe('query numbers', () => {
  it.each(['%20', '0x10', '1_000', '', '1,5'])('refuses page=%s as not a number', async (raw) => {
    const response = await asPlatformAdmin(t).get(`/admin/tenants?page=${raw}`);
    expect(response.statusCode, response.body).toBe(400);
    expect(response.json()).toMatchObject({ error: { details: [{ in: 'query', parameter: 'page' }] } });
  });
});
