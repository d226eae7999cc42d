import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { eventsOf, eventTypesOf, onlyEvent } from '../../testing/billing-events.js';
import { givenApiKey, givenApp, givenTenant } from '../../testing/fixtures.js';
import { createTestApp, testStart, type TestApp } from '../../testing/test-app.js';
import { settlePayg } from '../payg/settle-payg.js';

let t: TestApp;
let keySeq = 0;
let usageSeq = 0;

beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t.close());
beforeEach(() => t.clock.set(testStart));

const expectOk = (response: LightMyRequestResponse, status = 200): Record<string, unknown> => {
  expect(response.statusCode, response.body).toBe(status);
  return response.json<{ data: Record<string, unknown> }>().data;
};

const ingest = async (tenantId: string, appId: string, resourceType: string, quantity: number) => {
  const response = await t.app.inject({
    method: 'POST',
    url: '/billing/usage/events',
    headers: await t.as.service(),
    payload: {
      events: [
        {
          event_id: `evt_other_events_${++usageSeq}`,
          tenant_id: tenantId,
          app_id: appId,
          resource_type: resourceType,
          quantity,
          timestamp: t.clock.now().toISOString(),
        },
      ],
    },
  });
  expect(response.statusCode, response.body).toBe(200);
};

describe('tenant.updated', () => {
  it('a change by an admin or by the platform sync is told with the tenant as the API answered', async () => {
    await givenTenant(t, 'tnt_other_updated');
    expect(await eventsOf(t, 'tnt_other_updated')).toEqual([]);
    const patched = expectOk(
      await t.app.inject({
        method: 'PATCH',
        url: '/admin/tenants/tnt_other_updated',
        headers: await t.as.platformAdmin(),
        payload: { name: 'Renamed', tax_rate: 0.09 },
      }),
    );
    expect((await onlyEvent(t, 'tnt_other_updated', 'tenant.updated')).data).toEqual(patched);

    t.clock.advance(1000);
    const synced = expectOk(
      await t.app.inject({
        method: 'PUT',
        url: '/internal/billing/tenants/tnt_other_updated',
        headers: await t.as.service(),
        payload: { name: 'Synced', admin_user_id: 'usr_admin_of_tnt_other_updated' },
      }),
    );
    const events = await eventsOf(t, 'tnt_other_updated', 'tenant.updated');
    expect(events.map((event) => event.data)).toEqual([patched, synced]);

    // A refused change (the currency, once there is money in another) tells nothing.
    expectOk(
      await t.app.inject({
        method: 'POST',
        url: '/admin/credits/tnt_other_updated/promo',
        headers: { ...(await t.as.platformAdmin()), 'idempotency-key': `other-${++keySeq}` },
        payload: { amount: 1 },
      }),
      201,
    );
    const before = await eventsOf(t, 'tnt_other_updated');
    const refused = await t.app.inject({
      method: 'PATCH',
      url: '/admin/tenants/tnt_other_updated',
      headers: await t.as.platformAdmin(),
      payload: { currency: 'USD' },
    });
    expect(refused.statusCode, refused.body).toBe(409);
    expect(await eventsOf(t, 'tnt_other_updated')).toEqual(before);
  });
});

describe('usage_alert.triggered', () => {
  it('fires once per period, with the alert as the API shows it', async () => {
    const tenantId = 'tnt_other_alerts';
    const appId = 'app_other_alerts';
    await givenTenant(t, tenantId, { time_zone: 'UTC' });
    await givenApp(t, tenantId, appId);
    expectOk(
      await t.app.inject({
        method: 'POST',
        url: '/admin/plans',
        headers: await t.as.platformAdmin(),
        payload: {
          plan_id: 'metered_events',
          name: 'Metered',
          currency: 'CNY',
          monthly_price: 99,
          resources: [{ resource_type: 'api_calls', included_units: 1000, overage_unit_price: '0.001' }],
        },
      }),
      201,
    );
    expectOk(
      await t.app.inject({
        method: 'POST',
        url: `/billing/subscriptions/${tenantId}`,
        headers: { ...(await t.as.tenant(tenantId)), 'idempotency-key': `other-${++keySeq}` },
        payload: { plan_id: 'metered_events', billing_cycle: 'monthly', payment_method: 'sandbox_success' },
      }),
      201,
    );
    const alert = expectOk(
      await t.app.inject({
        method: 'POST',
        url: `/billing/usage-alerts/${tenantId}`,
        headers: await t.as.tenant(tenantId),
        payload: {
          name: 'API calls at 80%',
          resource_type: 'api_calls',
          threshold_percent: 80,
          app_id: appId,
          notification_channels: 'in_app',
        },
      }),
      201,
    );
    t.clock.set('2026-01-02T10:00:00Z');
    await ingest(tenantId, appId, 'api_calls', 700);
    expect(await eventsOf(t, tenantId, 'usage_alert.*')).toEqual([]);
    t.clock.set('2026-01-02T11:00:00Z');
    await ingest(tenantId, appId, 'api_calls', 200);
    await ingest(tenantId, appId, 'api_calls', 50);
    const triggered = await onlyEvent(t, tenantId, 'usage_alert.triggered');
    const read = expectOk(
      await t.app.inject({
        url: `/billing/usage-alerts/${tenantId}/${alert.id as string}`,
        headers: await t.as.tenant(tenantId),
      }),
    );
    expect(triggered.data).toEqual(read);
    expect(triggered).toMatchObject({ app_id: appId, created_at: '2026-01-02T11:00:00Z' });
    expect(read.last_triggered_at).toBe('2026-01-02T11:00:00Z');
  });
});

describe('payg.day_settled', () => {
  it('a settled day with consumption is told once, its lines as the detail list shows them; an empty day is not', async () => {
    const tenantId = 'tnt_other_payg';
    const appId = 'app_other_payg';
    await givenTenant(t, tenantId, { time_zone: 'UTC' });
    await givenApp(t, tenantId, appId);
    expectOk(
      await t.app.inject({
        method: 'POST',
        url: '/admin/payg/products',
        headers: await t.as.platformAdmin(),
        payload: { billing_key: 'pg_events_seats', display_name: 'Seats', unit_price: '0.5' },
      }),
      201,
    );
    expectOk(
      await t.app.inject({
        method: 'POST',
        url: `/admin/credits/${tenantId}/promo`,
        headers: { ...(await t.as.platformAdmin()), 'idempotency-key': `other-${++keySeq}` },
        payload: { amount: 3 },
      }),
      201,
    );
    t.clock.set('2026-01-01T12:00:00Z');
    await ingest(tenantId, appId, 'pg_events_seats', 10);
    t.clock.set('2026-01-03T00:30:00Z');
    const summary = await settlePayg(t.database.db, t.clock);
    expect(summary.failures).toEqual([]);
    const settled = await onlyEvent(t, tenantId, 'payg.day_settled');
    const key = await givenApiKey(t, tenantId);
    const detail = await t.app.inject({
      url: '/api/v1/billing/detail/list?startDate=20260101&endDate=20260102',
      headers: { 'df-api-key': key.key },
    });
    expect(detail.statusCode, detail.body).toBe(200);
    const owed = await eventsOf(t, tenantId, 'billing_record.finalized');
    expect(settled).toMatchObject({ created_at: '2026-01-02T00:00:00Z', app_id: null });
    expect(settled.data).toEqual({
      settled_day: '2026-01-01',
      record_id: owed[0]?.data.record_id,
      lines: detail.json<{ content: unknown[] }>().content,
    });
    // Cash paid 3 of the 5: the deduction is a credit transaction, the rest an invoice, all at the day's end.
    expect(await eventTypesOf(t, tenantId)).toEqual([
      'credit_transaction.created',
      'credit_transaction.created',
      'billing_record.finalized',
      'payg.day_settled',
    ]);
    const [, deduction] = await eventsOf(t, tenantId, 'credit_transaction.created');
    expect(deduction?.data).toMatchObject({ type: 'debit', source: 'payg_deduction', amount: 3, balance: 0 });
  });
});

describe('compliance_export.completed', () => {
  it("is told to each exported tenant, naming only that tenant, in the audit log's transaction", async () => {
    await givenTenant(t, 'tnt_other_export_a', { admin_user_id: 'usr_exported' });
    await givenTenant(t, 'tnt_other_export_b', { admin_user_id: 'usr_exported' });
    t.clock.set('2026-01-05T00:00:00Z');
    const response = await t.app.inject({
      method: 'POST',
      url: '/internal/billing/export-user-data',
      headers: await t.as.service(),
      payload: { user_id: 'usr_exported' },
    });
    expect(response.statusCode, response.body).toBe(200);
    const audit = await t.database.db
      .selectFrom('export_audit_log')
      .select(['id', 'occurred_at'])
      .where('event', '=', 'completed')
      .where('user_id', '=', 'usr_exported')
      .executeTakeFirstOrThrow();
    for (const tenantId of ['tnt_other_export_a', 'tnt_other_export_b']) {
      const completed = await onlyEvent(t, tenantId, 'compliance_export.completed');
      expect(completed.data).toEqual({
        id: audit.id,
        user_id: 'usr_exported',
        tenant_id: tenantId,
        completed_at: '2026-01-05T00:00:00Z',
      });
    }
  });
});
