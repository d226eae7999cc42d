import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asPlatformAdmin, asTenantAdmin } from '../../testing/api.js';
import { givenApiKey, givenApp, givenTenant } from '../../testing/fixtures.js';
import { createTestApp, type TestApp } from '../../testing/test-app.js';
import { hashApiKey } from './secret.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
  await givenTenant(t, 'tnt_keys');
  await givenApp(t, 'tnt_keys', 'app_keys');
  await givenTenant(t, 'tnt_else');
  await givenApp(t, 'tnt_else', 'app_else');
});
afterAll(() => t.close());

const whoAmI = (key: string) =>
  t.app.inject({ method: 'GET', url: '/api/v1/billing/key', headers: { 'df-api-key': key } });

describe('DF-API-KEY lifecycle', () => {
  it('shows the key once, stores only its hash, and the key works', async () => {
    const created = await givenApiKey(t, 'tnt_keys');
    expect(created.key).toMatch(/^dfk_[a-z0-9]{40}$/);
    const stored = await t.database.db
      .selectFrom('api_keys')
      .selectAll()
      .where('id', '=', created.id)
      .executeTakeFirstOrThrow();
    expect(stored.secret_hash).toBe(hashApiKey(created.key));
    expect(JSON.stringify(stored)).not.toContain(created.key);

    const listed = await asTenantAdmin(t, 'tnt_keys').get('/billing/api-keys/tnt_keys');
    expect(listed.statusCode).toBe(200);
    expect(listed.body).not.toContain(created.key);
    expect(listed.json<{ items: { id: string; key_prefix: string }[] }>().items[0]).toMatchObject({
      id: created.id,
      key_prefix: created.key.slice(0, 12),
    });

    const info = await whoAmI(created.key);
    expect(info.statusCode).toBe(200);
    expect(info.json()).toEqual({
      code: 200,
      content: { keyId: created.id, tenantId: 'tnt_keys', workspaceUuid: null },
      errorCode: '',
      message: '',
      success: true,
      traceId: info.headers['x-request-id'],
    });
  });

  it('scopes a key to one app of the tenant, and refuses another tenant’s app', async () => {
    const scoped = await givenApiKey(t, 'tnt_keys', 'app_keys');
    expect((await whoAmI(scoped.key)).json<{ content: { workspaceUuid: string } }>().content.workspaceUuid).toBe(
      'app_keys',
    );
    const foreign = await asTenantAdmin(t, 'tnt_keys').post('/billing/api-keys/tnt_keys', {
      name: 'foreign',
      app_id: 'app_else',
    });
    expect(foreign.statusCode).toBe(400);
    expect(foreign.json<{ error: { details: { parameter: string }[] } }>().error.details[0]?.parameter).toBe('app_id');
  });

  it('revokes at once, repeatably, and 404s an unknown key', async () => {
    const key = await givenApiKey(t, 'tnt_keys');
    t.clock.set('2026-01-05T00:00:00Z');
    const tenantAdmin = asTenantAdmin(t, 'tnt_keys');
    const revoked = await tenantAdmin.delete(`/billing/api-keys/tnt_keys/${key.id}`);
    expect(revoked.json<{ data: { revoked_at: string } }>().data.revoked_at).toBe('2026-01-05T00:00:00Z');
    t.clock.set('2026-01-06T00:00:00Z');
    const again = await tenantAdmin.delete(`/billing/api-keys/tnt_keys/${key.id}`);
    expect(again.json<{ data: { revoked_at: string } }>().data.revoked_at).toBe('2026-01-05T00:00:00Z');
    expect((await whoAmI(key.key)).statusCode).toBe(401);
    const unknown = await tenantAdmin.delete('/billing/api-keys/tnt_keys/key_0000000000000000');
    expect(unknown.statusCode).toBe(404);
  });

  it('another tenant cannot revoke the key, even knowing its id', async () => {
    const key = await givenApiKey(t, 'tnt_keys');
    const attempt = await asTenantAdmin(t, 'tnt_else').delete(`/billing/api-keys/tnt_else/${key.id}`);
    expect(attempt.statusCode).toBe(404);
    expect((await whoAmI(key.key)).statusCode).toBe(200);
  });

  it('keys of a suspended tenant stop working', async () => {
    const key = await givenApiKey(t, 'tnt_else');
    expect((await whoAmI(key.key)).statusCode).toBe(200);
    const suspend = await asPlatformAdmin(t).patch('/admin/tenants/tnt_else', { status: 'suspended' });
    expect(suspend.statusCode).toBe(200);
    expect((await whoAmI(key.key)).statusCode).toBe(401);
  });
});
