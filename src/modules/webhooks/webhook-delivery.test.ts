import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { defaultPoolConfig, openDatabase, type DatabaseHandle } from '../../db/database.js';
import { asTenantAdmin } from '../../testing/api.js';
import { eventsOf, onlyEvent } from '../../testing/billing-events.js';
import { expectData } from '../../testing/envelopes.js';
import {
  billingRun,
  givenCredit,
  givenPlan,
  givenSubscription,
  givenTenant,
  givenWebhookEndpoint,
  webhookDeliveriesOf,
  webhookEndpointsUrl,
} from '../../testing/fixtures.js';
import { createTestApp, type TestApp } from '../../testing/test-app.js';
import type { WebhookDeliveryView, WebhookEndpointView } from '../../testing/views.js';
import { startWebhookReceiver, type ReceivedWebhook, type WebhookReceiver } from '../../testing/webhook-receiver.js';
import { recordEvents } from '../events/record-event.js';
import { deliverDueWebhooks, leaseFrom, leaseMs, type WebhookDelivery } from './deliver-webhooks.js';
import { startWebhookWorker } from './delivery-worker.js';
import { claimDueDeliveries } from './repository.js';
import { retryWindowMs } from './retry-schedule.js';
import { createWebhookSender, type WebhookSender } from './send-webhook.js';

/*
 * Delivery to a real receiver on 127.0.0.1, which checks every signature with the
 * `standardwebhooks` package. Deliveries are made the way the worker makes them
 * (deliverDueWebhooks), with the test's clock; each test has tenants, endpoints and receiver
 * paths of its own.
 */

const withServer = process.env.DATABASE_URL !== undefined && process.env.DATABASE_URL !== '';
let t: TestApp;
let receiver: WebhookReceiver;
let tenantSeq = 0;
const sendAnywhere: WebhookSender = createWebhookSender({ allowInternalAddresses: true });

beforeAll(async () => {
  t = await createTestApp();
  receiver = await startWebhookReceiver(t.clock);
});
afterAll(async () => {
  await receiver.close();
  await t.close();
});

const delivery = (send = sendAnywhere, db = t.database.db): WebhookDelivery => ({ db, clock: t.clock, send });
const deliver = (send = sendAnywhere) => deliverDueWebhooks(delivery(send));

const givenFreshTenant = async (): Promise<string> => {
  const tenantId = `tnt_deliver_${++tenantSeq}`;
  await givenTenant(t, tenantId);
  return tenantId;
};

/** An endpoint whose receiver path verifies with its secret. */
const givenReceivingEndpoint = async (
  tenantId: string | null,
  event_types?: string[],
): Promise<WebhookEndpointView & { secret: string; path: string }> => {
  const path = `/hooks/${tenantId ?? 'platform'}/${receiver.secrets.size + 1}`;
  const endpoint = await givenWebhookEndpoint(t, tenantId, {
    url: receiver.url(path),
    ...(event_types === undefined ? {} : { event_types }),
  });
  receiver.secrets.set(path, [endpoint.secret]);
  return { ...endpoint, path };
};

const receivedAt = (path: string): ReceivedWebhook[] => receiver.received.filter((hook) => hook.path === path);
const onlyDelivery = async (tenantId: string | null, endpointId: string): Promise<WebhookDeliveryView> => {
  const deliveries = await webhookDeliveriesOf(t, tenantId, endpointId);
  expect(deliveries).toHaveLength(1);
  return deliveries[0]!;
};

describe('fan-out', () => {
  it('a request-path change reaches the endpoints that asked for it, signed, with the event as the API shows it', async () => {
    const tenantId = await givenFreshTenant();
    const otherTenant = await givenFreshTenant();
    const all = await givenReceivingEndpoint(tenantId);
    const tenantOnly = await givenReceivingEndpoint(tenantId, ['tenant.*']);
    const credits = await givenReceivingEndpoint(tenantId, ['credit_transaction.created']);
    const platform = await givenReceivingEndpoint(null, ['credit_transaction.*']);
    const others = await givenReceivingEndpoint(otherTenant);

    await givenCredit(t, tenantId, { amount: 5 });
    const event = await onlyEvent(t, tenantId, 'credit_transaction.created');
    expect(await webhookDeliveriesOf(t, tenantId, tenantOnly.id)).toEqual([]);
    expect(await webhookDeliveriesOf(t, otherTenant, others.id)).toEqual([]);
    const pending = await onlyDelivery(tenantId, all.id);
    expect(pending).toMatchObject({ event_id: event.id, event_type: event.type, status: 'pending', attempts: [] });

    t.clock.advance(2000);
    await deliver();
    for (const endpoint of [all, credits, platform]) {
      const [hook, ...more] = receivedAt(endpoint.path);
      expect(more).toEqual([]);
      expect(hook!.verifiedWith).toEqual([endpoint.secret]);
      expect(hook!.headers['webhook-id']).toBe(event.id);
      expect(hook!.headers['webhook-timestamp']).toBe(String(Math.floor(t.clock.now().getTime() / 1000)));
      expect(hook!.headers['content-type']).toBe('application/json');
      const { app_id: _appId, ...withoutApp } = event;
      expect(JSON.parse(hook!.body)).toEqual(withoutApp);
    }
    expect(receivedAt(tenantOnly.path)).toEqual([]);
    expect(receivedAt(others.path)).toEqual([]);
    const delivered = await onlyDelivery(tenantId, all.id);
    expect(delivered).toMatchObject({ status: 'delivered', attempt_count: 1, next_attempt_at: null });
    expect(delivered.attempts).toEqual([
      expect.objectContaining({
        attempt: 1,
        kind: 'scheduled',
        http_status: 200,
        error: null,
        response_body: 'answer 200',
      }),
    ]);
    // Delivered is delivered.
    expect(await deliver()).toMatchObject({ delivered: 0, pending: 0, failed: 0 });
    // The platform endpoint's delivery is under the platform's routes.
    expect((await onlyDelivery(null, platform.id)).status).toBe('delivered');
    await asTenantAdmin(t, tenantId).delete(`${webhookEndpointsUrl(tenantId)}/${tenantOnly.id}`);
  });

  it('a billing run batch writes the deliveries of its events, as the request path does', async () => {
    const tenantId = await givenFreshTenant();
    const endpoint = await givenReceivingEndpoint(tenantId, ['subscription.*', 'billing_record.paid']);
    await givenPlan(t, `plan_${tenantId}`);
    t.clock.set('2026-03-01T00:00:00Z');
    await givenSubscription(t, tenantId, {
      plan_id: `plan_${tenantId}`,
      payment_method: 'sandbox_success',
      trial: false,
    });
    t.clock.set('2026-04-01T00:00:00Z');
    await billingRun(t, '2026-04-01T00:00:00Z');
    const wanted = [
      ...(await eventsOf(t, tenantId, 'subscription.*')),
      ...(await eventsOf(t, tenantId, 'billing_record.paid')),
    ];
    expect(wanted.map((event) => event.type)).toEqual(
      expect.arrayContaining(['subscription.created', 'subscription.renewed', 'billing_record.paid']),
    );
    const deliveries = await webhookDeliveriesOf(t, tenantId, endpoint.id);
    expect(deliveries.map((one) => one.event_id).sort()).toEqual(wanted.map((event) => event.id).sort());
    await deliver();
    expect(
      receivedAt(endpoint.path)
        .map((hook) => hook.headers['webhook-id'])
        .sort(),
    ).toEqual(wanted.map((event) => event.id).sort());
    expect(receivedAt(endpoint.path).every((hook) => hook.verifiedWith.length === 1)).toBe(true);
  });

  it('a change that rolls back leaves no delivery', async () => {
    const tenantId = await givenFreshTenant();
    const endpoint = await givenReceivingEndpoint(tenantId);
    await expect(
      t.database.db.transaction().execute(async (trx) => {
        await recordEvents(trx, { tenantId }, [{ type: 'tenant.updated', at: t.clock.now(), data: { name: 'x' } }]);
        throw new Error('the change failed after its event');
      }),
    ).rejects.toThrow('the change failed');
    expect(await eventsOf(t, tenantId)).toEqual([]);
    expect(await webhookDeliveriesOf(t, tenantId, endpoint.id)).toEqual([]);
  });
});

describe('retries', () => {
  it('a receiver answering 500 then 200 sees the same webhook-id twice; the log shows both attempts', async () => {
    const tenantId = await givenFreshTenant();
    const endpoint = await givenReceivingEndpoint(tenantId);
    await givenCredit(t, tenantId, { amount: 1 });
    receiver.answers.set(endpoint.path, [500]);
    const first = t.clock.now();
    await deliver();
    const waiting = await onlyDelivery(tenantId, endpoint.id);
    expect(waiting).toMatchObject({ status: 'pending', attempt_count: 1 });
    expect(waiting.next_attempt_at).toBe(new Date(first.getTime() + 5000).toISOString().replace('.000', ''));
    expect(
      expectData<WebhookEndpointView>(
        await asTenantAdmin(t, tenantId).get(`${webhookEndpointsUrl(tenantId)}/${endpoint.id}`),
      ).failing_since,
    ).not.toBeNull();

    t.clock.advance(4000);
    await deliver();
    expect(receivedAt(endpoint.path)).toHaveLength(1);
    t.clock.advance(1000);
    await deliver();
    const hooks = receivedAt(endpoint.path);
    expect(hooks.map((hook) => hook.headers['webhook-id'])).toEqual([waiting.event_id, waiting.event_id]);
    expect(hooks.every((hook) => hook.verifiedWith.length === 1)).toBe(true);
    const done = await onlyDelivery(tenantId, endpoint.id);
    expect(done).toMatchObject({ status: 'delivered', attempt_count: 2 });
    expect(done.attempts.map((attempt) => [attempt.attempt, attempt.http_status, attempt.error])).toEqual([
      [1, 500, 'answered 500'],
      [2, 200, null],
    ]);
    expect(done.attempts[0]!.response_body).toBe('answer 500');
    expect(
      expectData<WebhookEndpointView>(
        await asTenantAdmin(t, tenantId).get(`${webhookEndpointsUrl(tenantId)}/${endpoint.id}`),
      ).failing_since,
    ).toBeNull();
  });

  it('a delivery claimed by a process that died is delivered again, with the same id, once its lease ends', async () => {
    const tenantId = await givenFreshTenant();
    const endpoint = await givenReceivingEndpoint(tenantId);
    await givenCredit(t, tenantId, { amount: 1 });
    const now = t.clock.now();
    // The dead process: it claimed, and never sent or recorded anything.
    const claimed = await claimDueDeliveries(t.database.db, { now, leaseUntil: leaseFrom(now), limit: 100 });
    expect(claimed.map((one) => one.endpoint_id)).toContain(endpoint.id);
    await deliver();
    expect(receivedAt(endpoint.path)).toEqual([]);

    t.clock.advance(leaseMs);
    await deliver();
    const [hook, ...more] = receivedAt(endpoint.path);
    expect(more).toEqual([]);
    const done = await onlyDelivery(tenantId, endpoint.id);
    expect(hook!.headers['webhook-id']).toBe(done.event_id);
    // Attempt 1 was claimed and lost: the log has a gap there.
    expect(done).toMatchObject({ status: 'delivered', attempt_count: 2 });
    expect(done.attempts.map((attempt) => attempt.attempt)).toEqual([2]);
  });

  it('disables an endpoint after 72 h of nothing but failures, and tells the tenant', async () => {
    const tenantId = await givenFreshTenant();
    const endpoint = await givenReceivingEndpoint(tenantId, ['credit_transaction.*']);
    const watcher = await givenReceivingEndpoint(tenantId, ['webhook_endpoint.disabled']);
    await givenCredit(t, tenantId, { amount: 1 });
    const first = t.clock.now().getTime();
    const failing: WebhookSender = (request) =>
      request.url === endpoint.url
        ? Promise.resolve({ ok: false, httpStatus: 503, error: 'answered 503', responseBody: '' })
        : sendAnywhere(request);
    for (;;) {
      await deliver(failing);
      const state = await onlyDelivery(tenantId, endpoint.id);
      if (state.status !== 'pending') break;
      t.clock.set(state.next_attempt_at!);
    }
    const failed = await onlyDelivery(tenantId, endpoint.id);
    expect(failed.status).toBe('failed');
    // 0, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 14 h, 14 h, then the last exactly at 72 h.
    expect(failed.attempt_count).toBe(11);
    expect(Date.parse(failed.attempts.at(-1)!.started_at) - first).toBe(retryWindowMs);
    const disabled = expectData<WebhookEndpointView>(
      await asTenantAdmin(t, tenantId).get(`${webhookEndpointsUrl(tenantId)}/${endpoint.id}`),
    );
    expect(disabled).toMatchObject({ enabled: false, disabled_reason: 'failing' });
    const told = await onlyEvent(t, tenantId, 'webhook_endpoint.disabled');
    expect(told.data).toEqual(disabled);
    // The other endpoint hears of it; the disabled one gets nothing more.
    await deliver();
    const { app_id: _appId, ...toldWithoutApp } = told;
    expect(receivedAt(watcher.path).map((hook) => JSON.parse(hook.body) as unknown)).toEqual([toldWithoutApp]);
    await givenCredit(t, tenantId, { amount: 1 });
    expect(await webhookDeliveriesOf(t, tenantId, endpoint.id)).toHaveLength(1);
  });
});

describe('secrets and addresses', () => {
  it('after a rotation signs with both secrets for 24 h, then with the new one only', async () => {
    const tenantId = await givenFreshTenant();
    const endpoint = await givenReceivingEndpoint(tenantId);
    const rotated = expectData<WebhookEndpointView>(
      await asTenantAdmin(t, tenantId).post(`${webhookEndpointsUrl(tenantId)}/${endpoint.id}/rotate-secret`),
    );
    receiver.secrets.set(endpoint.path, [endpoint.secret, rotated.secret!]);
    await givenCredit(t, tenantId, { amount: 1 });
    await deliver();
    t.clock.advance(24 * 3_600_000);
    await givenCredit(t, tenantId, { amount: 2 });
    await deliver();
    const [during, after] = receivedAt(endpoint.path);
    expect(during!.verifiedWith).toEqual([endpoint.secret, rotated.secret]);
    expect(String(during!.headers['webhook-signature']).split(' ')).toHaveLength(2);
    expect(after!.verifiedWith).toEqual([rotated.secret]);
  });

  it('refuses at delivery a host name that resolves to an internal address, naming it in the log', async () => {
    const tenantId = await givenFreshTenant();
    const path = '/hooks/by-name';
    const endpoint = await givenWebhookEndpoint(t, tenantId, {
      url: receiver.url(path).replace('127.0.0.1', 'localhost'),
    });
    await givenCredit(t, tenantId, { amount: 1 });
    await deliver(createWebhookSender({ allowInternalAddresses: false }));
    expect(receivedAt(path)).toEqual([]);
    const refused = await onlyDelivery(tenantId, endpoint.id);
    expect(refused.status).toBe('pending');
    expect(refused.attempts[0]).toMatchObject({ http_status: null, response_body: null });
    expect(refused.attempts[0]!.error).toMatch(
      /^localhost resolves to (127\.0\.0\.1|::1), which is an internal address/,
    );
    // The same delivery goes where internal addresses are allowed.
    t.clock.advance(5000);
    await deliver();
    expect(receivedAt(path)).toHaveLength(1);
  });
});

describe('test pings and resends', () => {
  it('pings one endpoint now, and resends a delivery with the same webhook-id', async () => {
    const tenantId = await givenFreshTenant();
    const endpoint = await givenReceivingEndpoint(tenantId, ['tenant.updated']);
    const sibling = await givenReceivingEndpoint(tenantId);
    const admin = asTenantAdmin(t, tenantId);
    const url = `${webhookEndpointsUrl(tenantId)}/${endpoint.id}`;
    const ping = expectData<WebhookDeliveryView>(await admin.post(`${url}/test`));
    expect(ping).toMatchObject({ event_type: 'webhook_endpoint.test', status: 'delivered', attempt_count: 1 });
    expect(ping.attempts).toEqual([expect.objectContaining({ attempt: 1, kind: 'test', http_status: 200 })]);
    const [hook] = receivedAt(endpoint.path);
    expect(hook!.verifiedWith).toEqual([endpoint.secret]);
    expect(JSON.parse(hook!.body)).toEqual({
      id: ping.event_id,
      type: 'webhook_endpoint.test',
      created_at: expect.any(String) as string,
      tenant_id: tenantId,
      data: { endpoint_id: endpoint.id, url: endpoint.url },
    });
    expect(receivedAt(sibling.path)).toEqual([]);

    const resent = expectData<WebhookDeliveryView>(await admin.post(`${url}/deliveries/${ping.id}/resend`));
    expect(resent.attempts.map((attempt) => [attempt.attempt, attempt.kind])).toEqual([
      [1, 'test'],
      [2, 'resend'],
    ]);
    expect(receivedAt(endpoint.path).map((one) => one.headers['webhook-id'])).toEqual([ping.event_id, ping.event_id]);
    // Filters of the log.
    const byStatus = await admin.get(`${url}/deliveries?status=failed`);
    expect(byStatus.json<{ total: number }>().total).toBe(0);
    const byEvent = await admin.get(`${url}/deliveries?event_id=${ping.event_id}`);
    expect(byEvent.json<{ total: number }>().total).toBe(1);
    const unknown = await admin.post(`${url}/deliveries/whd_${'0'.repeat(32)}/resend`);
    expect(unknown.statusCode, unknown.body).toBe(404);
    const viewer = await t.app.inject({
      method: 'POST',
      url: `${url}/deliveries/${ping.id}/resend`,
      headers: await t.as.tenant(tenantId, 'tenant_viewer'),
    });
    expect(viewer.statusCode).toBe(403);
  });
});

describe('workers', () => {
  const replicas: DatabaseHandle[] = [];
  afterEach(async () => {
    for (const replica of replicas.splice(0)) await replica.close();
  });

  it('two delivery loops on one database send each event to each endpoint once', async () => {
    const tenantId = await givenFreshTenant();
    const endpoints = [await givenReceivingEndpoint(tenantId), await givenReceivingEndpoint(tenantId)];
    for (let i = 1; i <= 6; i += 1) await givenCredit(t, tenantId, { amount: i });
    const dbs = [t.database.db, t.database.db];
    if (withServer) {
      for (let i = 0; i < 2; i += 1) {
        replicas.push(await openDatabase({ kind: 'server', url: t.database.url!, pool: defaultPoolConfig }));
      }
      dbs.splice(0, 2, ...replicas.map((replica) => replica.db));
    }
    receiver.delayMs = 20;
    try {
      await Promise.all(dbs.map((db) => deliverDueWebhooks(delivery(sendAnywhere, db))));
    } finally {
      receiver.delayMs = 0;
    }
    const eventIds = (await eventsOf(t, tenantId)).map((event) => event.id).sort();
    expect(eventIds).toHaveLength(6);
    for (const endpoint of endpoints) {
      expect(
        receivedAt(endpoint.path)
          .map((hook) => hook.headers['webhook-id'])
          .sort(),
      ).toEqual(eventIds);
      const log = await webhookDeliveriesOf(t, tenantId, endpoint.id);
      expect(log.map((one) => [one.status, one.attempt_count])).toEqual(log.map(() => ['delivered', 1]));
    }
  });

  it('the worker delivers within a second of the commit, woken by the notification', async () => {
    const tenantId = await givenFreshTenant();
    const endpoint = await givenReceivingEndpoint(tenantId);
    // Nothing but the notification can wake it in time: its idle look is a minute away.
    const worker = await startWebhookWorker({ ...delivery(), database: t.database, log: t.app.log, idleMs: 60_000 });
    try {
      await new Promise((resolve) => setTimeout(resolve, 300));
      const committed = performance.now();
      await givenCredit(t, tenantId, { amount: 1 });
      while (receivedAt(endpoint.path).length === 0 && performance.now() - committed < 5000) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      expect(receivedAt(endpoint.path)).toHaveLength(1);
      expect(performance.now() - committed).toBeLessThan(1000);
    } finally {
      await worker.stop();
    }
  });
});
