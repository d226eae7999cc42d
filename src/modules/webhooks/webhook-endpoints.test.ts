import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asPlatformAdmin, asTenantAdmin, asTenantViewer } from '../../testing/api.js';
import { expectData, expectError, expectInvalid, expectList } from '../../testing/envelopes.js';
import { givenTenant, givenWebhookEndpoint, webhookEndpointsUrl } from '../../testing/fixtures.js';
import { createTestApp, type TestApp } from '../../testing/test-app.js';
import type { WebhookEndpointView } from '../../testing/views.js';

let t: TestApp;
const tenantId = 'tnt_hooks';
const otherTenantId = 'tnt_hooks_other';
const base = webhookEndpointsUrl(tenantId);
const publicUrl = 'https://hooks.example.com/billing';

beforeAll(async () => {
  t = await createTestApp({ webhookAllowPrivate: false });
  await givenTenant(t, tenantId);
  await givenTenant(t, otherTenantId);
});
afterAll(() => t.close());

describe('tenant webhook endpoints', () => {
  it('creates with a whsec_ secret shown once, lists, gets, updates, rotates and deletes', async () => {
    const created = await givenWebhookEndpoint(t, tenantId, {
      url: publicUrl,
      event_types: ['billing_record.*', 'subscription.canceled'],
      description: 'Accounting',
    });
    expect(created).toMatchObject({
      tenant_id: tenantId,
      url: publicUrl,
      event_types: ['billing_record.*', 'subscription.canceled'],
      description: 'Accounting',
      enabled: true,
      disabled_reason: null,
      failing_since: null,
    });
    expect(created.id).toMatch(/^we_[a-z0-9]{16}$/);
    const secretBytes = Buffer.from(created.secret.slice('whsec_'.length), 'base64');
    expect(created.secret).toMatch(/^whsec_/);
    expect(secretBytes.length).toBeGreaterThanOrEqual(24);
    expect(secretBytes.length).toBeLessThanOrEqual(32);

    const viewer = asTenantViewer(t, tenantId);
    const read = expectData<WebhookEndpointView>(await viewer.get(`${base}/${created.id}`));
    const { secret: _secret, ...withoutSecret } = created;
    expect(read).toEqual(withoutSecret);
    const listed = expectList<WebhookEndpointView>(await viewer.get(base));
    expect(listed.items.map((endpoint) => endpoint.id)).toContain(created.id);
    expect(listed.items.every((endpoint) => endpoint.secret === undefined)).toBe(true);

    t.clock.advance(1000);
    const admin = asTenantAdmin(t, tenantId);
    const updated = expectData<WebhookEndpointView>(
      await admin.patch(`${base}/${created.id}`, {
        url: 'https://hooks.example.com/v2',
        event_types: null,
        description: null,
        enabled: false,
      }),
    );
    expect(updated).toMatchObject({
      url: 'https://hooks.example.com/v2',
      event_types: null,
      description: null,
      enabled: false,
      disabled_reason: 'manual',
    });
    expect(updated.updated_at).not.toBe(updated.created_at);
    expect(updated.secret).toBeUndefined();
    const enabled = expectData<WebhookEndpointView>(await admin.patch(`${base}/${created.id}`, { enabled: true }));
    expect(enabled).toMatchObject({ enabled: true, disabled_reason: null });

    const rotated = expectData<WebhookEndpointView>(await admin.post(`${base}/${created.id}/rotate-secret`));
    expect(rotated.secret).toMatch(/^whsec_/);
    expect(rotated.secret).not.toBe(created.secret);

    const deleted = expectData<WebhookEndpointView>(await admin.delete(`${base}/${created.id}`));
    expect(deleted).toMatchObject({ id: created.id, enabled: false });
    expectError(await viewer.get(`${base}/${created.id}`), 404, 'not_found');
    expect(expectList<WebhookEndpointView>(await viewer.get(base)).items.map((e) => e.id)).not.toContain(created.id);
    expectError(await admin.delete(`${base}/${created.id}`), 404, 'not_found');
  });

  it('pages the list newest first', async () => {
    const tenant = 'tnt_hooks_paged';
    await givenTenant(t, tenant);
    const ids: string[] = [];
    for (let i = 0; i < 3; i += 1) {
      t.clock.advance(1000);
      ids.unshift((await givenWebhookEndpoint(t, tenant, { url: `${publicUrl}/${i}` })).id);
    }
    const first = expectList<WebhookEndpointView>(
      await asTenantViewer(t, tenant).get(`${webhookEndpointsUrl(tenant)}?page=1&page_size=2`),
    );
    const second = expectList<WebhookEndpointView>(
      await asTenantViewer(t, tenant).get(`${webhookEndpointsUrl(tenant)}?page=2&page_size=2`),
    );
    expect(first.pagination).toMatchObject({ total: 3, total_pages: 2, has_next: true });
    expect([...first.items, ...second.items].map((endpoint) => endpoint.id)).toEqual(ids);
  });

  it('refuses bad URLs and event types, naming the field', async () => {
    const admin = asTenantAdmin(t, tenantId);
    for (const url of [
      'ftp://hooks.example.com/x',
      'not a url',
      'https://user:pass@hooks.example.com/x',
      `https://hooks.example.com/${'a'.repeat(2048)}`,
      'http://127.0.0.1:8080/hook',
      'http://127.1:8080/hook',
      'http://10.1.2.3/hook',
      'http://172.16.0.1/hook',
      'http://192.168.1.1/hook',
      'http://100.64.0.1/hook',
      'http://169.254.169.254/latest/meta-data',
      'http://0.0.0.0/hook',
      'http://2130706433/hook',
      'http://[::1]/hook',
      'http://[fc00::1]/hook',
      'http://[fe80::1]/hook',
      'http://[::ffff:127.0.0.1]/hook',
      'http://[::ffff:a9fe:a9fe]/hook',
    ]) {
      expectInvalid(await admin.post(base, { url }), 'url');
    }
    for (const event_types of [['tenant.deleted'], ['nothing.*'], ['*'], [], ['tenant.updated', 'tenant.updated']]) {
      expectInvalid(await admin.post(base, { url: publicUrl, event_types }), 'event_types');
    }
    expectInvalid(await admin.post(base, { url: publicUrl, secret: 'whsec_mine' }), 'secret');
    const endpoint = await givenWebhookEndpoint(t, tenantId, { url: publicUrl });
    expectInvalid(await admin.patch(`${base}/${endpoint.id}`, { url: 'http://192.168.0.10/' }), 'url');
    expectInvalid(await admin.patch(`${base}/${endpoint.id}`, { event_types: ['subscription.nope'] }), 'event_types');
    expectError(await admin.patch(`${base}/${endpoint.id}`, {}), 400, 'validation_error');
    // Public addresses and names pass (a name is checked again at each delivery).
    for (const url of ['http://93.184.215.14/hook', 'https://[2606:4700::1111]/hook', 'http://localhost:9/hook']) {
      expectData(await admin.post(base, { url }), 201);
    }
  });

  it("keeps tenants apart: another tenant's endpoint is 404, a viewer cannot write, an unknown tenant is 404", async () => {
    const others = await givenWebhookEndpoint(t, otherTenantId, { url: publicUrl });
    const admin = asTenantAdmin(t, tenantId);
    expectError(await admin.get(`${base}/${others.id}`), 404, 'not_found');
    expectError(await admin.patch(`${base}/${others.id}`, { enabled: false }), 404, 'not_found');
    expectError(await admin.delete(`${base}/${others.id}`), 404, 'not_found');
    expectError(await admin.post(`${base}/${others.id}/rotate-secret`), 404, 'not_found');
    expectError(await admin.post(`${base}/${others.id}/test`), 404, 'not_found');
    expectError(await admin.get(`${base}/${others.id}/deliveries`), 404, 'not_found');
    expectError(await asTenantAdmin(t, tenantId).get(webhookEndpointsUrl(otherTenantId)), 403, 'forbidden');

    const viewer = asTenantViewer(t, tenantId);
    const own = await givenWebhookEndpoint(t, tenantId, { url: publicUrl });
    expectError(await viewer.post(base, { url: publicUrl }), 403, 'forbidden');
    expectError(await viewer.patch(`${base}/${own.id}`, { enabled: false }), 403, 'forbidden');
    expectError(await viewer.delete(`${base}/${own.id}`), 403, 'forbidden');
    expectError(await viewer.post(`${base}/${own.id}/rotate-secret`), 403, 'forbidden');
    expectData(await viewer.get(`${base}/${own.id}/deliveries`));

    // A platform admin acts on any tenant's endpoints.
    const platform = asPlatformAdmin(t);
    expectData(await platform.patch(`${webhookEndpointsUrl(otherTenantId)}/${others.id}`, { description: 'by ops' }));
    expectError(await platform.get(webhookEndpointsUrl('tnt_nobody')), 404, 'not_found');
    expectError(await platform.post(webhookEndpointsUrl('tnt_nobody'), { url: publicUrl }), 404, 'not_found');
  });
});

describe('platform-wide webhook endpoints', () => {
  it('are managed by platform admins only, apart from every tenant', async () => {
    const platform = asPlatformAdmin(t);
    const created = await givenWebhookEndpoint(t, null, { url: publicUrl, event_types: ['tenant.updated'] });
    expect(created).toMatchObject({ tenant_id: null, enabled: true });
    const listed = expectList<WebhookEndpointView>(await platform.get('/admin/webhook-endpoints'));
    expect(listed.items.map((endpoint) => endpoint.tenant_id)).toEqual(listed.items.map(() => null));
    expect(listed.items.map((endpoint) => endpoint.id)).toContain(created.id);
    expect(
      expectData<WebhookEndpointView>(
        await platform.patch(`/admin/webhook-endpoints/${created.id}`, { event_types: ['subscription.*'] }),
      ).event_types,
    ).toEqual(['subscription.*']);
    expectData(await platform.post(`/admin/webhook-endpoints/${created.id}/rotate-secret`));
    // Not a tenant's: it is not found under a tenant's path, and a tenant cannot reach the admin routes.
    expectError(await platform.get(`${base}/${created.id}`), 404, 'not_found');
    expectError(await asTenantAdmin(t, tenantId).get('/admin/webhook-endpoints'), 403, 'forbidden');
    expectInvalid(await platform.post('/admin/webhook-endpoints', { url: 'http://127.0.0.1/x' }), 'url');
    expectData(await platform.delete(`/admin/webhook-endpoints/${created.id}`));
    expectError(await platform.get(`/admin/webhook-endpoints/${created.id}`), 404, 'not_found');
  });
});
