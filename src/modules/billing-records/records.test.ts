import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asPlatformAdmin, asTenantViewer } from '../../testing/api.js';
import { givenApp, givenTenant } from '../../testing/fixtures.js';
import { createTestApp, type TestApp } from '../../testing/test-app.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
  await givenTenant(t, 'tnt_xyz789');
  await givenApp(t, 'tnt_xyz789', 'app_001');
});
afterAll(() => t.close());

const post = (url: string, payload?: Record<string, unknown>) => asPlatformAdmin(t).post(url, payload);

const subscriptionRecord = {
  app_id: 'app_001',
  type: 'subscription',
  description: 'Professional Monthly Subscription',
  lines: [
    { description: 'Professional Monthly Subscription', resource_type: 'subscription', quantity: 1, unit_price: 99 },
  ],
};

describe('billing record lifecycle', () => {
  it('creates a draft, finalises it with INV-2026-001, and reads it back field for field', async () => {
    t.clock.set('2026-04-01T00:00:00Z');
    const created = await post('/admin/records/tnt_xyz789', subscriptionRecord);
    expect(created.statusCode, created.body).toBe(201);
    const draft = created.json<{ data: { record_id: string; status: string; invoice_number: null } }>().data;
    expect(draft).toMatchObject({ status: 'draft', invoice_number: null });

    const finalized = await post(`/admin/records/tnt_xyz789/${draft.record_id}/finalize`);
    expect(finalized.statusCode, finalized.body).toBe(200);

    const read = await asTenantViewer(t, 'tnt_xyz789').get(`/billing/records/tnt_xyz789/apps/app_001`);
    expect(read.statusCode, read.body).toBe(200);
    expect(read.json()).toEqual({
      code: 200,
      message: 'ok',
      items: [
        {
          amount: 99,
          app_id: 'app_001',
          created_at: '2026-04-01T00:00:00Z',
          currency: 'CNY',
          description: 'Professional Monthly Subscription',
          invoice_number: 'INV-2026-001',
          line_items: [
            {
              amount: 99,
              description: 'Professional Monthly Subscription',
              quantity: 1,
              resource_type: 'subscription',
              tax_amount: 5.94,
              tax_rate: 0.06,
              unit_price: 99,
            },
          ],
          record_id: draft.record_id,
          status: 'pending',
          tenant_id: 'tnt_xyz789',
          type: 'subscription',
          tax_amount: 5.94,
          total_amount: 104.94,
          due_at: '2026-04-01T00:00:00Z',
          overdue_at: null,
        },
      ],
      pagination: { page: 1, page_size: 20, total: 1, total_pages: 1, has_next: false, has_prev: false },
      total: 1,
      timestamp: '2026-04-01T00:00:00Z',
    });
  });

  it('moves only along legal edges and records who moved it and when', async () => {
    t.clock.set('2026-04-02T00:00:00Z');
    const created = await post('/admin/records/tnt_xyz789', { ...subscriptionRecord, finalize: true });
    const id = created.json<{ data: { record_id: string } }>().data.record_id;
    expect((await post(`/admin/records/tnt_xyz789/${id}/refund`, { reason: 'x' })).statusCode).toBe(409);
    expect((await post(`/admin/records/tnt_xyz789/${id}/mark-failed`, { reason: 'card declined' })).statusCode).toBe(
      200,
    );
    expect((await post(`/admin/records/tnt_xyz789/${id}/mark-failed`)).statusCode).toBe(409);
    expect((await post(`/admin/records/tnt_xyz789/${id}/retry`)).statusCode).toBe(200);
    t.clock.set('2026-04-03T00:00:00Z');
    expect((await post(`/admin/records/tnt_xyz789/${id}/mark-paid`)).statusCode).toBe(200);
    const refunded = await post(`/admin/records/tnt_xyz789/${id}/refund`, { reason: 'customer request' });
    expect(refunded.statusCode).toBe(200);
    const conflict = await post(`/admin/records/tnt_xyz789/${id}/mark-paid`);
    expect(conflict.statusCode).toBe(409);
    expect(conflict.json<{ message: string }>().message).toContain('its status is refunded');
    const history = refunded.json<{ data: { status_history: unknown[] } }>().data.status_history;
    expect(history).toEqual([
      {
        from_status: null,
        to_status: 'draft',
        actor: 'usr_platform',
        reason: null,
        occurred_at: '2026-04-02T00:00:00Z',
      },
      {
        from_status: 'draft',
        to_status: 'pending',
        actor: 'usr_platform',
        reason: null,
        occurred_at: '2026-04-02T00:00:00Z',
      },
      {
        from_status: 'pending',
        to_status: 'failed',
        actor: 'usr_platform',
        reason: 'card declined',
        occurred_at: '2026-04-02T00:00:00Z',
      },
      {
        from_status: 'failed',
        to_status: 'pending',
        actor: 'usr_platform',
        reason: null,
        occurred_at: '2026-04-02T00:00:00Z',
      },
      {
        from_status: 'pending',
        to_status: 'paid',
        actor: 'usr_platform',
        reason: null,
        occurred_at: '2026-04-03T00:00:00Z',
      },
      {
        from_status: 'paid',
        to_status: 'refunded',
        actor: 'usr_platform',
        reason: 'customer request',
        occurred_at: '2026-04-03T00:00:00Z',
      },
    ]);
  });
});
