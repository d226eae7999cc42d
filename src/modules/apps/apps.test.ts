import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asPlatformAdmin, asService, asTenantViewer } from '../../testing/api.js';
import { givenApp, givenTenant } from '../../testing/fixtures.js';
import { createTestApp, type TestApp } from '../../testing/test-app.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
  await givenTenant(t, 'tnt_apps');
  await givenTenant(t, 'tnt_other');
});
afterAll(() => t.close());

describe('apps of a tenant', () => {
  it('creates apps and lists them newest first for the tenant only', async () => {
    t.clock.set('2026-01-02T00:00:00Z');
    await givenApp(t, 'tnt_apps', 'app_first');
    t.clock.set('2026-01-03T00:00:00Z');
    await givenApp(t, 'tnt_apps', 'app_second');
    await givenApp(t, 'tnt_other', 'app_elsewhere');
    const response = await asTenantViewer(t, 'tnt_apps').get('/billing/tenants/tnt_apps/apps');
    expect(response.statusCode).toBe(200);
    const body = response.json<{ items: { app_id: string; tenant_id: string }[]; total: number }>();
    expect(body.items.map((item) => item.app_id)).toEqual(['app_second', 'app_first']);
    expect(body.items.every((item) => item.tenant_id === 'tnt_apps')).toBe(true);
    expect(body.total).toBe(2);
  });

  it('refuses an app id already used, also by another tenant, with 409', async () => {
    const response = await asPlatformAdmin(t).post('/admin/tenants/tnt_apps/apps', {
      app_id: 'app_elsewhere',
      name: 'Taken',
    });
    expect(response.statusCode).toBe(409);
  });

  it('refuses an app for an unknown tenant with 404 and a bad app id with 400', async () => {
    const admin = asPlatformAdmin(t);
    const unknown = await admin.post('/admin/tenants/tnt_nobody/apps', { name: 'X' });
    expect(unknown.statusCode).toBe(404);
    const bad = await admin.post('/admin/tenants/tnt_apps/apps', { app_id: 'workspace-1', name: 'X' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json<{ error: { details: { parameter: string }[] } }>().error.details[0]?.parameter).toBe('app_id');
  });

  it('syncs apps from the platform: create, update, disable, and never steal another tenant’s id', async () => {
    const service = asService(t);
    const created = await service.put('/internal/billing/tenants/tnt_apps/apps/app_synced', { name: 'Synced' });
    expect(created.statusCode, created.body).toBe(201);
    const disabled = await service.put('/internal/billing/tenants/tnt_apps/apps/app_synced', {
      name: 'Synced',
      status: 'disabled',
    });
    expect(disabled.statusCode).toBe(200);
    expect(disabled.json<{ data: { status: string } }>().data.status).toBe('disabled');
    const stolen = await service.put('/internal/billing/tenants/tnt_apps/apps/app_elsewhere', { name: 'Mine now' });
    expect(stolen.statusCode).toBe(409);
    const unknownTenant = await service.put('/internal/billing/tenants/tnt_nobody/apps/app_x', { name: 'X' });
    expect(unknownTenant.statusCode).toBe(404);
  });
});
