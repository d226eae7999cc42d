import { once } from 'node:events';
import { sql } from 'kysely';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { unwrap } from '../../core/result.js';
import { asTenantViewer } from '../../testing/api.js';
import { expectNothingLeaked } from '../../testing/envelopes.js';
import {
  billingRun,
  givenAlert,
  givenApp,
  givenCredit,
  givenPlan,
  givenRecord,
  givenSubscription,
  givenTenant,
  givenTenantWithApps,
  ingestEvents,
  usageEvent,
} from '../../testing/fixtures.js';
import { bearer, createTestApp, type TestApp } from '../../testing/test-app.js';
import { exportUserData } from './export-user-data.js';

/*
 * POST /internal/billing/export-user-data over HTTP. The data is built through the API (plans,
 * subscriptions, credits, usage, alerts, records, a billing run) for two tenants of one user and a
 * third of someone else; the export is checked against the seed's DTO field lists transcribed
 * below, against what the other endpoints show for the same data, and against the audit log.
 * One app for the file: the tests only read what beforeAll built, except the streaming test,
 * which loads a tenant of a user of its own.
 */

let t: TestApp;

// ---------------------------------------------------------------- the seed's DTOs, by hand

type JsonType = 'string' | 'number' | 'integer' | 'boolean' | 'array';
interface FieldSpec {
  type: JsonType;
  /** Null allowed: only where our data can hold no value (why: next to each). */
  nullable?: true;
}
type Dto = Record<string, FieldSpec>;

const string: FieldSpec = { type: 'string' };
const number: FieldSpec = { type: 'number' };
const integer: FieldSpec = { type: 'integer' };
const boolean: FieldSpec = { type: 'boolean' };
const nullableString: FieldSpec = { type: 'string', nullable: true };

/** Transcribed from the seed text (dto.*), not imported: a wrong list in the code must fail here. */
const seed = {
  SubscriptionResponse: {
    admin_user_id: string,
    amount: number,
    auto_renew: boolean,
    billing_cycle: string,
    cancel_at_period_end: boolean,
    currency: string,
    current_period_end: string,
    current_period_start: string,
    grace_period_days: integer,
    plan_id: string,
    status: string,
    tenant_id: string,
    // A subscription started without a trial has no trial end.
    trial_end_date: nullableString,
  },
  BillingRecordResponse: {
    amount: number,
    // A record need not belong to an app.
    app_id: nullableString,
    created_at: string,
    currency: string,
    description: string,
    // A draft has no invoice number yet.
    invoice_number: nullableString,
    line_items: { type: 'array' },
    record_id: string,
    status: string,
    tenant_id: string,
    type: string,
  },
  InvoiceLineItemResponse: {
    amount: number,
    description: string,
    quantity: integer,
    resource_type: string,
    tax_amount: number,
    tax_rate: number,
    unit_price: number,
  },
  CreditBalanceResponse: {
    balance: number,
    currency: string,
    tenant_id: string,
    updated_at: string,
  },
  CreditTransactionResponse: {
    amount: number,
    balance: number,
    created_at: string,
    id: string,
    remark: string,
    source: string,
    // A promo granted without a source id has none.
    source_id: nullableString,
    tenant_id: string,
    type: string,
  },
  UsageStatsExportItem: {
    api_requests: integer,
    bandwidth_used: integer,
    date: string,
    failed_logins: integer,
    login_attempts: integer,
    mfa_verifications: integer,
    storage_used: integer,
    user_count: integer,
  },
  UsageAlertResponse: {
    // An alert on the tenant's usage names no app.
    app_id: nullableString,
    created_at: string,
    id: string,
    // An alert that never fired.
    last_triggered_at: nullableString,
    name: string,
    notification_channels: string,
    resource_type: string,
    status: string,
    tenant_id: string,
    threshold_percent: integer,
    updated_at: string,
  },
  MeteredBillingExportItem: {
    included_units: integer,
    overage_amount: string,
    overage_units: integer,
    period_end: string,
    period_start: string,
    resource_type: string,
    status: string,
    total_usage: integer,
  },
} satisfies Record<string, Dto>;

const isOfType = (value: unknown, type: JsonType): boolean => {
  switch (type) {
    case 'string':
      return typeof value === 'string';
    case 'number':
      return typeof value === 'number' && Number.isFinite(value);
    case 'integer':
      return Number.isInteger(value);
    case 'boolean':
      return typeof value === 'boolean';
    case 'array':
      return Array.isArray(value);
  }
};

/** Exactly the DTO's fields, each of its type (or null where allowed); the mismatches, named. */
const shapeProblems = (item: Record<string, unknown>, dto: Dto, where: string): string[] => {
  const problems: string[] = [];
  for (const field of Object.keys(item)) if (!(field in dto)) problems.push(`${where}: extra field ${field}`);
  for (const [field, spec] of Object.entries(dto)) {
    if (!(field in item)) problems.push(`${where}: missing ${field}`);
    else if (item[field] === null ? spec.nullable !== true : !isOfType(item[field], spec.type)) {
      problems.push(`${where}: ${field} is ${JSON.stringify(item[field])}, not ${spec.type}`);
    }
  }
  return problems;
};

/** The DTO's fields of an item another endpoint answered with. */
const seedFieldsOf = (item: Record<string, unknown>, dto: Dto) =>
  Object.fromEntries(Object.keys(dto).map((field) => [field, item[field]]));

// ---------------------------------------------------------------- the export's body

type Item = Record<string, unknown>;

interface TenantExport {
  tenant_id: string;
  subscriptions: Item[];
  billing_records: (Item & { record_id: string; line_items: Item[] })[];
  credit_balance: Item;
  credit_transactions: (Item & { id: string; balance: number; amount: number })[];
  usage_stats: (Item & { date: string })[];
  usage_alerts: (Item & { id: string })[];
  metering_records: Item[];
}

interface ExportBody {
  code: number;
  message: string;
  data: { user_id: string; generated_at: string; tenants: TenantExport[] };
  timestamp: string;
}

const kinds = [
  'subscriptions',
  'billing_records',
  'credit_balance',
  'credit_transactions',
  'usage_stats',
  'usage_alerts',
  'metering_records',
] as const;

/** Row counts per kind as the body holds them: the balance is one row per tenant. */
const countsOf = (body: ExportBody) =>
  Object.fromEntries(
    kinds.map((kind) => [
      kind,
      body.data.tenants.reduce((sum, tenant) => sum + (kind === 'credit_balance' ? 1 : tenant[kind].length), 0),
    ]),
  );

const serviceToken = (userId = 'svc_compliance') => t.token({ userId, roles: ['service'] });

const postExport = async (payload: unknown, headers?: Record<string, string>): Promise<LightMyRequestResponse> =>
  t.app.inject({
    method: 'POST',
    url: '/internal/billing/export-user-data',
    headers: headers ?? bearer(await serviceToken()),
    payload: payload as Record<string, unknown>,
  });

const exported = async (payload: Record<string, unknown>, headers?: Record<string, string>) => {
  const response = await postExport(payload, headers);
  expect(response.statusCode, response.body).toBe(200);
  expect(response.headers['content-type']).toMatch(/^application\/json/);
  return { body: JSON.parse(response.body) as ExportBody, text: response.body };
};

// ---------------------------------------------------------------- the other endpoints

const readAs = async <T>(tenantId: string, url: string): Promise<T> => {
  const response = await asTenantViewer(t, tenantId).get(url);
  expect(response.statusCode, `${url}: ${response.body}`).toBe(200);
  return response.json<T>();
};

/** Usage ingested through the API, every event accepted. */
const ingest = async (events: { tenant: string; app: string; resource: string; quantity: number; at: string }[]) => {
  const result = await ingestEvents(
    t,
    events.map((event) =>
      usageEvent({
        tenantId: event.tenant,
        appId: event.app,
        resourceType: event.resource,
        quantity: event.quantity,
        timestamp: event.at,
      }),
    ),
  );
  expect(result.accepted).toBe(events.length);
};

// ---------------------------------------------------------------- the data

const owner = 'usr_owner_of_two';
const otherUser = 'usr_owner_of_gamma';
const alpha = 'tnt_export_alpha';
const beta = 'tnt_export_beta';
const gamma = 'tnt_export_gamma';

interface TenantPlan {
  id: string;
  admin: string;
  timeZone: string;
  plan: string;
  app: string;
}

const tenants: TenantPlan[] = [
  { id: alpha, admin: owner, timeZone: 'Asia/Shanghai', plan: 'export-metered', app: 'app_alpha_web' },
  // A trial: its subscription has a trial end, and its first invoice comes after it.
  { id: beta, admin: owner, timeZone: 'America/New_York', plan: 'export-trial', app: 'app_beta_web' },
  { id: gamma, admin: otherUser, timeZone: 'UTC', plan: 'export-metered', app: 'app_gamma_web' },
];

/** A second app: a day's usage item adds up the apps. */
const alphaMobile = 'app_alpha_mobile';

const meteredResources = [
  { resource_type: 'api_requests', included_units: 1000, overage_unit_price: '0.01' },
  { resource_type: 'storage_used', included_units: 10, overage_unit_price: '0.5' },
];

/**
 * Everything the export covers, for every tenant, through the API: a promo credit with and one
 * without a source id, a subscription (paid from the balance), a draft and a finalised record,
 * two alerts (one fires), usage on two January days (API requests under both names), and a
 * billing run in February that renews the period and invoices January's overage.
 */
const buildData = async () => {
  for (const [planId, trialDays] of [
    ['export-metered', 0],
    ['export-trial', 14],
  ] as const) {
    await givenPlan(t, planId, { name: planId, monthly_price: 99, trial_days: trialDays, resources: meteredResources });
  }
  for (const tenant of tenants) {
    await givenTenantWithApps(t, tenant.id, tenant.id === alpha ? [tenant.app, alphaMobile] : [tenant.app], {
      admin_user_id: tenant.admin,
      time_zone: tenant.timeZone,
      currency: 'CNY',
      tax_rate: 0.06,
    });
    await givenCredit(t, tenant.id, { amount: 500, remark: 'welcome', source_id: 'campaign-1' });
    await givenCredit(t, tenant.id, { amount: 25.5, remark: 'goodwill' });
    await givenSubscription(t, tenant.id, { plan_id: tenant.plan, payment_method: 'sandbox_success' });
    const line = { description: 'Setup', resource_type: 'service', quantity: 2, unit_price: 12.5 };
    await givenRecord(t, tenant.id, { type: 'one_time', description: 'Draft fee', lines: [line] });
    await givenRecord(t, tenant.id, {
      type: 'one_time',
      app_id: tenant.app,
      description: 'Onboarding',
      lines: [line, { ...line, description: 'Training', quantity: 3, unit_price: 40, tax_rate: 0.13 }],
      finalize: true,
    });
    await givenAlert(t, tenant.id, {
      name: 'API half used',
      resource_type: 'api_requests',
      threshold_percent: 50,
      notification_channels: 'in_app',
      app_id: tenant.app,
    });
    await givenAlert(t, tenant.id, {
      name: 'Storage far over',
      resource_type: 'storage_used',
      threshold_percent: 1000,
      notification_channels: 'in_app',
    });
  }
  t.clock.set('2026-01-20T12:00:00Z');
  await ingest(
    tenants.flatMap(({ id, app }) => [
      { tenant: id, app, resource: 'api_requests', quantity: 800, at: '2026-01-18T12:00:00Z' },
      { tenant: id, app, resource: 'api_calls', quantity: 300, at: '2026-01-18T12:00:00Z' },
      { tenant: id, app, resource: 'login_attempts', quantity: 9, at: '2026-01-18T12:00:00Z' },
      { tenant: id, app, resource: 'failed_logins', quantity: 2, at: '2026-01-18T12:00:00Z' },
      { tenant: id, app, resource: 'storage_used', quantity: 14, at: '2026-01-18T12:00:00Z' },
      { tenant: id, app, resource: 'api_requests', quantity: 450, at: '2026-01-20T11:00:00Z' },
      { tenant: id, app, resource: 'bandwidth_used', quantity: 4096, at: '2026-01-20T11:00:00Z' },
      { tenant: id, app, resource: 'user_count', quantity: 6, at: '2026-01-20T11:00:00Z' },
      { tenant: id, app, resource: 'mfa_verifications', quantity: 3, at: '2026-01-20T11:00:00Z' },
    ]),
  );
  await ingest([
    { tenant: alpha, app: alphaMobile, resource: 'api_calls', quantity: 40, at: '2026-01-18T13:00:00Z' },
    { tenant: alpha, app: alphaMobile, resource: 'storage_used', quantity: 5, at: '2026-01-18T13:00:00Z' },
  ]);
  t.clock.set('2026-02-05T00:00:00Z');
  const run = await billingRun(t, '2026-02-05T00:00:00Z');
  expect(run.failures).toEqual([]);
  // Usage of the current period, so its metering row (metered so far) is not all zeros.
  t.clock.set('2026-02-06T00:00:00Z');
  await ingest(
    tenants.map(({ id, app }) => ({
      tenant: id,
      app,
      resource: 'api_requests',
      quantity: 70,
      at: '2026-02-05T20:00:00Z',
    })),
  );
};

beforeAll(async () => {
  t = await createTestApp();
  await buildData();
}, 30_000);
afterAll(() => t.close());

const auditRows = async () =>
  t.database.db.selectFrom('export_audit_log').selectAll().orderBy('occurred_at').orderBy('event').execute();

/** Ids of what the third tenant holds (its tenant, app, records, credit transactions, alerts), from the database. */
const gammaIds = async (): Promise<string[]> => {
  const records = await t.database.db
    .selectFrom('billing_records')
    .select('id')
    .where('tenant_id', '=', gamma)
    .execute();
  const transactions = await t.database.db
    .selectFrom('ledger_transactions')
    .select('id')
    .where('tenant_id', '=', gamma)
    .execute();
  const alerts = await t.database.db.selectFrom('usage_alerts').select('id').where('tenant_id', '=', gamma).execute();
  return [gamma, 'app_gamma_web', ...[...records, ...transactions, ...alerts].map((row) => row.id)];
};

// ---------------------------------------------------------------- tests

describe('what a user gets', () => {
  it("exports both tenants the user administers, each kind non-empty, and nothing of another admin's tenant", async () => {
    const { body, text } = await exported({ user_id: owner });
    expect(body.code).toBe(200);
    expect(body.data.user_id).toBe(owner);
    expect(body.data.tenants.map((tenant) => tenant.tenant_id)).toEqual([alpha, beta]);
    for (const tenant of body.data.tenants) {
      expect(Object.keys(tenant).sort()).toEqual(['tenant_id', ...kinds].sort());
      for (const kind of kinds) {
        if (kind !== 'credit_balance') expect(tenant[kind].length, `${tenant.tenant_id} ${kind}`).toBeGreaterThan(0);
      }
      expect(tenant.credit_balance.tenant_id).toBe(tenant.tenant_id);
      expect(tenant.billing_records.some((record) => record.line_items.length > 0)).toBe(true);
      // Every item is the tenant's own.
      for (const kind of ['subscriptions', 'billing_records', 'credit_transactions', 'usage_alerts'] as const) {
        for (const item of tenant[kind]) expect(item.tenant_id, kind).toBe(tenant.tenant_id);
      }
    }
    const thirdTenantIds = await gammaIds();
    // Two records, four credit transactions, two alerts at least: the check below is not vacuous.
    expect(thirdTenantIds.length).toBeGreaterThanOrEqual(2 + 2 + 4 + 2);
    expect(thirdTenantIds.filter((id) => text.includes(id))).toEqual([]);
  });

  it('narrows to one tenant with tenant_id', async () => {
    const { body, text } = await exported({ user_id: owner, tenant_id: beta });
    expect(body.data.tenants.map((tenant) => tenant.tenant_id)).toEqual([beta]);
    expect(text).not.toContain(alpha);
    expect(text).not.toContain(gamma);
    const whole = await exported({ user_id: owner });
    expect(body.data.tenants[0]).toEqual(whole.body.data.tenants.find((tenant) => tenant.tenant_id === beta));
  });

  it('is a 404 for a tenant the user does not administer, or that does not exist, and for a user with no tenant', async () => {
    const messages: string[] = [];
    for (const payload of [
      { user_id: owner, tenant_id: gamma },
      { user_id: owner, tenant_id: 'tnt_export_nowhere' },
      { user_id: 'usr_nobody' },
    ]) {
      const response = await postExport(payload);
      expect(response.statusCode, JSON.stringify(payload)).toBe(404);
      expect(response.json()).toMatchObject({ code: 404, error: { type: 'not_found' } });
      expect(response.body).not.toContain(gamma);
      expectNothingLeaked(response.body);
      messages.push(response.json<{ message: string }>().message);
    }
    // Someone else's tenant and no tenant at all are told apart by nothing.
    expect(messages[0]).toBe(messages[1]);
  });
});

describe('the shape of every item', () => {
  it("has exactly the seed DTO's fields with the seed's JSON types", async () => {
    const { body } = await exported({ user_id: owner });
    expect(Object.keys(body).sort()).toEqual(['code', 'data', 'message', 'timestamp']);
    expect(Number.isInteger(body.code)).toBe(true);
    expect(typeof body.message).toBe('string');
    expect(body.timestamp).toBe('2026-02-06T00:00:00Z');
    expect(Object.keys(body.data).sort()).toEqual(['generated_at', 'tenants', 'user_id']);
    expect(body.data.generated_at).toBe('2026-02-06T00:00:00Z');

    const problems: string[] = [];
    const seen = new Map<string, Set<string>>();
    /** Which nullable fields were seen null and which with a value: both should be covered. */
    const note = (dtoName: string, item: Item, dto: Dto) => {
      for (const [field, spec] of Object.entries(dto)) {
        if (spec.nullable !== true) continue;
        const key = `${dtoName}.${field}`;
        if (!seen.has(key)) seen.set(key, new Set());
        seen.get(key)?.add(item[field] === null ? 'null' : 'value');
      }
    };
    const check = (dtoName: keyof typeof seed, item: Item, where: string) => {
      const dto: Dto = seed[dtoName];
      problems.push(...shapeProblems(item, dto, `${where} ${dtoName}`));
      note(dtoName, item, dto);
    };
    for (const tenant of body.data.tenants) {
      const where = tenant.tenant_id;
      for (const item of tenant.subscriptions) check('SubscriptionResponse', item, where);
      for (const record of tenant.billing_records) {
        check('BillingRecordResponse', record, where);
        for (const line of record.line_items) check('InvoiceLineItemResponse', line, `${where} ${record.record_id}`);
      }
      check('CreditBalanceResponse', tenant.credit_balance, where);
      for (const item of tenant.credit_transactions) check('CreditTransactionResponse', item, where);
      for (const item of tenant.usage_stats) check('UsageStatsExportItem', item, where);
      for (const item of tenant.usage_alerts) check('UsageAlertResponse', item, where);
      for (const item of tenant.metering_records) check('MeteredBillingExportItem', item, where);
    }
    expect(problems).toEqual([]);
    // The data has both a null and a value for every field allowed to be null.
    expect(Object.fromEntries([...seen].map(([key, kinds]) => [key, [...kinds].sort()]))).toEqual(
      Object.fromEntries([...seen.keys()].map((key) => [key, ['null', 'value']])),
    );
    expect(seen.size).toBe(6);
  });
});

describe('the values', () => {
  let body: ExportBody;
  beforeAll(async () => {
    body = (await exported({ user_id: owner })).body;
  });
  const tenantIn = (tenantId: string): TenantExport => {
    const tenant = body.data.tenants.find((entry) => entry.tenant_id === tenantId);
    if (tenant === undefined) throw new Error(`${tenantId} not exported`);
    return tenant;
  };

  it.each([alpha, beta])('are what the other endpoints show for %s', async (tenantId) => {
    const tenant = tenantIn(tenantId);

    const subscription = await readAs<{ data: Item }>(tenantId, `/billing/subscriptions/${tenantId}`);
    expect(tenant.subscriptions).toEqual([seedFieldsOf(subscription.data, seed.SubscriptionResponse)]);
    expect(tenant.subscriptions[0]?.admin_user_id).toBe(owner);

    // Each record as its detail shows it; the finalised ones are all of the search's, plus the draft.
    for (const record of tenant.billing_records) {
      const detail = await readAs<{ data: Item & { line_items: Item[] } }>(
        tenantId,
        `/billing/records/${tenantId}/${record.record_id}`,
      );
      expect(record).toEqual({
        ...seedFieldsOf(detail.data, seed.BillingRecordResponse),
        line_items: detail.data.line_items.map((line) => seedFieldsOf(line, seed.InvoiceLineItemResponse)),
      });
    }
    const searched = await readAs<{ items: { record_id: string }[]; total: number }>(
      tenantId,
      `/billing/records/${tenantId}/search?page_size=100`,
    );
    const drafts = tenant.billing_records.filter((record) => record.status === 'draft');
    expect(drafts.map((record) => record.description)).toEqual(['Draft fee']);
    expect(tenant.billing_records.map((record) => record.record_id).sort()).toEqual(
      [...searched.items.map((record) => record.record_id), ...drafts.map((record) => record.record_id)].sort(),
    );

    const balance = await readAs<{ data: Item }>(tenantId, `/billing/credit-balance/${tenantId}`);
    expect(tenant.credit_balance).toEqual(balance.data);

    const transactions = await readAs<{ items: Item[]; total: number }>(
      tenantId,
      `/billing/credit-transactions/${tenantId}?page_size=100`,
    );
    const byId = (x: Item, y: Item) => String(x.id).localeCompare(String(y.id));
    expect([...tenant.credit_transactions].sort(byId)).toEqual(
      transactions.items.map((item) => seedFieldsOf(item, seed.CreditTransactionResponse)).sort(byId),
    );
    // The newest transaction's balance is the balance.
    expect(transactions.items[0]?.balance).toBe(balance.data.balance);

    // Per day with any usage (the stats list every day), all apps; API requests under either name
    // are the export's api_requests.
    const stats = await readAs<{ items: (Item & { date: string; api_calls: number; api_requests: number })[] }>(
      tenantId,
      `/billing/usage/${tenantId}/stats?date_from=2025-12-01&date_to=2026-02-28&page_size=100`,
    );
    const byDate = (x: Item, y: Item) => String(x.date).localeCompare(String(y.date));
    expect([...tenant.usage_stats].sort(byDate)).toEqual(
      stats.items
        .filter((day) => Object.values(day).some((value) => typeof value === 'number' && value > 0))
        .map((day) => ({
          ...seedFieldsOf(day, seed.UsageStatsExportItem),
          api_requests: day.api_requests + day.api_calls,
        }))
        .sort(byDate),
    );
    expect(tenant.usage_stats.find((day) => day.date === '2026-01-18')).toMatchObject(
      tenantId === alpha ? { api_requests: 800 + 300 + 40, storage_used: 14 + 5 } : { api_requests: 800 + 300 },
    );

    const alerts = await readAs<{ items: Item[] }>(tenantId, `/billing/usage-alerts/${tenantId}?page_size=100`);
    expect([...tenant.usage_alerts].sort(byId)).toEqual(
      alerts.items.map((alert) => seedFieldsOf(alert, seed.UsageAlertResponse)).sort(byId),
    );

    const metering = await readAs<{ items: Item[] }>(tenantId, `/billing/usage/${tenantId}/metering?page_size=100`);
    expect(tenant.metering_records).toEqual(
      metering.items.map((row) => seedFieldsOf(row, seed.MeteredBillingExportItem)),
    );
    expect(tenant.metering_records.some((row) => row.status === 'pending' && Number(row.total_usage) > 0)).toBe(true);
  });

  it('has the amounts that were posted: the record lines, the credit moves and their running balance', () => {
    const tenant = tenantIn(alpha);
    const onboarding = tenant.billing_records.find((record) => record.description === 'Onboarding');
    // 2 × 12.50 = 25.00 at the tenant's 6 %, and 3 × 40 = 120.00 at 13 %.
    expect(onboarding).toMatchObject({ amount: 145, app_id: 'app_alpha_web', type: 'one_time', currency: 'CNY' });
    expect(onboarding?.line_items).toEqual([
      {
        amount: 25,
        description: 'Setup',
        quantity: 2,
        resource_type: 'service',
        tax_amount: 1.5,
        tax_rate: 0.06,
        unit_price: 12.5,
      },
      {
        amount: 120,
        description: 'Training',
        quantity: 3,
        resource_type: 'service',
        tax_amount: 15.6,
        tax_rate: 0.13,
        unit_price: 40,
      },
    ]);
    const promos = tenant.credit_transactions.filter((item) => item.source === 'promo');
    expect(promos.map((item) => [item.amount, item.source_id, item.remark]).sort()).toEqual(
      [
        [25.5, null, 'goodwill'],
        [500, 'campaign-1', 'welcome'],
      ].sort(),
    );
    // The credits less the debits are the balance.
    const replayed = tenant.credit_transactions.reduce(
      (sum, item) => sum + (item.type === 'credit' ? item.amount : -item.amount) * 100,
      0,
    );
    expect(Math.round(replayed) / 100).toBe(tenant.credit_balance.balance);
  });
});

describe('who may ask', () => {
  it('refuses a caller without a token (401), a tenant admin and a platform admin without the service role (403)', async () => {
    const before = (await auditRows()).length;
    const unauthenticated = await t.app.inject({
      method: 'POST',
      url: '/internal/billing/export-user-data',
      payload: { user_id: owner },
    });
    expect(unauthenticated.statusCode).toBe(401);
    expectNothingLeaked(unauthenticated.body);

    for (const headers of [
      await t.as.tenant(alpha),
      // The user asking for their own data is not the compliance service either.
      bearer(await t.token({ userId: owner, tenantId: alpha, roles: ['tenant_admin'] })),
      await t.as.platformAdmin(),
    ]) {
      const response = await postExport({ user_id: owner }, headers);
      expect(response.statusCode, response.body).toBe(403);
      expect(response.json()).toMatchObject({ code: 403, error: { type: 'forbidden' } });
      expect(response.body).not.toContain(alpha);
      expectNothingLeaked(response.body);
    }
    expect((await auditRows()).length).toBe(before);
  });

  it.each([
    ['a missing user_id', {}, 'user_id'],
    ['an unknown field', { user_id: owner, tenant_ids: [alpha] }, 'tenant_ids'],
    ['a numeric user_id', { user_id: 42 }, 'user_id'],
    ['a null user_id', { user_id: null }, 'user_id'],
    ['a malformed user_id', { user_id: 'usr owner; drop table tenants' }, 'user_id'],
    ['an empty user_id', { user_id: '' }, 'user_id'],
    ['a tenant_id of the wrong type', { user_id: owner, tenant_id: 7 }, 'tenant_id'],
    ['a malformed tenant_id', { user_id: owner, tenant_id: 'export_alpha' }, 'tenant_id'],
  ])('refuses %s with a 400 naming the parameter', async (_what, payload, parameter) => {
    const before = (await auditRows()).length;
    const response = await postExport(payload);
    expect(response.statusCode, response.body).toBe(400);
    const error = response.json<{ code: number; message: string; error: { details: { parameter?: string }[] } }>();
    expect(error.code).toBe(400);
    expect(error.error.details.map((detail) => detail.parameter)).toContain(parameter);
    expect(error.message).toContain(parameter);
    expectNothingLeaked(response.body);
    expect((await auditRows()).length).toBe(before);
  });

  it('refuses a body that is not JSON with a 400', async () => {
    const response = await t.app.inject({
      method: 'POST',
      url: '/internal/billing/export-user-data',
      headers: { ...bearer(await serviceToken()), 'content-type': 'application/json' },
      payload: '{"user_id":',
    });
    expect(response.statusCode).toBe(400);
    expectNothingLeaked(response.body);
  });
});

describe('the audit log', () => {
  it('records the start and the end of an export: who asked, for whom, which tenants and the rows of each kind', async () => {
    const requester = 'svc_audit_whole';
    const { body } = await exported({ user_id: owner }, bearer(await serviceToken(requester)));
    const rows = (await auditRows()).filter((row) => row.requested_by === requester);
    expect(rows.map((row) => row.event)).toEqual(['completed', 'started'].sort());
    const started = rows.find((row) => row.event === 'started');
    const completed = rows.find((row) => row.event === 'completed');
    expect(completed?.id).toBe(started?.id);
    for (const row of rows) {
      expect(row).toMatchObject({
        requested_by: requester,
        user_id: owner,
        tenant_filter: null,
        tenant_ids: [alpha, beta],
        error: null,
      });
    }
    expect(started?.row_counts).toBeNull();
    expect(completed?.row_counts).toEqual(countsOf(body));
    expect(countsOf(body).billing_records).toBeGreaterThan(2);
  });

  it('records the tenant filter and only that tenant', async () => {
    const requester = 'svc_audit_one';
    const { body } = await exported({ user_id: owner, tenant_id: alpha }, bearer(await serviceToken(requester)));
    const rows = (await auditRows()).filter((row) => row.requested_by === requester);
    expect(rows).toHaveLength(2);
    for (const row of rows) expect(row).toMatchObject({ user_id: owner, tenant_filter: alpha, tenant_ids: [alpha] });
    expect(rows.find((row) => row.event === 'completed')?.row_counts).toEqual(countsOf(body));
  });

  it('writes nothing for a refused request', async () => {
    const before = await auditRows();
    expect((await postExport({ user_id: owner, tenant_id: gamma })).statusCode).toBe(404);
    expect((await postExport({ user_id: 'usr_nobody' })).statusCode).toBe(404);
    expect((await postExport({ user_id: owner }, await t.as.platformAdmin())).statusCode).toBe(403);
    expect(await auditRows()).toEqual(before);
  });
});

describe('streaming', () => {
  const bulkUser = 'usr_bulk_owner';
  const bulk = 'tnt_export_bulk';
  const records = 1_200;
  const transactions = 1_200;
  const days = 1_200;

  it('writes every row exactly once across batches of 500, as complete JSON', async () => {
    await givenTenant(t, bulk, { admin_user_id: bulkUser, currency: 'CNY' });
    await givenApp(t, bulk, 'app_bulk');
    const db = t.database.db;
    const at = '2026-02-06T00:00:00Z';
    // Ids from md5, so id order is not insertion order; record n has 1 + n % 3 lines.
    await sql`
      insert into billing_records (tenant_id, id, app_id, type, status, currency, description, amount, tax_amount,
                                   total_amount, invoice_number, search_text, created_at, finalized_at, due_at,
                                   updated_at)
      select ${bulk}, 'rec_' || substr(md5('rec:' || n), 1, 16), null, 'one_time', 'pending', 'CNY', 'Bulk ' || n,
             n * 100, 0, n * 100, 'INV-2026-B' || lpad(n::text, 5, '0'), 'bulk ' || n, ${at}::timestamptz,
             ${at}::timestamptz, ${at}::timestamptz, ${at}::timestamptz
      from generate_series(1, ${records}::int) as n`.execute(db);
    await sql`
      insert into billing_record_lines (tenant_id, record_id, line_no, description, resource_type, quantity,
                                        unit_price, amount, tax_rate, tax_amount)
      select ${bulk}, 'rec_' || substr(md5('rec:' || n), 1, 16), line_no, 'Bulk ' || n || ' line ' || line_no,
             'service', 1, 0, 0, 0, 0
      from generate_series(1, ${records}::int) as n, generate_series(1, 1 + n % 3) as line_no`.execute(db);
    // One ledger_post per transaction, as the service posts them: the triggers keep the chain.
    await sql`
      select ledger_post(${bulk}, 'ctr_' || substr(md5('ctr:' || n), 1, 16), 'credit', n::bigint, 'promo', null,
                         'bulk ' || n, ${at}::timestamptz + n * interval '1 second', 'CNY', 'cash', 'source:promo')
      from generate_series(1, ${transactions}::int) as n`.execute(db);
    // Days with api_requests n, and on even days api_calls 1 too: one export item per day.
    await sql`
      insert into usage_daily (tenant_id, app_id, resource_type, usage_date, aggregation, quantity, latest_at,
                               event_count, updated_at)
      select ${bulk}, 'app_bulk', r.resource_type, date '2022-01-01' + n, 'sum', r.quantity, ${at}::timestamptz, 1,
             ${at}::timestamptz
      from generate_series(1, ${days}::int) as n
      cross join lateral (values ('api_requests', n::bigint), ('api_calls', 1::bigint)) as r (resource_type, quantity)
      where r.resource_type = 'api_requests' or n % 2 = 0`.execute(db);

    const { body, text } = await exported({ user_id: bulkUser });
    expect(text.endsWith('}')).toBe(true);
    const [tenant] = body.data.tenants;
    expect(body.data.tenants).toHaveLength(1);
    if (tenant === undefined) throw new Error('no tenant exported');

    const recordIds = tenant.billing_records.map((record) => record.record_id);
    expect(new Set(recordIds).size).toBe(records);
    expect(recordIds).toHaveLength(records);
    for (const record of tenant.billing_records) {
      const n = Number(/^Bulk (\d+)$/.exec(String(record.description))?.[1]);
      expect(record.amount).toBe(n);
      expect(record.line_items.map((line) => line.description)).toEqual(
        Array.from({ length: 1 + (n % 3) }, (_, i) => `Bulk ${n} line ${i + 1}`),
      );
    }

    const transactionIds = tenant.credit_transactions.map((item) => item.id);
    expect(new Set(transactionIds).size).toBe(transactions);
    expect(transactionIds).toHaveLength(transactions);
    // Credit n moved n fen; its balance is 1 + … + n fen.
    for (const item of tenant.credit_transactions) {
      const n = Math.round(item.amount * 100);
      expect(Math.round(item.balance * 100), item.id).toBe((n * (n + 1)) / 2);
    }
    expect(tenant.credit_balance.balance).toBe((transactions * (transactions + 1)) / 2 / 100);

    const dates = tenant.usage_stats.map((day) => day.date);
    expect(new Set(dates).size).toBe(days);
    expect(dates).toEqual([...dates].sort());
    for (const [index, day] of tenant.usage_stats.entries()) {
      const n = index + 1;
      expect(day.api_requests, day.date).toBe(n + (n % 2 === 0 ? 1 : 0));
    }

    const completed = (await auditRows()).find((row) => row.user_id === bulkUser && row.event === 'completed');
    expect(completed?.row_counts).toEqual(countsOf(body));
    expect(countsOf(body)).toMatchObject({
      billing_records: records,
      credit_transactions: transactions,
      usage_stats: days,
    });
  }, 30_000);

  // Needs the bulk tenant above: a small export fits in its first write and is over before any client could leave.
  it('records a stream that ended early, when the client went away, as failed with the counts so far', async () => {
    const stream = unwrap(
      await exportUserData(t.database.db, t.clock, { userId: bulkUser, tenantId: undefined, requestedBy: 'svc_gone' }),
    );
    const firstChunk = await new Promise<unknown>((resolve) =>
      stream.once('data', (chunk) => {
        stream.pause();
        resolve(chunk);
      }),
    );
    expect(String(firstChunk)).toMatch(/^\{"code":200/);
    // What Fastify does when the client disconnects midway (sendStream in fastify/lib/reply.js):
    // payload.destroy(), with no error.
    stream.destroy();
    await once(stream, 'close');
    const exportRows = async () => (await auditRows()).filter((row) => row.requested_by === 'svc_gone');
    expect((await exportRows()).map((row) => row.event)).toContain('started');
    // Give an end row written on the way out time to land.
    await vi.waitFor(async () => expect((await exportRows()).map((row) => row.event)).toContain('failed'), {
      timeout: 2_000,
    });
    const failed = (await exportRows()).find((row) => row.event === 'failed');
    const started = (await exportRows()).find((row) => row.event === 'started');
    expect(failed).toMatchObject({ id: started?.id, user_id: bulkUser, tenant_ids: [bulk] });
    expect(typeof failed?.error).toBe('string');
    expect(Object.keys(failed?.row_counts ?? {}).sort()).toEqual([...kinds].sort());
  });
});
