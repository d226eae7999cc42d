import type { LightMyRequestResponse } from 'fastify';
import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { resourceAggregation, resourceTypes, type ResourceType } from '../../core/resources.js';
import { asPlatformAdmin, asService } from '../../testing/api.js';
import { comparable, expectError, expectInvalid } from '../../testing/envelopes.js';
import { givenTenantWithApps, usageEvent as newUsageEvent } from '../../testing/fixtures.js';
import { createTestApp, type TestApp } from '../../testing/test-app.js';
import type { IngestResultView, ListBody, UsageDayView } from '../../testing/views.js';

type Headers = Record<string, string>;
type Outcome = IngestResultView['results'][number];
type DayRow = UsageDayView;
type StatsPage = ListBody<DayRow>;
type UsageEventBody = Record<string, unknown>;

/** Where the clock stands unless a test moves it: 20:00 in Shanghai and 07:00 in New York, both on 2026-01-01. */
const now = '2026-01-01T12:00:00Z';
const today = '2026-01-01';
const sumResources = resourceTypes.filter((type) => resourceAggregation[type] === 'sum');

let t: TestApp;

beforeAll(async () => {
  t = await createTestApp();
});

afterAll(() => t.close());

beforeEach(() => {
  t.clock.set(now);
});

let tenantSeq = 0;

/** A tenant of its own per test with two apps, so no test sees another's usage. */
const givenUsageTenant = async (settings: Record<string, unknown> = {}, on: TestApp = t) => {
  const n = ++tenantSeq;
  const tenantId = `tnt_usage_${n}`;
  const appId = `app_usage_${n}_a`;
  const otherAppId = `app_usage_${n}_b`;
  await givenTenantWithApps(on, tenantId, [appId, otherAppId], settings);
  return { tenantId, appId, otherAppId };
};

/** An api_requests event of 1 at the clock's start, with a fresh event_id unless told otherwise. */
const usageEvent = (tenantId: string, appId: string, overrides: UsageEventBody = {}): UsageEventBody => ({
  ...newUsageEvent({ tenantId, appId, resourceType: 'api_requests', quantity: 1, timestamp: now }),
  ...overrides,
});

const postEvents = async (body: unknown, headers?: Headers, on: TestApp = t): Promise<LightMyRequestResponse> =>
  on.app.inject({
    method: 'POST',
    url: '/billing/usage/events',
    headers: { 'content-type': 'application/json', ...(headers ?? (await on.as.service())) },
    payload: JSON.stringify(body),
  });

/** A batch that must be answered 200, with one outcome per event in batch order and counts that add up. */
const ingest = async (events: unknown[]): Promise<IngestResultView> => {
  const response = await postEvents({ events });
  expect(response.statusCode, response.body).toBe(200);
  const result = response.json<{ data: IngestResultView }>().data;
  expect(result.results.map((outcome) => outcome.index)).toEqual(events.map((_, index) => index));
  const tally = (status: Outcome['status']) => result.results.filter((outcome) => outcome.status === status).length;
  expect([result.accepted, result.duplicates, result.rejected]).toEqual([
    tally('accepted'),
    tally('duplicate'),
    tally('rejected'),
  ]);
  return result;
};

const statusesOf = (result: IngestResultView): Outcome['status'][] => result.results.map((outcome) => outcome.status);

const getStats = async (
  tenantId: string,
  query: Record<string, string | number> = {},
  headers?: Headers,
  on: TestApp = t,
): Promise<LightMyRequestResponse> => {
  const search = new URLSearchParams(
    Object.entries(query).map(([key, value]): [string, string] => [key, String(value)]),
  );
  return on.app.inject({
    method: 'GET',
    url: `/billing/usage/${tenantId}/stats${search.size === 0 ? '' : `?${search.toString()}`}`,
    headers: headers ?? (await on.as.tenant(tenantId)),
  });
};

const statsPage = async (
  tenantId: string,
  query: Record<string, string | number> = {},
  on: TestApp = t,
): Promise<StatsPage> => {
  const response = await getStats(tenantId, query, undefined, on);
  expect(response.statusCode, response.body).toBe(200);
  return response.json<StatsPage>();
};

/** One day's row of the tenant's stats: all apps, or one. */
const usageOn = async (tenantId: string, date: string, appId?: string, on: TestApp = t): Promise<DayRow> => {
  const page = await statsPage(
    tenantId,
    { date_from: date, date_to: date, ...(appId === undefined ? {} : { app_id: appId }) },
    on,
  );
  expect(page.items).toHaveLength(1);
  return page.items[0]!;
};

const zeros = (date: string): DayRow =>
  ({ date, ...Object.fromEntries(resourceTypes.map((type) => [type, 0])), metrics: {} }) as DayRow;

const dayWith = (date: string, values: Partial<Record<ResourceType, number>>): DayRow => ({
  ...zeros(date),
  ...values,
});

const storedEventCount = async (tenantId: string, on: TestApp = t): Promise<number> => {
  const row = await on.database.db
    .selectFrom('usage_events')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('tenant_id', '=', tenantId)
    .executeTakeFirstOrThrow();
  return Number(row.n);
};

describe('exactly once', () => {
  it('answers a replayed batch with duplicates only and counts nothing more', async () => {
    const { tenantId, appId, otherAppId } = await givenUsageTenant();
    const events = [
      usageEvent(tenantId, appId, { quantity: 3 }),
      usageEvent(tenantId, otherAppId, { quantity: 4 }),
      usageEvent(tenantId, appId, { resource_type: 'storage_used', quantity: 500 }),
      usageEvent(tenantId, appId, { resource_type: 'user_count', quantity: 7, properties: { source: 'sync' } }),
    ];
    const first = await ingest(events);
    expect(first).toMatchObject({ accepted: 4, duplicates: 0, rejected: 0 });
    const counted = dayWith(today, { api_requests: 7, storage_used: 500, user_count: 7 });
    expect(await usageOn(tenantId, today)).toEqual(counted);

    const replay = await ingest(events);
    expect(replay).toEqual({
      accepted: 0,
      duplicates: 4,
      rejected: 0,
      results: events.map((event, index) => ({ index, event_id: event.event_id, status: 'duplicate' })),
    });
    expect(await usageOn(tenantId, today)).toEqual(counted);
    expect(await storedEventCount(tenantId)).toBe(4);
  });

  it.each([
    ['another app', (other: string) => ({ app_id: other })],
    ['another resource type', () => ({ resource_type: 'api_calls' })],
    ['another quantity', () => ({ quantity: 6 })],
    ['another timestamp', () => ({ timestamp: '2026-01-01T11:59:59Z' })],
    ['other properties', () => ({ properties: { region: 'eu' } })],
    ['properties added', () => ({ properties: { region: 'cn', extra: true } })],
  ])('rejects an event_id counted before, sent again with %s', async (_label, change) => {
    const { tenantId, appId, otherAppId } = await givenUsageTenant();
    const original = usageEvent(tenantId, appId, { quantity: 5, properties: { region: 'cn' } });
    await ingest([original]);
    const altered = { ...original, ...change(otherAppId) };
    const result = await ingest([altered]);
    expect(result).toEqual({
      accepted: 0,
      duplicates: 0,
      rejected: 1,
      results: [
        {
          index: 0,
          event_id: original.event_id,
          status: 'rejected',
          reason: expect.stringMatching(/another payload/) as string,
        },
      ],
    });
    expect(await usageOn(tenantId, today)).toEqual(dayWith(today, { api_requests: 5 }));
    expect(await storedEventCount(tenantId)).toBe(1);
  });

  it('takes the same instant in another notation and the same properties in another key order as a replay', async () => {
    const { tenantId, appId } = await givenUsageTenant();
    const original = usageEvent(tenantId, appId, {
      quantity: 2,
      timestamp: '2026-01-01T08:00:00Z',
      properties: { a: 1, b: 2 },
    });
    await ingest([original]);
    const renotated = { ...original, timestamp: '2026-01-01T16:00:00+08:00', properties: { b: 2, a: 1 } };
    expect(statusesOf(await ingest([renotated]))).toEqual(['duplicate']);
    expect(await usageOn(tenantId, today)).toEqual(dayWith(today, { api_requests: 2 }));
  });

  it('within one batch, counts an event once, its repeat as a duplicate and the same id with another payload not at all', async () => {
    const { tenantId, appId } = await givenUsageTenant();
    const event = usageEvent(tenantId, appId, { quantity: 10 });
    const other = usageEvent(tenantId, appId, { quantity: 1 });
    const result = await ingest([event, { ...event, quantity: 1000 }, event, other]);
    expect(result).toEqual({
      accepted: 2,
      duplicates: 1,
      rejected: 1,
      results: [
        { index: 0, event_id: event.event_id, status: 'accepted' },
        {
          index: 1,
          event_id: event.event_id,
          status: 'rejected',
          reason: expect.stringMatching(/another payload/) as string,
        },
        { index: 2, event_id: event.event_id, status: 'duplicate' },
        { index: 3, event_id: other.event_id, status: 'accepted' },
      ],
    });
    expect(await usageOn(tenantId, today)).toEqual(dayWith(today, { api_requests: 11 }));
    expect(await storedEventCount(tenantId)).toBe(2);
  });

  it('counts the same event_id once in each of two tenants', async () => {
    const first = await givenUsageTenant();
    const second = await givenUsageTenant();
    const shared = 'evt_shared_between_tenants';
    const batch = [
      usageEvent(first.tenantId, first.appId, { event_id: shared, quantity: 3 }),
      usageEvent(second.tenantId, second.appId, { event_id: shared, quantity: 8 }),
    ];
    expect(statusesOf(await ingest(batch))).toEqual(['accepted', 'accepted']);
    expect(statusesOf(await ingest(batch))).toEqual(['duplicate', 'duplicate']);
    expect(await usageOn(first.tenantId, today)).toEqual(dayWith(today, { api_requests: 3 }));
    expect(await usageOn(second.tenantId, today)).toEqual(dayWith(today, { api_requests: 8 }));
  });

  it('reports every event in batch order, with its index and event_id when it has a readable one', async () => {
    const { tenantId, appId } = await givenUsageTenant();
    const counted = usageEvent(tenantId, appId, { quantity: 2 });
    const later = usageEvent(tenantId, appId, { quantity: 5 });
    const result = await ingest([
      'not an event',
      counted,
      usageEvent(tenantId, appId, { event_id: 'has a space' }),
      usageEvent(tenantId, appId, { quantity: -1, event_id: 'evt_negative_in_order' }),
      counted,
      later,
    ]);
    expect(result.results).toEqual([
      { index: 0, event_id: null, status: 'rejected', reason: expect.stringMatching(/JSON object/) as string },
      { index: 1, event_id: counted.event_id, status: 'accepted' },
      { index: 2, event_id: null, status: 'rejected', reason: expect.stringMatching(/event_id/) as string },
      {
        index: 3,
        event_id: 'evt_negative_in_order',
        status: 'rejected',
        reason: expect.stringMatching(/quantity/) as string,
      },
      { index: 4, event_id: counted.event_id, status: 'duplicate' },
      { index: 5, event_id: later.event_id, status: 'accepted' },
    ]);
    expect(result).toMatchObject({ accepted: 2, duplicates: 1, rejected: 3 });
    expect(await usageOn(tenantId, today)).toEqual(dayWith(today, { api_requests: 7 }));
  });
});

describe('refused events', () => {
  it('refuses each bad event with its reason and still counts the good ones of the batch', async () => {
    const { tenantId, appId } = await givenUsageTenant();
    const stranger = await givenUsageTenant();
    const bad: [UsageEventBody, RegExp][] = [
      [{ tenant_id: 'tnt_usage_ghost' }, /tenant tnt_usage_ghost does not exist/],
      [{ app_id: stranger.appId }, new RegExp(`app ${stranger.appId} is not an app of ${tenantId}`)],
      [{ app_id: 'app_usage_ghost' }, new RegExp(`app app_usage_ghost is not an app of ${tenantId}`)],
      [{ resource_type: 'cpu_seconds' }, /resource_type "cpu_seconds" is not a billable metric/],
      [{ quantity: -1 }, /quantity must be a whole number/],
      [{ quantity: 1.5 }, /quantity must be a whole number/],
      [{ quantity: '5' }, /quantity must be a whole number/],
      [{ timestamp: 'not a time' }, /timestamp must be an RFC 3339 time/],
      [{ timestamp: '2026-01-01T12:05:01Z' }, /timestamp is in the future/],
      [{ timestamp: '2025-12-29T11:59:59Z' }, /timestamp is older than the late-event window of 3 days/],
      [{ user_id: 'usr_1' }, /unknown field user_id/],
      [{ properties: 'region=cn' }, /properties must be a JSON object/],
      [{ properties: ['cn'] }, /properties must be a JSON object/],
    ];
    const batch: UsageEventBody[] = [];
    const expected: Outcome[] = [];
    bad.forEach(([change, reason], n) => {
      // A good event before each bad one: the refusals must not stop or undo the others.
      const good = usageEvent(tenantId, appId, { quantity: 10 ** n });
      const refused = usageEvent(tenantId, appId, { quantity: 7, ...change });
      expected.push(
        { index: batch.length, event_id: good.event_id as string, status: 'accepted' },
        {
          index: batch.length + 1,
          event_id: refused.event_id as string,
          status: 'rejected',
          reason: expect.stringMatching(reason) as string,
        },
      );
      batch.push(good, refused);
    });
    const result = await ingest(batch);
    expect(result.results).toEqual(expected);
    expect(result).toMatchObject({ accepted: bad.length, duplicates: 0, rejected: bad.length });
    // 1 + 10 + … + 10^12: each digit 1 is one good event, a 7 anywhere would be a refused one counted.
    expect(await usageOn(tenantId, today)).toEqual(dayWith(today, { api_requests: Number('1'.repeat(bad.length)) }));
    expect(await storedEventCount(tenantId)).toBe(bad.length);
    expect(await storedEventCount(stranger.tenantId)).toBe(0);
  });

  it.each(['suspended', 'closed'])('refuses events of a %s tenant', async (status) => {
    const { tenantId, appId } = await givenUsageTenant();
    const patched = await asPlatformAdmin(t).patch(`/admin/tenants/${tenantId}`, { status });
    expect(patched.statusCode, patched.body).toBe(200);
    const result = await ingest([usageEvent(tenantId, appId)]);
    expect(result.results).toEqual([
      {
        index: 0,
        event_id: expect.any(String) as string,
        status: 'rejected',
        reason: `tenant ${tenantId} is ${status}`,
      },
    ]);
    expect(await storedEventCount(tenantId)).toBe(0);
    expect(await usageOn(tenantId, today)).toEqual(zeros(today));
  });

  it('refuses events of a disabled app and counts those of its sibling', async () => {
    const { tenantId, appId, otherAppId } = await givenUsageTenant();
    const disabled = await asService(t).put(`/internal/billing/tenants/${tenantId}/apps/${appId}`, {
      name: 'Disabled app',
      status: 'disabled',
    });
    expect(disabled.statusCode, disabled.body).toBe(200);
    const result = await ingest([usageEvent(tenantId, appId), usageEvent(tenantId, otherAppId, { quantity: 4 })]);
    expect(result.results[0]).toMatchObject({ status: 'rejected', reason: `app ${appId} is disabled` });
    expect(result.results[1]).toMatchObject({ status: 'accepted' });
    expect(await usageOn(tenantId, today)).toEqual(dayWith(today, { api_requests: 4 }));
  });

  it('refuses a calendar time that does not exist instead of counting it on the day it would roll over to', async () => {
    // 2025-12-31T24:00:00Z is no RFC 3339 time (hours run to 23); JavaScript reads it as 2026-01-01T00:00:00Z.
    const { tenantId, appId } = await givenUsageTenant();
    const result = await ingest([usageEvent(tenantId, appId, { timestamp: '2025-12-31T24:00:00Z' })]);
    expect(result.results[0]).toMatchObject({
      status: 'rejected',
      reason: expect.stringMatching(/RFC 3339/) as string,
    });
    expect(await storedEventCount(tenantId)).toBe(0);
  });
});

describe('the batch envelope', () => {
  // The events given are valid, so only the envelope can be the reason for the 400.
  it.each<[string, (event: () => UsageEventBody) => unknown, string]>([
    ['no events', () => ({}), 'events'],
    ['an empty events array', () => ({ events: [] }), 'events'],
    ['1,001 events', (event) => ({ events: Array.from({ length: 1001 }, event) }), 'events'],
    ['events that are an object', (event) => ({ events: event() }), 'events'],
    ['events that are a string', () => ({ events: 'evt_1' }), 'events'],
    ['an unknown top-level field', (event) => ({ events: [event()], dry_run: true }), 'dry_run'],
  ])('refuses %s with a 400 naming the parameter and counts nothing', async (_label, body, parameter) => {
    const { tenantId, appId } = await givenUsageTenant();
    expectInvalid(await postEvents(body(() => usageEvent(tenantId, appId))), parameter, 'body');
    expect(await storedEventCount(tenantId)).toBe(0);
    expect(await usageOn(tenantId, today)).toEqual(zeros(today));
  });

  it('refuses a body that is an array of events', async () => {
    const { tenantId, appId } = await givenUsageTenant();
    const response = await postEvents([usageEvent(tenantId, appId)]);
    expectError(response, 400, 'validation_error');
    expect(await storedEventCount(tenantId)).toBe(0);
  });

  it('counts a batch of exactly 1,000 events', async () => {
    const { tenantId, appId, otherAppId } = await givenUsageTenant();
    const events = Array.from({ length: 1000 }, (_, n) => usageEvent(tenantId, n % 2 === 0 ? appId : otherAppId));
    const result = await ingest(events);
    expect(result).toMatchObject({ accepted: 1000, duplicates: 0, rejected: 0 });
    expect(await usageOn(tenantId, today)).toEqual(dayWith(today, { api_requests: 1000 }));
    expect(await usageOn(tenantId, today, appId)).toEqual(dayWith(today, { api_requests: 500 }));
    expect(await storedEventCount(tenantId)).toBe(1000);
  });
});

describe('aggregation per resource', () => {
  it.each(sumResources)('adds up %s per app, and over all apps without app_id', async (resourceType) => {
    const { tenantId, appId, otherAppId } = await givenUsageTenant();
    await ingest([
      usageEvent(tenantId, appId, { resource_type: resourceType, quantity: 2, timestamp: '2026-01-01T01:00:00Z' }),
      usageEvent(tenantId, otherAppId, { resource_type: resourceType, quantity: 10 }),
    ]);
    await ingest([
      usageEvent(tenantId, appId, { resource_type: resourceType, quantity: 3, timestamp: '2026-01-01T00:30:00Z' }),
    ]);
    expect(await usageOn(tenantId, today, appId)).toEqual(dayWith(today, { [resourceType]: 5 }));
    expect(await usageOn(tenantId, today, otherAppId)).toEqual(dayWith(today, { [resourceType]: 10 }));
    expect(await usageOn(tenantId, today)).toEqual(dayWith(today, { [resourceType]: 15 }));
  });

  it('keeps the highest storage_used of the day per app, and adds the apps up', async () => {
    const { tenantId, appId, otherAppId } = await givenUsageTenant();
    const storage = (app: string, quantity: number, timestamp: string) =>
      usageEvent(tenantId, app, { resource_type: 'storage_used', quantity, timestamp });
    await ingest([
      storage(appId, 100, '2026-01-01T01:00:00Z'),
      storage(appId, 300, '2026-01-01T02:00:00Z'),
      storage(appId, 200, '2026-01-01T03:00:00Z'),
      storage(otherAppId, 50, '2026-01-01T01:00:00Z'),
    ]);
    expect(await usageOn(tenantId, today, appId)).toEqual(dayWith(today, { storage_used: 300 }));
    // A lower measurement later, then a higher one earlier, each in a batch of its own.
    await ingest([storage(appId, 250, '2026-01-01T04:00:00Z')]);
    expect(await usageOn(tenantId, today, appId)).toEqual(dayWith(today, { storage_used: 300 }));
    await ingest([storage(appId, 400, '2026-01-01T00:30:00Z')]);
    expect(await usageOn(tenantId, today, appId)).toEqual(dayWith(today, { storage_used: 400 }));
    expect(await usageOn(tenantId, today, otherAppId)).toEqual(dayWith(today, { storage_used: 50 }));
    expect(await usageOn(tenantId, today)).toEqual(dayWith(today, { storage_used: 450 }));
  });

  it('keeps the latest user_count by timestamp: a late older measurement does not replace a newer one', async () => {
    const { tenantId, appId, otherAppId } = await givenUsageTenant();
    const users = (app: string, quantity: number, timestamp: string) =>
      usageEvent(tenantId, app, { resource_type: 'user_count', quantity, timestamp });
    await ingest([
      users(appId, 10, '2026-01-01T00:00:00Z'),
      users(appId, 12, '2026-01-01T02:00:00Z'),
      users(appId, 11, '2026-01-01T01:00:00Z'),
      users(otherAppId, 5, '2026-01-01T00:00:00Z'),
    ]);
    expect(await usageOn(tenantId, today, appId)).toEqual(dayWith(today, { user_count: 12 }));
    await ingest([users(appId, 99, '2026-01-01T01:30:00Z')]);
    expect(await usageOn(tenantId, today, appId)).toEqual(dayWith(today, { user_count: 12 }));
    await ingest([users(appId, 8, '2026-01-01T03:00:00Z')]);
    expect(await usageOn(tenantId, today, appId)).toEqual(dayWith(today, { user_count: 8 }));
    expect(await usageOn(tenantId, today)).toEqual(dayWith(today, { user_count: 13 }));
  });

  it('at equal timestamps takes the user_count of the batch counted last', async () => {
    const { tenantId, appId } = await givenUsageTenant();
    const users = (quantity: number) =>
      usageEvent(tenantId, appId, { resource_type: 'user_count', quantity, timestamp: '2026-01-01T02:00:00Z' });
    await ingest([users(20)]);
    await ingest([users(15)]);
    expect(await usageOn(tenantId, today)).toEqual(dayWith(today, { user_count: 15 }));
  });

  it('keeps each resource apart on the same day', async () => {
    const { tenantId, appId } = await givenUsageTenant();
    await ingest(
      resourceTypes.map((resourceType, n) =>
        usageEvent(tenantId, appId, { resource_type: resourceType, quantity: n + 1 }),
      ),
    );
    expect(await usageOn(tenantId, today)).toEqual(
      dayWith(today, Object.fromEntries(resourceTypes.map((type, n) => [type, n + 1]))),
    );
  });
});

describe("days in the tenant's time zone", () => {
  it('counts Shanghai usage on the local day: 15:59:59.999Z on Jan 1, 16:00Z on Jan 2', async () => {
    t.clock.set('2026-01-02T00:00:00Z');
    const { tenantId, appId } = await givenUsageTenant({ time_zone: 'Asia/Shanghai' });
    await ingest([
      usageEvent(tenantId, appId, { quantity: 1, timestamp: '2026-01-01T15:59:59Z' }),
      usageEvent(tenantId, appId, { quantity: 2, timestamp: '2026-01-01T15:59:59.999Z' }),
      usageEvent(tenantId, appId, { quantity: 10, timestamp: '2026-01-01T16:00:00Z' }),
      usageEvent(tenantId, appId, { quantity: 100, timestamp: '2026-01-02T07:59:59+08:00' }),
    ]);
    const page = await statsPage(tenantId, { date_from: '2026-01-01', date_to: '2026-01-02' });
    expect(page.items).toEqual([
      dayWith('2026-01-02', { api_requests: 110 }),
      dayWith('2026-01-01', { api_requests: 3 }),
    ]);
  });

  it('counts New York usage on the local day: 04:59:59Z on Dec 31, 05:00Z on Jan 1', async () => {
    const { tenantId, appId } = await givenUsageTenant({ time_zone: 'America/New_York' });
    await ingest([
      usageEvent(tenantId, appId, { quantity: 1, timestamp: '2026-01-01T04:59:59Z' }),
      usageEvent(tenantId, appId, { quantity: 10, timestamp: '2026-01-01T05:00:00Z' }),
    ]);
    const page = await statsPage(tenantId, { date_from: '2025-12-31', date_to: '2026-01-01' });
    expect(page.items).toEqual([
      dayWith('2026-01-01', { api_requests: 10 }),
      dayWith('2025-12-31', { api_requests: 1 }),
    ]);
  });

  it("ends the default range on today in the tenant's zone", async () => {
    // 20:00Z: already Jan 2 in Shanghai, still Jan 1 in New York.
    t.clock.set('2026-01-01T20:00:00Z');
    const shanghai = await givenUsageTenant({ time_zone: 'Asia/Shanghai' });
    const newYork = await givenUsageTenant({ time_zone: 'America/New_York' });
    expect((await statsPage(shanghai.tenantId)).items[0]?.date).toBe('2026-01-02');
    expect((await statsPage(newYork.tenantId)).items[0]?.date).toBe('2026-01-01');
  });
});

describe('the stats endpoint', () => {
  it('lists every day of the default 30 days, newest first, days without usage as zeros', async () => {
    const { tenantId, appId } = await givenUsageTenant();
    await ingest([
      usageEvent(tenantId, appId, { quantity: 4 }),
      usageEvent(tenantId, appId, { quantity: 9, timestamp: '2025-12-30T00:00:00Z' }),
    ]);
    const first = await statsPage(tenantId);
    expect(first.total).toBe(30);
    expect(first.pagination).toEqual({
      page: 1,
      page_size: 20,
      total: 30,
      total_pages: 2,
      has_next: true,
      has_prev: false,
    });
    const expectedDates = Array.from({ length: 30 }, (_, n) =>
      new Date(Date.UTC(2026, 0, 1 - n)).toISOString().slice(0, 10),
    );
    expect(first.items).toEqual(
      expectedDates
        .slice(0, 20)
        .map((date) =>
          date === '2026-01-01'
            ? dayWith(date, { api_requests: 4 })
            : date === '2025-12-30'
              ? dayWith(date, { api_requests: 9 })
              : zeros(date),
        ),
    );
    const second = await statsPage(tenantId, { page: 2 });
    expect(second.items).toEqual(expectedDates.slice(20).map(zeros));
    expect(second.items.at(-1)?.date).toBe('2025-12-03');
    expect(second.pagination).toMatchObject({ page: 2, total: 30, has_next: false, has_prev: true });
    const beyond = await statsPage(tenantId, { page: 3 });
    expect(beyond.items).toEqual([]);
    expect(beyond.total).toBe(30);
  });

  it('pages the range by page_size and counts days as the total', async () => {
    const { tenantId } = await givenUsageTenant();
    const page = await statsPage(tenantId, {
      date_from: '2025-12-01',
      date_to: '2025-12-10',
      page: 2,
      page_size: 3,
    });
    expect(page.items.map((row) => row.date)).toEqual(['2025-12-07', '2025-12-06', '2025-12-05']);
    expect(page.pagination).toEqual({
      page: 2,
      page_size: 3,
      total: 10,
      total_pages: 4,
      has_next: true,
      has_prev: true,
    });
  });

  it('reads 30 days from date_from alone, and 30 days up to date_to alone', async () => {
    const { tenantId } = await givenUsageTenant();
    const fromOnly = await statsPage(tenantId, { date_from: '2025-11-01', page_size: 100 });
    expect(fromOnly.total).toBe(30);
    expect([fromOnly.items[0]?.date, fromOnly.items.at(-1)?.date]).toEqual(['2025-11-30', '2025-11-01']);
    const toOnly = await statsPage(tenantId, { date_to: '2025-11-30', page_size: 100 });
    expect(toOnly.total).toBe(30);
    expect([toOnly.items[0]?.date, toOnly.items.at(-1)?.date]).toEqual(['2025-11-30', '2025-11-01']);
  });

  it('reads a range of 366 days and refuses one of 367', async () => {
    const { tenantId } = await givenUsageTenant();
    const longest = await statsPage(tenantId, { date_from: '2025-01-01', date_to: '2026-01-01', page_size: 100 });
    expect(longest.total).toBe(366);
    expect(longest.pagination.total_pages).toBe(4);
    const tooLong = await getStats(tenantId, { date_from: '2024-12-31', date_to: '2026-01-01' });
    expect(tooLong.statusCode, tooLong.body).toBe(400);
    const parameters = expectError(tooLong, 400, 'validation_error').error.details.map((detail) => detail.parameter);
    expect(parameters.some((parameter) => parameter === 'date_from' || parameter === 'date_to')).toBe(true);
  });

  it.each<[string, Record<string, string>, string]>([
    ['a reversed range', { date_from: '2026-01-02', date_to: '2026-01-01' }, 'date_from'],
    ['an impossible date_from', { date_from: '2026-02-30' }, 'date_from'],
    ['an impossible date_to', { date_from: '2026-02-01', date_to: '2026-02-30' }, 'date_to'],
    ['February 29 of a common year', { date_to: '2026-02-29' }, 'date_to'],
    ['a date that is not YYYY-MM-DD', { date_from: '2026-1-01' }, 'date_from'],
  ])('refuses %s with a 400 naming the parameter', async (_label, query, parameter) => {
    const { tenantId } = await givenUsageTenant();
    expectInvalid(await getStats(tenantId, query), parameter, 'query');
  });

  it('refuses an app_id of another tenant, or of no tenant, naming app_id', async () => {
    const { tenantId } = await givenUsageTenant();
    const stranger = await givenUsageTenant();
    expectInvalid(await getStats(tenantId, { app_id: stranger.appId }), 'app_id', 'query');
    expectInvalid(await getStats(tenantId, { app_id: 'app_usage_ghost' }), 'app_id', 'query');
  });

  it('answers 404 to a platform admin asking about an unknown tenant', async () => {
    expectError(await getStats('tnt_usage_ghost', {}, await t.as.platformAdmin()), 404, 'not_found');
  });
});

describe('access', () => {
  it('takes events from the service role only', async () => {
    const { tenantId, appId } = await givenUsageTenant();
    const body = { events: [usageEvent(tenantId, appId)] };
    expectError(await postEvents(body, await t.as.tenant(tenantId)), 403, 'forbidden');
    expectError(await postEvents(body, await t.as.platformAdmin()), 403, 'forbidden');
    const anonymous = await t.app.inject({ method: 'POST', url: '/billing/usage/events', payload: body });
    expectError(anonymous, 401, 'unauthorized');
    expect(anonymous.headers['www-authenticate']).toMatch(/^Bearer/);
    expect(await storedEventCount(tenantId)).toBe(0);
  });

  it("shows the stats to the tenant's admin, viewer and platform admins, not to another tenant", async () => {
    const { tenantId, appId } = await givenUsageTenant();
    const other = await givenUsageTenant();
    await ingest([usageEvent(tenantId, appId, { quantity: 6 })]);
    const query = { date_from: today, date_to: today };
    for (const headers of [
      await t.as.tenant(tenantId),
      await t.as.tenant(tenantId, 'tenant_viewer'),
      await t.as.platformAdmin(),
    ]) {
      const response = await getStats(tenantId, query, headers);
      expect(response.statusCode, response.body).toBe(200);
      expect(response.json<StatsPage>().items).toEqual([dayWith(today, { api_requests: 6 })]);
    }
    const foreign = await getStats(tenantId, query, await t.as.tenant(other.tenantId));
    expectError(foreign, 403, 'forbidden');
    // The same refusal for a tenant that does not exist: a token learns nothing about other tenants.
    const ghost = await getStats('tnt_usage_ghost', query, await t.as.tenant(other.tenantId));
    expect(comparable(ghost.body)).toEqual(comparable(foreign.body));
    const anonymous = await t.app.inject({ method: 'GET', url: `/billing/usage/${tenantId}/stats` });
    expectError(anonymous, 401, 'unauthorized');
  });
});

describe.skipIf(!process.env.DATABASE_URL)('concurrent batches (server)', () => {
  // An app of its own on a database of its own, whose pool is closed before its statistics are read.
  let server: TestApp;
  let poolsClosed = false;

  beforeAll(async () => {
    server = await createTestApp();
    server.clock.set(now);
  });

  afterAll(async () => {
    if (!poolsClosed) return server.close();
    const admin = new pg.Client({ connectionString: process.env.DATABASE_URL });
    await admin.connect();
    try {
      await admin.query(`drop database if exists ${new URL(server.database.url!).pathname.slice(1)} with (force)`);
    } finally {
      await admin.end();
    }
  });

  const sendAtOnce = async (batches: UsageEventBody[][]): Promise<IngestResultView[]> => {
    const headers = await server.as.service();
    const responses = await Promise.all(batches.map((events) => postEvents({ events }, headers, server)));
    return responses.map((response) => {
      expect(response.statusCode, response.body).toBe(200);
      return response.json<{ data: IngestResultView }>().data;
    });
  };

  const totalOf = (results: IngestResultView[], field: 'accepted' | 'duplicates' | 'rejected'): number =>
    results.reduce((sum, result) => sum + result[field], 0);

  it('counts each event of one batch sent 8 times at once exactly once', async () => {
    const { tenantId, appId, otherAppId } = await givenUsageTenant({}, server);
    const events = mixedEvents(tenantId, [appId, otherAppId], 200, 'same');
    const results = await sendAtOnce(Array.from({ length: 8 }, () => events));
    expect(totalOf(results, 'accepted')).toBe(200);
    expect(totalOf(results, 'duplicates')).toBe(7 * 200);
    expect(totalOf(results, 'rejected')).toBe(0);
    expectEachAcceptedOnce(results, events);
    expect(await storedEventCount(tenantId, server)).toBe(200);
    expect(await usageOn(tenantId, today, undefined, server)).toEqual(expectedDay(events));
    expect(await usageOn(tenantId, today, appId, server)).toEqual(
      expectedDay(events.filter((event) => event.app_id === appId)),
    );
  });

  it('counts overlapping batches sent at once exactly once, each event in one of them', async () => {
    const { tenantId, appId, otherAppId } = await givenUsageTenant({}, server);
    const events = mixedEvents(tenantId, [appId, otherAppId], 450, 'overlap');
    // Batch k holds events [50k, 50k + 100): half its ids are in batch k - 1, half in batch k + 1.
    // Each is reversed or rotated, so neighbours name their shared ids in different orders.
    const batches = Array.from({ length: 8 }, (_, k) => {
      const slice = events.slice(50 * k, 50 * k + 100);
      return k % 2 === 0 ? slice.reverse() : [...slice.slice(37), ...slice.slice(0, 37)];
    });
    const results = await sendAtOnce(batches);
    expect(totalOf(results, 'accepted')).toBe(450);
    expect(totalOf(results, 'duplicates')).toBe(8 * 100 - 450);
    expect(totalOf(results, 'rejected')).toBe(0);
    batches.forEach((batch, k) => {
      expect(results[k]!.results.map((outcome) => outcome.event_id)).toEqual(batch.map((event) => event.event_id));
    });
    expectEachAcceptedOnce(results, events);
    expect(await storedEventCount(tenantId, server)).toBe(450);
    expect(await usageOn(tenantId, today, undefined, server)).toEqual(expectedDay(events));
    const rollups = await sql<{ events: string }>`
      select coalesce(sum(event_count), 0)::text as events from usage_daily where tenant_id = ${tenantId}`.execute(
      server.database.db,
    );
    expect(rollups.rows[0]?.events).toBe('450');
  });

  it('never deadlocked (pg_stat_database, after every pool closed)', async () => {
    // Deadlocks are retried, so only the server's statistics show them; a backend reports them as it exits.
    await server.app.close();
    await server.database.close();
    poolsClosed = true;
    const name = new URL(server.database.url!).pathname.slice(1);
    const admin = new pg.Client({ connectionString: process.env.DATABASE_URL });
    await admin.connect();
    try {
      // A backend flushes its statistics as it exits, which closing the pool waited for; a moment more for safety.
      await new Promise((resolve) => setTimeout(resolve, 300));
      const { rows } = await admin.query<{ deadlocks: string; commits: string }>(
        'select deadlocks::text, xact_commit::text as commits from pg_stat_database where datname = $1',
        [name],
      );
      const deadlocks = rows[0]?.deadlocks;
      const transactions = Number(rows[0]?.commits ?? 0);
      expect(transactions).toBeGreaterThan(0);
      expect(deadlocks).toBe('0');
    } finally {
      await admin.end();
    }
  });
});

/** Events over all resources and two apps, with distinct user_count timestamps so the latest is certain. */
const mixedEvents = (tenantId: string, appIds: string[], count: number, label: string): UsageEventBody[] =>
  Array.from({ length: count }, (_, n) =>
    usageEvent(tenantId, appIds[n % appIds.length]!, {
      event_id: `evt_${label}_${String(n).padStart(4, '0')}`,
      resource_type: resourceTypes[n % resourceTypes.length],
      quantity: (n % 17) + 1,
      timestamp: new Date(Date.parse('2026-01-01T00:00:00Z') + n * 1000).toISOString(),
    }),
  );

/** What one day's row must hold after the given events, all apps together. */
const expectedDay = (events: UsageEventBody[]): DayRow => {
  const perApp = new Map<string, { quantity: number; at: number }>();
  for (const event of events) {
    const key = `${String(event.app_id)}|${String(event.resource_type)}`;
    const type = event.resource_type as ResourceType;
    const quantity = event.quantity as number;
    const at = Date.parse(event.timestamp as string);
    const current = perApp.get(key);
    const aggregation = resourceAggregation[type];
    if (current === undefined) perApp.set(key, { quantity, at });
    else if (aggregation === 'sum') perApp.set(key, { quantity: current.quantity + quantity, at });
    else if (aggregation === 'max') perApp.set(key, { quantity: Math.max(current.quantity, quantity), at });
    else if (at > current.at) perApp.set(key, { quantity, at });
  }
  const row = zeros(today);
  for (const [key, { quantity }] of perApp) row[key.split('|')[1] as ResourceType] += quantity;
  return row;
};

const expectEachAcceptedOnce = (results: IngestResultView[], events: UsageEventBody[]): void => {
  const accepted = new Map<string, number>();
  for (const result of results)
    for (const outcome of result.results)
      if (outcome.status === 'accepted') accepted.set(outcome.event_id!, (accepted.get(outcome.event_id!) ?? 0) + 1);
  expect([...accepted.keys()].sort()).toEqual(events.map((event) => event.event_id as string).sort());
  expect([...accepted.values()].every((times) => times === 1)).toBe(true);
};
