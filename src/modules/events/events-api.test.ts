import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventsOf, type BillingEventView } from '../../testing/billing-events.js';
import { givenTenant } from '../../testing/fixtures.js';
import { createTestApp, type TestApp } from '../../testing/test-app.js';

let t: TestApp;
let keySeq = 0;
const tenantId = 'tnt_events_api';
const otherTenantId = 'tnt_events_other';

const grantPromo = async (tenant: string, amount: number) => {
  const response = await t.app.inject({
    method: 'POST',
    url: `/admin/credits/${tenant}/promo`,
    headers: { ...(await t.as.platformAdmin()), 'idempotency-key': `events-api-${++keySeq}` },
    payload: { amount },
  });
  expect(response.statusCode, response.body).toBe(201);
};

const renameTenant = async (tenant: string, name: string) => {
  const response = await t.app.inject({
    method: 'PATCH',
    url: `/admin/tenants/${tenant}`,
    headers: await t.as.platformAdmin(),
    payload: { name },
  });
  expect(response.statusCode, response.body).toBe(200);
};

const list = async (query: string, headers?: Record<string, string>, tenant = tenantId) =>
  t.app.inject({ url: `/billing/events/${tenant}${query}`, headers: headers ?? (await t.as.tenant(tenant)) });

const listed = async (query: string): Promise<{ items: BillingEventView[]; pagination: unknown; total: number }> => {
  const response = await list(query);
  expect(response.statusCode, response.body).toBe(200);
  return response.json();
};

const expectInvalidQuery = async (query: string, parameter: string) => {
  const response = await list(query);
  expect(response.statusCode, response.body).toBe(400);
  const body = response.json<{ error: { type: string; details: { in: string; parameter: string }[] } }>();
  expect(body.error.type).toBe('validation_error');
  expect(body.error.details).toContainEqual(expect.objectContaining({ in: 'query', parameter }));
};

// Five events: promo credits at 01:00, 02:00 and twice at 03:00 (a tie), a rename at 04:00.
beforeAll(async () => {
  t = await createTestApp();
  await givenTenant(t, tenantId);
  await givenTenant(t, otherTenantId);
  t.clock.set('2026-01-01T01:00:00Z');
  await grantPromo(tenantId, 1);
  t.clock.set('2026-01-01T02:00:00Z');
  await grantPromo(tenantId, 2);
  t.clock.set('2026-01-01T03:00:00Z');
  await grantPromo(tenantId, 3);
  await grantPromo(tenantId, 4);
  t.clock.set('2026-01-01T04:00:00Z');
  await renameTenant(tenantId, 'Renamed');
  await grantPromo(otherTenantId, 5);
});
afterAll(() => t.close());

describe('GET /billing/events/{tenant_id}', () => {
  it('lists newest first, ties by id descending, with time-sortable ids', async () => {
    const { items, total } = await listed('');
    expect(total).toBe(5);
    expect(items.map((event) => [event.type, event.created_at])).toEqual([
      ['tenant.updated', '2026-01-01T04:00:00Z'],
      ['credit_transaction.created', '2026-01-01T03:00:00Z'],
      ['credit_transaction.created', '2026-01-01T03:00:00Z'],
      ['credit_transaction.created', '2026-01-01T02:00:00Z'],
      ['credit_transaction.created', '2026-01-01T01:00:00Z'],
    ]);
    const ids = items.map((event) => event.id);
    expect(ids).toEqual([...ids].sort().reverse());
    for (const id of ids) expect(id).toMatch(/^evt_[a-z0-9]{25}$/);
    expect(items.every((event) => event.tenant_id === tenantId && event.app_id === null)).toBe(true);
  });

  it('pages with the usual PageInfo, pages never overlapping', async () => {
    const all = (await listed('')).items.map((event) => event.id);
    const first = await listed('?page=1&page_size=2');
    const second = await listed('?page=2&page_size=2');
    const third = await listed('?page=3&page_size=2');
    expect(first.pagination).toEqual({
      page: 1,
      page_size: 2,
      total: 5,
      total_pages: 3,
      has_next: true,
      has_prev: false,
    });
    expect(third.pagination).toMatchObject({ page: 3, has_next: false, has_prev: true });
    expect([...first.items, ...second.items, ...third.items].map((event) => event.id)).toEqual(all);
    expect((await listed('?page=4&page_size=2')).items).toEqual([]);
  });

  it('filters by exact type, by object (type.*) and by an inclusive created range', async () => {
    const exact = await listed('?type=tenant.updated');
    expect(exact.items.map((event) => event.type)).toEqual(['tenant.updated']);
    expect(exact.items[0]?.data).toMatchObject({ tenant_id: tenantId, name: 'Renamed' });
    expect((await listed('?type=credit_transaction.*')).total).toBe(4);
    expect((await listed('?type=subscription.*')).total).toBe(0);
    expect((await listed('?type=billing_record.paid')).total).toBe(0);
    const range = await listed('?created_from=2026-01-01T02:00:00Z&created_to=2026-01-01T03:00:00Z');
    expect(range.items.map((event) => event.created_at)).toEqual([
      '2026-01-01T03:00:00Z',
      '2026-01-01T03:00:00Z',
      '2026-01-01T02:00:00Z',
    ]);
    expect((await listed('?created_from=2026-01-01T04:00:00%2B08:00')).total).toBe(5);
    expect((await listed('?created_to=2026-01-01T00:59:59Z')).total).toBe(0);
    const both = await listed('?type=credit_transaction.created&created_from=2026-01-01T03:00:00Z');
    expect(both.total).toBe(2);
  });

  it('refuses an unknown type, a malformed pattern, a malformed time and a reversed range, naming the parameter', async () => {
    for (const type of [
      'tenant.deleted',
      'webhook_endpoint.test',
      'nothing.*',
      'tenant.',
      '*',
      'Tenant.updated',
      'tenant.up*',
    ]) {
      await expectInvalidQuery(`?type=${encodeURIComponent(type)}`, 'type');
    }
    await expectInvalidQuery('?created_from=2026-01-01', 'created_from');
    await expectInvalidQuery('?created_to=yesterday', 'created_to');
    await expectInvalidQuery('?created_from=2026-01-02T00:00:00Z&created_to=2026-01-01T00:00:00Z', 'created_from');
    await expectInvalidQuery('?page_size=101', 'page_size');
    await expectInvalidQuery('?colour=red', 'colour');
  });

  it('shows each tenant only its own events; viewers read; an unknown tenant is 404 for a platform admin', async () => {
    const other = await list('', undefined, otherTenantId);
    expect(other.json<{ items: BillingEventView[] }>().items.map((event) => event.tenant_id)).toEqual([otherTenantId]);
    expect((await list('', await t.as.tenant(tenantId, 'tenant_viewer'))).statusCode).toBe(200);
    expect((await list('', await t.as.tenant(otherTenantId))).statusCode).toBe(403);
    const unknown = await list('', await t.as.platformAdmin(), 'tnt_nobody');
    expect(unknown.statusCode, unknown.body).toBe(404);
  });
});

describe('GET /billing/events/{tenant_id}/{event_id}', () => {
  it('answers the event as the list shows it', async () => {
    const [newest] = (await listed('')).items;
    const response = await t.app.inject({
      url: `/billing/events/${tenantId}/${newest!.id}`,
      headers: await t.as.tenant(tenantId, 'tenant_viewer'),
    });
    expect(response.statusCode, response.body).toBe(200);
    expect(response.json<{ data: BillingEventView }>().data).toEqual(newest);
  });

  it("is 404 for an absent event and for another tenant's", async () => {
    const [othersEvent] = await eventsOf(t, otherTenantId);
    for (const eventId of ['evt_0000000000000000000000000', othersEvent!.id]) {
      const response = await t.app.inject({
        url: `/billing/events/${tenantId}/${eventId}`,
        headers: await t.as.platformAdmin(),
      });
      expect(response.statusCode, response.body).toBe(404);
    }
  });
});

describe('the events table', () => {
  it('refuses UPDATE, DELETE and TRUNCATE', async () => {
    const db = t.database.db;
    await expect(sql`update events set type = 'tenant.updated'`.execute(db)).rejects.toThrow(/immutable/);
    await expect(sql`delete from events`.execute(db)).rejects.toThrow(/immutable/);
    await expect(sql`truncate events`.execute(db)).rejects.toThrow(/immutable/);
    expect((await listed('')).total).toBe(5);
  });
});
