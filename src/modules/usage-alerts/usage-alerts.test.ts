import type { LightMyRequestResponse } from 'fastify';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { defaultPoolConfig, openDatabase, type DatabaseHandle } from '../../db/database.js';
import { api } from '../../testing/api.js';
import { comparable, expectData, expectError, expectInvalid, expectList } from '../../testing/envelopes.js';
import {
  alertBasics,
  givenAlert,
  givenPlan,
  givenSubscription,
  givenTenantWithApps,
  givenUsage,
  notificationsOf,
} from '../../testing/fixtures.js';
import { createTestApp, type TestApp } from '../../testing/test-app.js';
import type { AlertView, ListBody } from '../../testing/views.js';
import { evaluateAlerts } from './evaluate-alerts.js';

/*
 * Usage alerts over the HTTP API: the alert resource (create, list, get, change, disable), its
 * validation and access rules, and evaluation — the alert fires once per period when ingested
 * usage reaches its share of the plan's included units, also when many evaluations race.
 * Most tests share one app with a tenant of their own; tests that move the clock across a
 * period end (the billing run is global) get an app of their own.
 */

type Headers = Record<string, string>;

const alertIdShape = /^ua_[a-z0-9]{16}$/;
const secretShape = /^whsec_[A-Za-z0-9+/]{32}$/;
/** Where the shared app's clock stands unless a test moves it. */
const now = '2026-01-10T12:00:00Z';
const withoutServer = !process.env.DATABASE_URL;

let t: TestApp;
let tenantSeq = 0;

beforeAll(async () => {
  t = await createTestApp();
  await givenPlans(t);
});
afterAll(() => t.close());
beforeEach(() => {
  t.clock.set(now);
});

// ---------------------------------------------------------------- setup through the API

/** 1,000 api_calls and 100 storage_used included; nothing else (so bandwidth_used has 0 units). */
const givenPlans = (on: TestApp) =>
  givenPlan(on, 'metered', {
    name: 'Metered',
    resources: [
      { resource_type: 'api_calls', included_units: 1000, overage_unit_price: '0.001' },
      { resource_type: 'storage_used', included_units: 100, overage_unit_price: '0.01' },
    ],
  });

/** A tenant of its own (UTC, so days are easy to read) with two apps. */
const givenAlertTenant = async (on: TestApp = t) => {
  const n = ++tenantSeq;
  const tenantId = `tnt_alerts_${n}`;
  const appId = `app_alerts_${n}_a`;
  const otherAppId = `app_alerts_${n}_b`;
  await givenTenantWithApps(on, tenantId, [appId, otherAppId], { time_zone: 'UTC' });
  return { tenantId, appId, otherAppId };
};

/** A tenant with a paid monthly subscription to the metered plan, starting now. */
const givenSubscribedTenant = async (on: TestApp = t) => {
  const tenant = await givenAlertTenant(on);
  const period = await givenSubscription(on, tenant.tenantId, {
    plan_id: 'metered',
    payment_method: 'sandbox_success',
    trial: false,
  });
  return { ...tenant, period };
};

/** Ingests `quantity` of a resource for the app at the clock's time; every event must be accepted. */
const ingest = ({
  tenantId,
  appId,
  quantity,
  resourceType = 'api_calls',
  on = t,
}: {
  tenantId: string;
  appId: string;
  quantity: number;
  resourceType?: string | undefined;
  on?: TestApp | undefined;
}) => givenUsage(on, { tenantId, appId, resourceType, quantity });

// ---------------------------------------------------------------- the alert API

const alertsUrl = (tenantId: string, alertId?: string) =>
  `/billing/usage-alerts/${tenantId}${alertId === undefined ? '' : `/${alertId}`}`;

/** As the tenant's admin (or viewer) unless other headers are given. */
const caller = (
  on: TestApp,
  tenantId: string,
  headers?: Headers,
  role: 'tenant_admin' | 'tenant_viewer' = 'tenant_admin',
) => api(on).as(headers === undefined ? { role, tenant: tenantId } : { headers });

const postAlert = (tenantId: string, payload: Record<string, unknown>, headers?: Headers, on: TestApp = t) =>
  caller(on, tenantId, headers).post(alertsUrl(tenantId), payload);

const patchAlert = (tenantId: string, alertId: string, payload: Record<string, unknown>, headers?: Headers) =>
  caller(t, tenantId, headers).patch(alertsUrl(tenantId, alertId), payload);

const deleteAlert = (tenantId: string, alertId: string, headers?: Headers, on: TestApp = t) =>
  caller(on, tenantId, headers).delete(alertsUrl(tenantId, alertId));

const getAlertResponse = (tenantId: string, alertId: string, headers?: Headers, on: TestApp = t) =>
  caller(on, tenantId, headers, 'tenant_viewer').get(alertsUrl(tenantId, alertId));

const listAlertsResponse = (tenantId: string, query = '', headers?: Headers) =>
  caller(t, tenantId, headers, 'tenant_viewer').get(`${alertsUrl(tenantId)}${query}`);

const expectAlert = (response: LightMyRequestResponse, status = 200): AlertView =>
  expectData<AlertView>(response, status);

const getAlert = async (tenantId: string, alertId: string, on: TestApp = t) =>
  expectAlert(await getAlertResponse(tenantId, alertId, undefined, on));

const listAlerts = async (tenantId: string, query = ''): Promise<ListBody<AlertView>> =>
  expectList<AlertView>(await listAlertsResponse(tenantId, query));

// ---------------------------------------------------------------- what evaluation left behind

const firingsOf = (tenantId: string, on: TestApp = t) =>
  on.database.db
    .selectFrom('usage_alert_firings')
    .selectAll()
    .where('tenant_id', '=', tenantId)
    .orderBy('period_start')
    .execute();

const outboxOf = (tenantId: string, on: TestApp = t) =>
  on.database.db
    .selectFrom('notification_outbox')
    .selectAll()
    .where('tenant_id', '=', tenantId)
    .orderBy('channel')
    .orderBy('created_at')
    .execute();

/** How many times each alert fired, with the notification and outbox rows that came with it. */
const fallout = async (tenantId: string, on: TestApp = t) => ({
  firings: (await firingsOf(tenantId, on)).length,
  notifications: (await notificationsOf(on, tenantId)).length,
  outbox: (await outboxOf(tenantId, on)).map((row) => row.channel),
});

const nothingFired = { firings: 0, notifications: 0, outbox: [] };

// ================================================================ the API

describe('creating an alert', () => {
  it('answers 201 with every UsageAlertResponse field, the webhook secret included', async () => {
    const { tenantId, appId } = await givenAlertTenant();
    const response = await postAlert(tenantId, {
      name: 'API calls of the app',
      resource_type: 'api_calls',
      threshold_percent: 80,
      app_id: appId,
      notification_channels: 'email,in_app,webhook',
      email_recipients: 'ops@example.com',
      webhook_url: 'https://hooks.example.com/billing',
    });
    const alert = expectAlert(response, 201);
    expect(alert).toEqual({
      app_id: appId,
      created_at: now,
      id: expect.stringMatching(alertIdShape) as string,
      last_triggered_at: null,
      name: 'API calls of the app',
      notification_channels: 'email,in_app,webhook',
      resource_type: 'api_calls',
      status: 'active',
      tenant_id: tenantId,
      threshold_percent: 80,
      updated_at: now,
      email_recipients: 'ops@example.com',
      webhook_url: 'https://hooks.example.com/billing',
      webhook_secret: expect.stringMatching(secretShape) as string,
    });
    // The secret is 24 random bytes: a second webhook gets another.
    const other = await givenAlert(t, tenantId, {
      notification_channels: 'webhook',
      webhook_url: 'https://hooks.example.com/billing',
    });
    expect(Buffer.from(other.webhook_secret!.slice('whsec_'.length), 'base64')).toHaveLength(24);
    expect(other.webhook_secret).not.toBe(alert.webhook_secret);

    // Reads never show the secret, not even to the tenant's admin.
    const read = await getAlert(tenantId, alert.id);
    expect(read).toEqual({ ...alert, webhook_secret: null });
    const admin = expectAlert(await getAlertResponse(tenantId, alert.id, await t.as.tenant(tenantId)));
    expect(admin.webhook_secret).toBeNull();
    const listed = await listAlerts(tenantId);
    expect(listed.items.map((item) => item.webhook_secret)).toEqual([null, null]);
  });

  it('keeps the tenant-wide scope when app_id is absent and has no secret without a webhook', async () => {
    const { tenantId } = await givenAlertTenant();
    const alert = await givenAlert(t, tenantId, { threshold_percent: 1000 });
    expect(alert).toMatchObject({
      app_id: null,
      threshold_percent: 1000,
      notification_channels: 'in_app',
      email_recipients: null,
      webhook_url: null,
      webhook_secret: null,
    });
    expect(await givenAlert(t, tenantId, { threshold_percent: 1 })).toMatchObject({ threshold_percent: 1 });
  });

  it('normalises the channel and address lists', async () => {
    const { tenantId } = await givenAlertTenant();
    const alert = await givenAlert(t, tenantId, {
      notification_channels: 'email, in_app',
      email_recipients: ' ops@example.com , finance@example.org',
    });
    expect(alert).toMatchObject({
      notification_channels: 'email,in_app',
      email_recipients: 'ops@example.com,finance@example.org',
    });
  });

  describe('refuses with a 400 naming the parameter', () => {
    let tenantId: string;
    let foreignAppId: string;
    beforeAll(async () => {
      ({ tenantId } = await givenAlertTenant());
      ({ appId: foreignAppId } = await givenAlertTenant());
    });

    const email = { email_recipients: 'ops@example.com' };
    const cases: [string, string, Record<string, unknown>][] = [
      ['an unknown channel', 'notification_channels', { notification_channels: 'in_app,sms' }],
      ['a channel twice', 'notification_channels', { notification_channels: 'in_app,in_app' }],
      ['a channel twice, spaced', 'notification_channels', { notification_channels: 'email, email', ...email }],
      ['empty channels', 'notification_channels', { notification_channels: '' }],
      ['a blank channel', 'notification_channels', { notification_channels: 'in_app,' }],
      ['email without email_recipients', 'email_recipients', { notification_channels: 'email' }],
      ['email with a blank list', 'email_recipients', { notification_channels: 'email', email_recipients: ' , ' }],
      ['a bad address', 'email_recipients', { notification_channels: 'email', email_recipients: 'ops@example' }],
      [
        'a bad address among good ones',
        'email_recipients',
        { notification_channels: 'email', email_recipients: 'ops@example.com,not an address' },
      ],
      ['email_recipients without the email channel', 'email_recipients', { notification_channels: 'in_app', ...email }],
      ['webhook without webhook_url', 'webhook_url', { notification_channels: 'webhook' }],
      [
        'a non-http webhook URL',
        'webhook_url',
        { notification_channels: 'webhook', webhook_url: 'ftp://hooks.example.com/billing' },
      ],
      [
        'a webhook URL that is no URL',
        'webhook_url',
        { notification_channels: 'webhook', webhook_url: 'hooks example' },
      ],
      [
        'webhook_url without the webhook channel',
        'webhook_url',
        { notification_channels: 'in_app', webhook_url: 'https://hooks.example.com/billing' },
      ],
      ['threshold 0', 'threshold_percent', { threshold_percent: 0 }],
      ['threshold 1001', 'threshold_percent', { threshold_percent: 1001 }],
      ['threshold 50.5', 'threshold_percent', { threshold_percent: 50.5 }],
      ['a threshold as text', 'threshold_percent', { threshold_percent: '80' }],
      ['an unknown resource type', 'resource_type', { resource_type: 'coffee' }],
      ['an empty name', 'name', { name: '' }],
      ['an unknown field', 'colour', { colour: 'red' }],
      ['a status on create', 'status', { status: 'disabled' }],
    ];
    it.each(cases)('%s', async (_label, parameter, overrides) => {
      const response = await postAlert(tenantId, { ...alertBasics, notification_channels: 'in_app', ...overrides });
      expectInvalid(response, parameter);
    });

    it('an app of another tenant, or none', async () => {
      expectInvalid(
        await postAlert(tenantId, { ...alertBasics, notification_channels: 'in_app', app_id: foreignAppId }),
        'app_id',
      );
      expectInvalid(
        await postAlert(tenantId, { ...alertBasics, notification_channels: 'in_app', app_id: 'app_nobody_has' }),
        'app_id',
      );
    });

    it('a missing required field', async () => {
      for (const field of ['name', 'resource_type', 'threshold_percent', 'notification_channels']) {
        const payload: Record<string, unknown> = { ...alertBasics, notification_channels: 'in_app' };
        delete payload[field];
        expectInvalid(await postAlert(tenantId, payload), field);
      }
    });

    it('and nothing is stored', async () => {
      expect((await listAlerts(tenantId)).total).toBe(0);
    });
  });
});

describe('listing alerts', () => {
  it('lists newest first, ties by id, with the seed PageInfo', async () => {
    const { tenantId } = await givenAlertTenant();
    const created: AlertView[] = [];
    for (let i = 0; i < 3; i += 1) {
      created.push(await givenAlert(t, tenantId, { name: `alert ${i}` }));
      t.clock.advance(1000);
    }
    // Two more in the same second: the later id comes first.
    const sameSecond = [
      await givenAlert(t, tenantId, { name: 'tie a' }),
      await givenAlert(t, tenantId, { name: 'tie b' }),
    ];
    const ties = sameSecond
      .map((alert) => alert.id)
      .sort()
      .reverse();
    const expectedOrder = [...ties, ...created.map((alert) => alert.id).reverse()];

    const all = await listAlerts(tenantId);
    expect(all.items.map((item) => item.id)).toEqual(expectedOrder);
    expect(all.total).toBe(5);

    const first = await listAlerts(tenantId, '?page=1&page_size=2');
    expect(first.items.map((item) => item.id)).toEqual(expectedOrder.slice(0, 2));
    expect(first.pagination).toEqual({
      page: 1,
      page_size: 2,
      total: 5,
      total_pages: 3,
      has_next: true,
      has_prev: false,
    });
    const last = await listAlerts(tenantId, '?page=3&page_size=2');
    expect(last.items.map((item) => item.id)).toEqual(expectedOrder.slice(4));
    expect(last.pagination).toMatchObject({ page: 3, has_next: false, has_prev: true });
    const beyond = await listAlerts(tenantId, '?page=4&page_size=2');
    expect(beyond.items).toEqual([]);
    expect(beyond.total).toBe(5);
  });

  it("shows only the tenant's own alerts", async () => {
    const { tenantId } = await givenAlertTenant();
    const { tenantId: otherTenantId } = await givenAlertTenant();
    const own = await givenAlert(t, tenantId);
    await givenAlert(t, otherTenantId);
    expect((await listAlerts(tenantId)).items.map((item) => item.id)).toEqual([own.id]);
  });

  it('refuses bad paging and unknown query parameters', async () => {
    const { tenantId } = await givenAlertTenant();
    expectInvalid(await listAlertsResponse(tenantId, '?page=0'), 'page', 'query');
    expectInvalid(await listAlertsResponse(tenantId, '?page_size=0'), 'page_size', 'query');
    expectInvalid(await listAlertsResponse(tenantId, '?status=active'), 'status', 'query');
  });
});

describe('changing an alert', () => {
  it('changes the name, threshold and status, moving updated_at only', async () => {
    const { tenantId } = await givenAlertTenant();
    const alert = await givenAlert(t, tenantId);
    t.clock.advance(60_000);
    const later = '2026-01-10T12:01:00Z';

    const renamed = expectAlert(await patchAlert(tenantId, alert.id, { name: 'Renamed' }));
    expect(renamed).toEqual({ ...alert, name: 'Renamed', updated_at: later });
    const raised = expectAlert(await patchAlert(tenantId, alert.id, { threshold_percent: 150 }));
    expect(raised).toEqual({ ...renamed, threshold_percent: 150 });
    const disabled = expectAlert(await patchAlert(tenantId, alert.id, { status: 'disabled' }));
    expect(disabled).toEqual({ ...raised, status: 'disabled' });
    const enabled = expectAlert(await patchAlert(tenantId, alert.id, { status: 'active' }));
    expect(enabled).toEqual({ ...raised, status: 'active' });
    expect(await getAlert(tenantId, alert.id)).toEqual(enabled);
  });

  it('checks channels and addresses against the state the change leaves', async () => {
    const { tenantId } = await givenAlertTenant();
    const alert = await givenAlert(t, tenantId);

    // Adding email needs recipients, in the same change.
    expectInvalid(await patchAlert(tenantId, alert.id, { notification_channels: 'in_app,email' }), 'email_recipients');
    expectInvalid(await patchAlert(tenantId, alert.id, { email_recipients: 'ops@example.com' }), 'email_recipients');
    const withEmail = expectAlert(
      await patchAlert(tenantId, alert.id, {
        notification_channels: 'in_app,email',
        email_recipients: 'ops@example.com',
      }),
    );
    expect(withEmail).toMatchObject({ notification_channels: 'in_app,email', email_recipients: 'ops@example.com' });

    // Recipients alone can change while email stays on; they cannot be cleared while it is.
    expect(
      expectAlert(await patchAlert(tenantId, alert.id, { email_recipients: 'a@example.com,b@example.com' })),
    ).toMatchObject({ email_recipients: 'a@example.com,b@example.com' });
    expectInvalid(await patchAlert(tenantId, alert.id, { email_recipients: null }), 'email_recipients');
    expectInvalid(await patchAlert(tenantId, alert.id, { email_recipients: 'not-an-address' }), 'email_recipients');

    // Dropping email leaves recipients behind unless they are cleared too.
    expectInvalid(await patchAlert(tenantId, alert.id, { notification_channels: 'in_app' }), 'email_recipients');
    const emailless = expectAlert(
      await patchAlert(tenantId, alert.id, { notification_channels: 'in_app', email_recipients: null }),
    );
    expect(emailless).toMatchObject({ notification_channels: 'in_app', email_recipients: null });

    expectInvalid(
      await patchAlert(tenantId, alert.id, { notification_channels: 'in_app,in_app' }),
      'notification_channels',
    );
    expectInvalid(await patchAlert(tenantId, alert.id, { notification_channels: 'pager' }), 'notification_channels');
    expectInvalid(await patchAlert(tenantId, alert.id, { notification_channels: 'webhook' }), 'webhook_url');
    expectInvalid(
      await patchAlert(tenantId, alert.id, { notification_channels: 'webhook', webhook_url: 'mailto:ops@example.com' }),
      'webhook_url',
    );
    // Refused changes changed nothing.
    expect(await getAlert(tenantId, alert.id)).toEqual({ ...emailless, webhook_secret: null });
  });

  it('generates a webhook secret with the webhook, keeps it across changes and drops it with the webhook', async () => {
    const { tenantId } = await givenAlertTenant();
    const alert = await givenAlert(t, tenantId);

    const withWebhook = expectAlert(
      await patchAlert(tenantId, alert.id, {
        notification_channels: 'in_app,webhook',
        webhook_url: 'https://hooks.example.com/a',
      }),
    );
    expect(withWebhook.webhook_secret).toMatch(secretShape);
    expect((await getAlert(tenantId, alert.id)).webhook_secret).toBeNull();

    // Another URL, or another field: the same secret, shown again to the writer.
    const moved = expectAlert(await patchAlert(tenantId, alert.id, { webhook_url: 'http://hooks.example.com/b' }));
    expect(moved).toMatchObject({
      webhook_url: 'http://hooks.example.com/b',
      webhook_secret: withWebhook.webhook_secret,
    });
    const renamed = expectAlert(await patchAlert(tenantId, alert.id, { name: 'Renamed' }));
    expect(renamed.webhook_secret).toBe(withWebhook.webhook_secret);

    expectInvalid(await patchAlert(tenantId, alert.id, { webhook_url: null }), 'webhook_url');
    expectInvalid(await patchAlert(tenantId, alert.id, { notification_channels: 'in_app' }), 'webhook_url');
    const dropped = expectAlert(
      await patchAlert(tenantId, alert.id, { notification_channels: 'in_app', webhook_url: null }),
    );
    expect(dropped).toMatchObject({ notification_channels: 'in_app', webhook_url: null, webhook_secret: null });

    // A webhook added again is signed with a new secret: the old one may have leaked with it.
    const again = expectAlert(
      await patchAlert(tenantId, alert.id, {
        notification_channels: 'webhook',
        webhook_url: 'https://hooks.example.com/c',
      }),
    );
    expect(again.webhook_secret).toMatch(secretShape);
    expect(again.webhook_secret).not.toBe(withWebhook.webhook_secret);
  });

  it('refuses fields that cannot change, unknown fields, bad values and an empty change', async () => {
    const { tenantId, appId } = await givenAlertTenant();
    const alert = await givenAlert(t, tenantId);
    expectInvalid(await patchAlert(tenantId, alert.id, { app_id: appId }), 'app_id');
    expectInvalid(await patchAlert(tenantId, alert.id, { resource_type: 'bandwidth_used' }), 'resource_type');
    expectInvalid(await patchAlert(tenantId, alert.id, { colour: 'red' }), 'colour');
    expectInvalid(await patchAlert(tenantId, alert.id, { threshold_percent: 0 }), 'threshold_percent');
    expectInvalid(await patchAlert(tenantId, alert.id, { threshold_percent: 1001 }), 'threshold_percent');
    expectInvalid(await patchAlert(tenantId, alert.id, { threshold_percent: 50.5 }), 'threshold_percent');
    expectInvalid(await patchAlert(tenantId, alert.id, { status: 'paused' }), 'status');
    expectInvalid(await patchAlert(tenantId, alert.id, { name: '' }), 'name');
    expectError(await patchAlert(tenantId, alert.id, {}), 400, 'validation_error');
    expect(await getAlert(tenantId, alert.id)).toEqual(alert);
  });
});

describe('deleting an alert', () => {
  it('disables it: still listed and readable, with its settings', async () => {
    const { tenantId } = await givenAlertTenant();
    const alert = await givenAlert(t, tenantId);
    t.clock.advance(1000);
    const deleted = expectAlert(await deleteAlert(tenantId, alert.id));
    expect(deleted).toEqual({ ...alert, status: 'disabled', updated_at: '2026-01-10T12:00:01Z' });
    expect(await getAlert(tenantId, alert.id)).toEqual(deleted);
    expect((await listAlerts(tenantId)).items).toEqual([deleted]);
    // Again: still disabled, nothing else happens.
    expect(expectAlert(await deleteAlert(tenantId, alert.id))).toMatchObject({ status: 'disabled' });
  });
});

describe('access', () => {
  let tenantId: string;
  let alert: AlertView;
  let otherTenantId: string;
  beforeAll(async () => {
    ({ tenantId } = await givenAlertTenant());
    ({ tenantId: otherTenantId } = await givenAlertTenant());
    alert = await givenAlert(t, tenantId);
  });

  const payload = { ...alertBasics, notification_channels: 'in_app' };

  it('lets a tenant viewer read but not write', async () => {
    const viewer = await t.as.tenant(tenantId, 'tenant_viewer');
    expect((await listAlertsResponse(tenantId, '', viewer)).statusCode).toBe(200);
    expectAlert(await getAlertResponse(tenantId, alert.id, viewer));
    expectError(await postAlert(tenantId, payload, viewer), 403, 'forbidden');
    expectError(await patchAlert(tenantId, alert.id, { name: 'Mine now' }, viewer), 403, 'forbidden');
    expectError(await deleteAlert(tenantId, alert.id, viewer), 403, 'forbidden');
    expect(await getAlert(tenantId, alert.id)).toEqual({ ...alert, webhook_secret: null });
  });

  it("refuses another tenant's admin alike whether the tenant exists or not", async () => {
    const intruder = await t.as.tenant(otherTenantId);
    const refusals = [
      await postAlert(tenantId, payload, intruder),
      await listAlertsResponse(tenantId, '', intruder),
      await getAlertResponse(tenantId, alert.id, intruder),
      await patchAlert(tenantId, alert.id, { name: 'Mine now' }, intruder),
      await deleteAlert(tenantId, alert.id, intruder),
    ];
    const ghosts = [
      await postAlert('tnt_nobody', payload, intruder),
      await listAlertsResponse('tnt_nobody', '', intruder),
      await getAlertResponse('tnt_nobody', alert.id, intruder),
      await patchAlert('tnt_nobody', alert.id, { name: 'Mine now' }, intruder),
      await deleteAlert('tnt_nobody', alert.id, intruder),
    ];
    for (const [index, refusal] of refusals.entries()) {
      expectError(refusal, 403, 'forbidden');
      expect(comparable(ghosts[index]!.body)).toEqual(comparable(refusal.body));
    }
    // An alert id under the intruder's own path is just unknown there.
    expectError(await getAlertResponse(otherTenantId, alert.id, intruder), 404, 'not_found');
    expectError(await patchAlert(otherTenantId, alert.id, { name: 'Mine now' }, intruder), 404, 'not_found');
    expectError(await deleteAlert(otherTenantId, alert.id, intruder), 404, 'not_found');
    expect(await getAlert(tenantId, alert.id)).toMatchObject({ name: alert.name, status: 'active' });
  });

  it('answers 401 without a token', async () => {
    for (const response of [
      await postAlert(tenantId, payload, {}),
      await listAlertsResponse(tenantId, '', {}),
      await getAlertResponse(tenantId, alert.id, {}),
      await patchAlert(tenantId, alert.id, { name: 'x' }, {}),
      await deleteAlert(tenantId, alert.id, {}),
    ]) {
      expectError(response, 401, 'unauthorized');
    }
  });

  it('lets a platform admin read and write, and 404s an unknown tenant for one', async () => {
    const admin = await t.as.platformAdmin();
    const created = expectAlert(await postAlert(tenantId, { ...payload, name: 'By the platform' }, admin), 201);
    expect(created.tenant_id).toBe(tenantId);
    expect((await listAlertsResponse(tenantId, '', admin)).statusCode).toBe(200);
    expectAlert(await getAlertResponse(tenantId, created.id, admin));
    expectAlert(await patchAlert(tenantId, created.id, { threshold_percent: 90 }, admin));
    expectAlert(await deleteAlert(tenantId, created.id, admin));
    expectError(await postAlert('tnt_nobody', payload, admin), 404, 'not_found');
    expectError(await listAlertsResponse('tnt_nobody', '', admin), 404, 'not_found');
    expectError(await getAlertResponse('tnt_nobody', created.id, admin), 404, 'not_found');
  });

  it('404s an unknown alert and 400s a malformed id', async () => {
    const unknown = 'ua_0000000000000000';
    expectError(await getAlertResponse(tenantId, unknown), 404, 'not_found');
    expectError(await patchAlert(tenantId, unknown, { name: 'x' }), 404, 'not_found');
    expectError(await deleteAlert(tenantId, unknown), 404, 'not_found');
    expectInvalid(await getAlertResponse(tenantId, 'ua_NOPE'), 'alert_id', 'path');
  });
});

// ================================================================ evaluation

describe('evaluation after ingestion', () => {
  it('fires at 80 % when usage reaches 800 of 1,000, not at 799, once in the period', async () => {
    const { tenantId, appId, period } = await givenSubscribedTenant();
    const alert = await givenAlert(t, tenantId, {
      notification_channels: 'email,in_app,webhook',
      email_recipients: 'ops@example.com,finance@example.com',
      webhook_url: 'https://hooks.example.com/billing',
    });

    await ingest({ tenantId, appId, quantity: 799 });
    expect(await fallout(tenantId)).toEqual(nothingFired);
    expect((await getAlert(tenantId, alert.id)).last_triggered_at).toBeNull();

    t.clock.set('2026-01-10T13:00:00Z');
    await ingest({ tenantId, appId, quantity: 1 });
    expect((await getAlert(tenantId, alert.id)).last_triggered_at).toBe('2026-01-10T13:00:00Z');
    expect(await firingsOf(tenantId)).toEqual([
      {
        tenant_id: tenantId,
        alert_id: alert.id,
        period_start: new Date(period.current_period_start),
        usage: 800n,
        included_units: 1000n,
        fired_at: new Date('2026-01-10T13:00:00Z'),
      },
    ]);
    const body =
      `api_calls reached 800 of 1000 included units (80%, threshold 80%) in the period ` +
      `${period.current_period_start} to ${period.current_period_end}.`;
    expect(await notificationsOf(t, tenantId)).toEqual([
      {
        id: expect.stringMatching(/^ntf_[a-z0-9]{16}$/) as string,
        alert_id: alert.id,
        title: 'Usage alert: API calls at 80%',
        body,
        created_at: '2026-01-10T13:00:00Z',
      },
    ]);
    const outbox = await outboxOf(tenantId);
    expect(outbox).toEqual([
      expect.objectContaining({
        channel: 'email',
        alert_id: alert.id,
        destination: 'ops@example.com,finance@example.com',
        subject: 'Usage alert: API calls at 80%',
        status: 'pending',
        attempts: 0,
        next_attempt_at: new Date('2026-01-10T13:00:00Z'),
        sent_at: null,
      }),
      expect.objectContaining({
        channel: 'webhook',
        alert_id: alert.id,
        destination: 'https://hooks.example.com/billing',
        status: 'pending',
        attempts: 0,
      }),
    ]);
    expect(outbox.map((row) => row.id)).toEqual([
      expect.stringMatching(/^msg_[a-z0-9]{16}$/),
      expect.stringMatching(/^msg_[a-z0-9]{16}$/),
    ]);
    expect(outbox[0]!.payload).toMatchObject({ text: body, event: { type: 'usage_alert.triggered' } });
    expect(outbox[1]!.payload).toEqual({
      type: 'usage_alert.triggered',
      timestamp: '2026-01-10T13:00:00Z',
      data: {
        alert_id: alert.id,
        tenant_id: tenantId,
        app_id: null,
        name: 'API calls at 80%',
        resource_type: 'api_calls',
        threshold_percent: 80,
        usage: 800,
        included_units: 1000,
        percent_used: 80,
        period_start: period.current_period_start,
        period_end: period.current_period_end,
      },
    });

    // More usage in the same period, and a scheduler tick: nothing fires again.
    t.clock.set('2026-01-11T09:00:00Z');
    await ingest({ tenantId, appId, quantity: 500 });
    expect(await evaluateAlerts(t.database.db, t.clock, [tenantId])).toBe(0);
    expect(await fallout(tenantId)).toEqual({ firings: 1, notifications: 1, outbox: ['email', 'webhook'] });
    expect((await getAlert(tenantId, alert.id)).last_triggered_at).toBe('2026-01-10T13:00:00Z');
  });

  it('counts only its app for an app-scoped alert, the whole tenant otherwise', async () => {
    const { tenantId, appId, otherAppId } = await givenSubscribedTenant();
    const appAlert = await givenAlert(t, tenantId, { name: 'App at half', threshold_percent: 50, app_id: appId });
    const tenantAlert = await givenAlert(t, tenantId, { name: 'Tenant at half', threshold_percent: 50 });

    await ingest({ tenantId, appId, quantity: 400 });
    await ingest({ tenantId, appId: otherAppId, quantity: 600 });
    expect((await firingsOf(tenantId)).map((firing) => [firing.alert_id, firing.usage])).toEqual([
      [tenantAlert.id, 1000n],
    ]);
    expect((await getAlert(tenantId, appAlert.id)).last_triggered_at).toBeNull();

    await ingest({ tenantId, appId, quantity: 100 });
    const firings = await firingsOf(tenantId);
    expect(firings.find((firing) => firing.alert_id === appAlert.id)?.usage).toBe(500n);
    expect(firings).toHaveLength(2);
    const appNotice = (await notificationsOf(t, tenantId)).find((notice) => notice.alert_id === appAlert.id);
    expect(appNotice?.body).toContain(`api_calls of ${appId} reached 500 of 1000 included units (50%, threshold 50%)`);
  });

  it('never fires on a resource the plan does not include, nor without a subscription', async () => {
    const { tenantId, appId } = await givenSubscribedTenant();
    await givenAlert(t, tenantId, { resource_type: 'bandwidth_used', threshold_percent: 1 });
    await ingest({ tenantId, appId, quantity: 1_000_000, resourceType: 'bandwidth_used' });
    expect(await evaluateAlerts(t.database.db, t.clock, [tenantId])).toBe(0);
    expect(await fallout(tenantId)).toEqual(nothingFired);

    const unsubscribed = await givenAlertTenant();
    await givenAlert(t, unsubscribed.tenantId, { threshold_percent: 1 });
    await ingest({ tenantId: unsubscribed.tenantId, appId: unsubscribed.appId, quantity: 5000 });
    expect(await evaluateAlerts(t.database.db, t.clock, [unsubscribed.tenantId])).toBe(0);
    expect(await fallout(unsubscribed.tenantId)).toEqual(nothingFired);
  });

  it('measures tiered resources against their leading free tiers, and a package against its included units', async () => {
    await givenPlan(t, 'tiered', {
      resources: [
        // 500 free, then 0.01 each: alerts measure against 500.
        {
          resource_type: 'api_calls',
          charge_model: 'graduated',
          tiers: [
            { up_to: 500, unit_price: '0' },
            { up_to: null, unit_price: '0.01' },
          ],
        },
        // The first unit already costs: nothing is included, so no alert fires.
        {
          resource_type: 'mfa_verifications',
          charge_model: 'volume',
          tiers: [
            { up_to: 100, unit_price: '0.1' },
            { up_to: null, unit_price: '0.05' },
          ],
        },
        {
          resource_type: 'storage_used',
          charge_model: 'package',
          included_units: 10,
          package_size: 5,
          package_price: '1',
        },
      ],
    });
    const { tenantId, appId } = await givenAlertTenant();
    await givenSubscription(t, tenantId, { plan_id: 'tiered', payment_method: 'sandbox_success', trial: false });
    const calls = await givenAlert(t, tenantId);
    const mfa = await givenAlert(t, tenantId, {
      name: 'MFA',
      resource_type: 'mfa_verifications',
      threshold_percent: 1,
    });
    const storage = await givenAlert(t, tenantId, {
      name: 'Storage',
      resource_type: 'storage_used',
      threshold_percent: 50,
    });

    await ingest({ tenantId, appId, quantity: 399 });
    await ingest({ tenantId, appId, quantity: 1000, resourceType: 'mfa_verifications' });
    await ingest({ tenantId, appId, quantity: 4, resourceType: 'storage_used' });
    expect(await firingsOf(tenantId)).toEqual([]);
    await ingest({ tenantId, appId, quantity: 1 });
    await ingest({ tenantId, appId, quantity: 5, resourceType: 'storage_used' });
    expect(
      (await firingsOf(tenantId)).map((firing) => [firing.alert_id, firing.usage, firing.included_units]).sort(),
    ).toEqual(
      [
        [calls.id, 400n, 500n],
        [storage.id, 5n, 10n],
      ].sort(),
    );
    expect((await getAlert(tenantId, mfa.id)).last_triggered_at).toBeNull();
  });

  it('fires overage alerts above 100 %, each at its own threshold', async () => {
    const { tenantId, appId } = await givenSubscribedTenant();
    const at150 = await givenAlert(t, tenantId, { name: 'At 150', threshold_percent: 150 });
    const at1000 = await givenAlert(t, tenantId, { name: 'At 1000', threshold_percent: 1000 });

    await ingest({ tenantId, appId, quantity: 1499 });
    expect(await firingsOf(tenantId)).toEqual([]);
    await ingest({ tenantId, appId, quantity: 1 });
    expect((await firingsOf(tenantId)).map((firing) => [firing.alert_id, firing.usage])).toEqual([[at150.id, 1500n]]);
    expect((await notificationsOf(t, tenantId))[0]?.body).toContain(
      'reached 1500 of 1000 included units (150%, threshold 150%)',
    );

    await ingest({ tenantId, appId, quantity: 8499 });
    expect(await firingsOf(tenantId)).toHaveLength(1);
    await ingest({ tenantId, appId, quantity: 1 });
    const firings = await firingsOf(tenantId);
    expect(firings.find((firing) => firing.alert_id === at1000.id)?.usage).toBe(10_000n);
    expect(firings).toHaveLength(2);
  });

  it("measures a max resource by its highest day, not the days' sum", async () => {
    const { tenantId, appId } = await givenSubscribedTenant();
    await givenAlert(t, tenantId, { resource_type: 'storage_used', threshold_percent: 100 });
    await ingest({ tenantId, appId, quantity: 60, resourceType: 'storage_used' });
    t.clock.set('2026-01-11T12:00:00Z');
    await ingest({ tenantId, appId, quantity: 60, resourceType: 'storage_used' });
    expect(await fallout(tenantId)).toEqual(nothingFired);
    await ingest({ tenantId, appId, quantity: 100, resourceType: 'storage_used' });
    expect((await firingsOf(tenantId)).map((firing) => firing.usage)).toEqual([100n]);
  });

  it('never fires a disabled alert; enabled again, the next evaluation catches up', async () => {
    const { tenantId, appId } = await givenSubscribedTenant();
    const alert = await givenAlert(t, tenantId);
    expectAlert(await deleteAlert(tenantId, alert.id));
    await ingest({ tenantId, appId, quantity: 900 });
    expect(await evaluateAlerts(t.database.db, t.clock, [tenantId])).toBe(0);
    expect(await fallout(tenantId)).toEqual(nothingFired);
    expect((await getAlert(tenantId, alert.id)).last_triggered_at).toBeNull();

    expectAlert(await patchAlert(tenantId, alert.id, { status: 'active' }));
    expect(await evaluateAlerts(t.database.db, t.clock, [tenantId])).toBe(1);
    expect(await fallout(tenantId)).toEqual({ firings: 1, notifications: 1, outbox: [] });
  });
});

describe('evaluation across periods', () => {
  let own: TestApp;
  beforeEach(async () => {
    own = await createTestApp();
    await givenPlans(own);
  });
  afterEach(() => own.close());

  it('fires again in the next period, once the billing run started it', async () => {
    const { tenantId, appId, period } = await givenSubscribedTenant(own);
    expect(period).toMatchObject({
      current_period_start: '2026-01-01T00:00:00Z',
      current_period_end: '2026-02-01T00:00:00Z',
    });
    const alert = await givenAlert(own, tenantId);

    own.clock.set('2026-01-20T10:00:00Z');
    await ingest({ tenantId, appId, quantity: 800, resourceType: 'api_calls', on: own });
    expect((await getAlert(tenantId, alert.id, own)).last_triggered_at).toBe('2026-01-20T10:00:00Z');

    own.clock.set('2026-02-02T10:00:00Z');
    const run = await own.app.inject({
      method: 'POST',
      url: '/admin/billing-run',
      headers: await own.as.platformAdmin(),
      payload: { as_of: '2026-02-02T10:00:00Z' },
    });
    expect(run.statusCode, run.body).toBe(200);
    // January's usage does not count in February.
    expect(await evaluateAlerts(own.database.db, own.clock, [tenantId])).toBe(0);
    await ingest({ tenantId, appId, quantity: 799, resourceType: 'api_calls', on: own });
    expect(await firingsOf(tenantId, own)).toHaveLength(1);
    own.clock.set('2026-02-02T11:00:00Z');
    await ingest({ tenantId, appId, quantity: 1, resourceType: 'api_calls', on: own });

    expect((await firingsOf(tenantId, own)).map((firing) => [firing.period_start.toISOString(), firing.usage])).toEqual(
      [
        ['2026-01-01T00:00:00.000Z', 800n],
        ['2026-02-01T00:00:00.000Z', 800n],
      ],
    );
    expect((await getAlert(tenantId, alert.id, own)).last_triggered_at).toBe('2026-02-02T11:00:00Z');
    const notices = await notificationsOf(own, tenantId);
    expect(notices.map((notice) => notice.created_at)).toEqual(['2026-02-02T11:00:00Z', '2026-01-20T10:00:00Z']);
    expect(notices[0]?.body).toContain('in the period 2026-02-01T00:00:00Z to 2026-03-01T00:00:00Z.');
  });

  it("does not count the next period's usage into an ended period the billing run has not closed yet", async () => {
    const { tenantId, appId } = await givenSubscribedTenant(own);
    await givenAlert(own, tenantId);
    own.clock.set('2026-01-20T10:00:00Z');
    await ingest({ tenantId, appId, quantity: 700, resourceType: 'api_calls', on: own });

    // January has ended with 700 of 1,000; the scheduler has not renewed the subscription yet.
    own.clock.set('2026-02-01T06:00:00Z');
    await ingest({ tenantId, appId, quantity: 200, resourceType: 'api_calls', on: own });
    await evaluateAlerts(own.database.db, own.clock, [tenantId]);
    expect(await firingsOf(tenantId, own)).toEqual([]);
  });
});

// ================================================================ exactly once

describe('exactly once under concurrency', () => {
  it('fires once when ten evaluations of the same crossing race', async () => {
    const { tenantId, appId } = await givenSubscribedTenant();
    // Usage first, the alert after: no ingestion has evaluated this crossing yet.
    await ingest({ tenantId, appId, quantity: 900 });
    await givenAlert(t, tenantId, {
      notification_channels: 'email,in_app,webhook',
      email_recipients: 'ops@example.com',
      webhook_url: 'https://hooks.example.com/billing',
    });
    expect(await fallout(tenantId)).toEqual(nothingFired);

    const fired = await Promise.all(
      Array.from({ length: 10 }, () => evaluateAlerts(t.database.db, t.clock, [tenantId])),
    );
    expect(fired.reduce((sum, n) => sum + n, 0)).toBe(1);
    expect(await fallout(tenantId)).toEqual({ firings: 1, notifications: 1, outbox: ['email', 'webhook'] });
  });

  it('fires once when concurrent ingestion batches cross the threshold together', async () => {
    const { tenantId, appId, otherAppId } = await givenSubscribedTenant();
    await givenAlert(t, tenantId, {
      notification_channels: 'email,in_app,webhook',
      email_recipients: 'ops@example.com',
      webhook_url: 'https://hooks.example.com/billing',
    });
    // Ten batches of 80: none alone crosses 800, all together reach it exactly.
    await Promise.all(
      Array.from({ length: 10 }, (_, i) => ingest({ tenantId, appId: i % 2 === 0 ? appId : otherAppId, quantity: 80 })),
    );
    // Only all ten together reach 800, so whichever evaluation fired saw exactly that.
    expect((await firingsOf(tenantId)).map((firing) => firing.usage)).toEqual([800n]);
    expect(await fallout(tenantId)).toEqual({ firings: 1, notifications: 1, outbox: ['email', 'webhook'] });
  });

  describe.skipIf(withoutServer)('from several processes (PostgreSQL)', () => {
    const replicas: DatabaseHandle[] = [];
    beforeAll(async () => {
      for (let i = 0; i < 3; i += 1) {
        replicas.push(await openDatabase({ kind: 'server', url: t.database.url!, pool: defaultPoolConfig }));
      }
    });
    afterAll(async () => {
      for (const replica of replicas) await replica.close();
    });

    it('fires once when evaluations on separate connection pools race', async () => {
      const { tenantId, appId } = await givenSubscribedTenant();
      await ingest({ tenantId, appId, quantity: 1000 });
      await givenAlert(t, tenantId, {
        notification_channels: 'email,in_app,webhook',
        email_recipients: 'ops@example.com',
        webhook_url: 'https://hooks.example.com/billing',
      });
      const fired = await Promise.all(
        replicas.flatMap((replica) => Array.from({ length: 8 }, () => evaluateAlerts(replica.db, t.clock, [tenantId]))),
      );
      expect(fired.reduce((sum, n) => sum + n, 0)).toBe(1);
      expect(await fallout(tenantId)).toEqual({ firings: 1, notifications: 1, outbox: ['email', 'webhook'] });
    });
  });
});
