import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import { expectErrorBody } from '../src/testing/envelopes.js';
import { createTestApp, platformAdminClaims, type TestApp } from '../src/testing/test-app.js';
import { createBillingClient, type BillingClient, type DetailError, type ErrorResponse, type Schema } from './index.js';

// The client over real HTTP: the test app listening on a port of its own, every answer still
// checked against the OpenAPI document by the kit.
let t: TestApp;
let baseUrl: string;
let admin: BillingClient;

beforeAll(async () => {
  t = await createTestApp();
  await t.app.listen({ host: '127.0.0.1', port: 0 });
  baseUrl = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
  admin = createBillingClient({ baseUrl, token: await t.token(platformAdminClaims) });
});
afterAll(() => t.close());

const tenantId = 'tnt_client';

describe('the typed client', () => {
  it('creates a tenant and an app as platform admin, typed by the document', async () => {
    const tenant = await admin.POST('/admin/tenants', {
      body: { tenant_id: tenantId, name: 'Client Ltd', admin_user_id: 'usr_client' },
    });
    expect(tenant.response.status).toBe(201);
    expectTypeOf(tenant.data?.data).toEqualTypeOf<Schema<'Tenant'> | undefined>();
    expect(tenant.data?.data).toMatchObject({ tenant_id: tenantId, name: 'Client Ltd', currency: 'CNY' });

    const app = await admin.POST('/admin/tenants/{tenant_id}/apps', {
      params: { path: { tenant_id: tenantId } },
      body: { app_id: 'app_client', name: 'Portal' },
    });
    expect(app.response.status).toBe(201);
    expect(app.data?.data).toMatchObject({ app_id: 'app_client', tenant_id: tenantId, name: 'Portal' });
  });

  it('lists billing records with typed query parameters and items', async () => {
    const created = await admin.POST('/admin/records/{tenant_id}', {
      params: { path: { tenant_id: tenantId }, header: { 'idempotency-key': 'client-record-1' } },
      body: {
        app_id: 'app_client',
        type: 'one_time',
        description: 'Onboarding',
        lines: [{ description: 'Onboarding workshop', resource_type: 'service', quantity: 2, unit_price: 49.95 }],
        finalize: true,
      },
    });
    expect(created.response.status).toBe(201);

    const { data, error } = await admin.GET('/billing/records/{tenant_id}/search', {
      params: { path: { tenant_id: tenantId }, query: { status: 'pending', page_size: 10 } },
    });
    expect(error).toBeUndefined();
    expectTypeOf(data?.items).toEqualTypeOf<Schema<'BillingRecordResponse'>[] | undefined>();
    expect(data?.total).toBe(1);
    expect(data?.items[0]).toMatchObject({ description: 'Onboarding', amount: 99.9, status: 'pending' });
  });

  it('answers an error in the error envelope, typed as such', async () => {
    const viewer = createBillingClient({
      baseUrl,
      // A function: asked for the token before each request.
      token: () => t.token({ userId: 'usr_viewer', tenantId, roles: ['tenant_viewer'] }),
    });
    const { data, error, response } = await viewer.POST('/admin/tenants', {
      body: { name: 'Not allowed', admin_user_id: 'usr_other' },
    });
    expect(data).toBeUndefined();
    expectTypeOf(error).toEqualTypeOf<ErrorResponse | undefined>();
    expect(response.status).toBe(403);
    expectErrorBody(error, 403, false);
    expect(error?.error.type).toBe('forbidden');

    const invalid = await admin.POST('/admin/tenants', {
      body: { tenant_id: 'not-a-tenant-id', name: 'Bad id', admin_user_id: 'usr_bad' },
    });
    expect(invalid.response.status).toBe(400);
    expect(invalid.error?.error.details).toContainEqual(
      expect.objectContaining({ in: 'body', parameter: 'tenant_id' }),
    );
  });

  it('sends no credentials when given none, and an API key as DF-API-KEY', async () => {
    const anonymous = createBillingClient({ baseUrl });
    expect((await anonymous.GET('/healthz')).response.status).toBe(200);
    expect((await anonymous.GET('/admin/tenants')).error?.error.type).toBe('unauthorized');

    const key = await admin.POST('/billing/api-keys/{tenant_id}', {
      params: { path: { tenant_id: tenantId } },
      body: { name: 'Client test' },
    });
    expect(key.response.status).toBe(201);
    const withKey = createBillingClient({ baseUrl, apiKey: key.data!.data.key });
    const described = await withKey.GET('/api/v1/billing/key');
    expect(described.response.status).toBe(200);
    expect(described.data?.content).toEqual({ keyId: key.data!.data.id, tenantId, workspaceUuid: null });

    const wrongKey = await createBillingClient({ baseUrl, apiKey: 'dfk_wrong' }).GET('/api/v1/billing/key');
    // openapi-fetch's Readable drops a property typed plain `null` (content, always null in an error).
    expectTypeOf(wrongKey.error).toEqualTypeOf<Omit<DetailError, 'content'> | undefined>();
    expect(wrongKey.error).toMatchObject({ code: 401, success: false, errorCode: 'unauthorized' });
  });

  it('refuses options it cannot use', () => {
    expect(() => createBillingClient({ baseUrl: 'billing.example.com' })).toThrow(
      'baseUrl must be an absolute URL, got billing.example.com',
    );
    // @ts-expect-error -- the types allow one credential; the check is for JavaScript callers.
    expect(() => createBillingClient({ baseUrl, token: 'a', apiKey: 'b' })).toThrow(
      'give either token or apiKey, not both',
    );
  });
});
