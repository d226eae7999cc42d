import { expect } from 'vitest';
import type { TestApp } from './test-app.js';

/** Creates a tenant through the admin API, failing the test if that does not work. */
export const givenTenant = async (t: TestApp, tenantId: string, overrides: Record<string, unknown> = {}) => {
  const response = await t.app.inject({
    method: 'POST',
    url: '/admin/tenants',
    headers: await t.as.platformAdmin(),
    payload: {
      tenant_id: tenantId,
      name: `Tenant ${tenantId}`,
      admin_user_id: `usr_admin_of_${tenantId}`,
      ...overrides,
    },
  });
  expect(response.statusCode, response.body).toBe(201);
  return response.json<{ data: Record<string, unknown> }>().data;
};

export const givenApp = async (t: TestApp, tenantId: string, appId: string) => {
  const response = await t.app.inject({
    method: 'POST',
    url: `/admin/tenants/${tenantId}/apps`,
    headers: await t.as.platformAdmin(),
    payload: { app_id: appId, name: `App ${appId}` },
  });
  expect(response.statusCode, response.body).toBe(201);
  return response.json<{ data: Record<string, unknown> }>().data;
};

export const givenApiKey = async (t: TestApp, tenantId: string, appId?: string) => {
  const response = await t.app.inject({
    method: 'POST',
    url: `/billing/api-keys/${tenantId}`,
    headers: await t.as.tenant(tenantId),
    payload: { name: 'test key', ...(appId === undefined ? {} : { app_id: appId }) },
  });
  expect(response.statusCode, response.body).toBe(201);
  return response.json<{ data: { id: string; key: string } }>().data;
};

/** What an error body must never carry: internals a caller could learn the system from. */
export const expectNothingLeaked = (body: string): void => {
  for (const needle of [
    /\bstack\b/i,
    /\bselect\b/i,
    /127\.0\.0\.1/,
    /postgres/i,
    /pglite/i,
    /node_modules/,
    /\.ts:\d+/,
  ]) {
    expect(body).not.toMatch(needle);
  }
};
