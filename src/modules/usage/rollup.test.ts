import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { resourceAggregation, resourceTypes, type ResourceType } from '../../core/resources.js';
import { rollUp, type DailyUsage } from './rollup.js';
import { checkUsageEvent, type UsageEvent } from './usage-event.js';

type DatedEvent = UsageEvent & { usageDate: string };

const dayKey = (day: { tenantId: string; appId: string; resourceType: string; usageDate: string }): string =>
  [day.tenantId, day.appId, day.resourceType, day.usageDate].join('|');

/**
 * What `addToDailyUsage` does in SQL when a batch's rollup meets the stored row: the stored row's
 * aggregation decides; `latest` takes the incoming value when its latest_at is the same or later,
 * so at equal timestamps the batch applied last wins.
 */
const upsertLikeSql = (stored: Map<string, DailyUsage>, incoming: DailyUsage): void => {
  const key = dayKey(incoming);
  const current = stored.get(key);
  if (current === undefined) {
    stored.set(key, incoming);
    return;
  }
  const quantity =
    current.aggregation === 'sum'
      ? current.quantity + incoming.quantity
      : current.aggregation === 'max'
        ? incoming.quantity > current.quantity
          ? incoming.quantity
          : current.quantity
        : incoming.latestAt >= current.latestAt
          ? incoming.quantity
          : current.quantity;
  stored.set(key, {
    ...current,
    quantity,
    latestAt: incoming.latestAt > current.latestAt ? incoming.latestAt : current.latestAt,
    eventCount: current.eventCount + incoming.eventCount,
  });
};

/** Each batch rolled up on its own, then added to what the earlier batches stored. */
const ingestInBatches = (batches: DatedEvent[][]): Map<string, DailyUsage> => {
  const stored = new Map<string, DailyUsage>();
  for (const batch of batches) for (const day of rollUp(batch)) upsertLikeSql(stored, day);
  return stored;
};

interface ModelDay {
  quantity: bigint;
  latestAt: Date;
  eventCount: bigint;
  aggregation: string;
}

/**
 * The rules of docs/usage.md written out plainly over all events in the order they were applied:
 * sum adds, max takes the highest, latest takes the value with the greatest timestamp and, among
 * several at that timestamp, the one applied last.
 */
const model = (applied: DatedEvent[]): Map<string, ModelDay> => {
  const groups = new Map<string, DatedEvent[]>();
  for (const event of applied) {
    const key = dayKey(event);
    groups.set(key, [...(groups.get(key) ?? []), event]);
  }
  const days = new Map<string, ModelDay>();
  for (const [key, events] of groups) {
    const aggregation = resourceAggregation[events[0]!.resourceType as ResourceType];
    const newest = Math.max(...events.map((event) => event.occurredAt.getTime()));
    const quantities = events.map((event) => event.quantity);
    const quantity =
      aggregation === 'sum'
        ? quantities.reduce((total, q) => total + q, 0n)
        : aggregation === 'max'
          ? quantities.reduce((highest, q) => (q > highest ? q : highest))
          : events.filter((event) => event.occurredAt.getTime() === newest).at(-1)!.quantity;
    days.set(key, { quantity, latestAt: new Date(newest), eventCount: BigInt(events.length), aggregation });
  }
  return days;
};

const asModelDays = (stored: Map<string, DailyUsage>): Map<string, ModelDay> =>
  new Map(
    [...stored].map(([key, day]) => [
      key,
      { quantity: day.quantity, latestAt: day.latestAt, eventCount: day.eventCount, aggregation: day.aggregation },
    ]),
  );

const base = Date.parse('2026-01-05T00:00:00Z');

// Few keys and few distinct instants, so days collect many events and timestamps often tie.
const datedEvent = fc.record({
  tenantId: fc.constantFrom('tnt_a', 'tnt_b'),
  appId: fc.constantFrom('app_1', 'app_2'),
  resourceType: fc.constantFrom(...resourceTypes),
  usageDate: fc.constantFrom('2026-01-04', '2026-01-05'),
  quantity: fc.oneof(fc.bigInt({ min: 0n, max: 5n }), fc.bigInt({ min: 0n, max: 1_000_000_000_000n })),
  offsetMs: fc.integer({ min: 0, max: 4 }),
});

/** Events, the order they are applied in (any permutation) and where that order is cut into batches. */
const scenario = fc
  .array(datedEvent, { minLength: 1, maxLength: 60 })
  .map((records) =>
    records.map(({ offsetMs, ...rest }, n): DatedEvent => ({
      ...rest,
      eventId: `evt_${n}`,
      aggregation: resourceAggregation[rest.resourceType],
      occurredAt: new Date(base + offsetMs),
      properties: {},
      distinctValue: null,
    })),
  )
  .chain((events) =>
    fc.record({
      applied: fc.shuffledSubarray(events, { minLength: events.length, maxLength: events.length }),
      cuts: fc.array(fc.boolean(), { minLength: events.length, maxLength: events.length }),
    }),
  );

const splitAt = <T>(items: T[], cuts: boolean[]): T[][] => {
  const batches: T[][] = [[]];
  items.forEach((item, n) => {
    batches.at(-1)!.push(item);
    if (cuts[n] === true && n < items.length - 1) batches.push([]);
  });
  return batches;
};

const dated = (
  resourceType: ResourceType,
  quantity: bigint,
  occurredAt: string,
  eventId: string = `evt_${occurredAt}_${quantity}`,
): DatedEvent => ({
  eventId,
  tenantId: 'tnt_a',
  appId: 'app_1',
  resourceType,
  aggregation: resourceAggregation[resourceType],
  quantity,
  occurredAt: new Date(occurredAt),
  usageDate: '2026-01-05',
  properties: {},
  distinctValue: null,
});

describe('rollUp and the SQL upsert of batches', () => {
  it('gives the model result for any events, in any order, split into any batches', () => {
    fc.assert(
      fc.property(scenario, ({ applied, cuts }) => {
        const batches = splitAt(applied, cuts);
        expect(asModelDays(ingestInBatches(batches))).toEqual(model(applied));
      }),
      { numRuns: 500 },
    );
  });

  it('gives the same sum and max, and the same latest when the newest timestamp is unique, whatever the order', () => {
    fc.assert(
      fc.property(scenario, ({ applied, cuts }) => {
        const original = [...applied].sort((a, b) => Number(a.eventId.slice(4)) - Number(b.eventId.slice(4)));
        const inOrder = model(original);
        const shuffled = ingestInBatches(splitAt(applied, cuts));
        for (const [key, day] of inOrder) {
          const events = original.filter((event) => dayKey(event) === key);
          const newest = day.latestAt.getTime();
          const newestUnique = events.filter((event) => event.occurredAt.getTime() === newest).length === 1;
          if (day.aggregation !== 'latest' || newestUnique) expect(shuffled.get(key)?.quantity).toBe(day.quantity);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('returns one row per (tenant, app, resource, day), in key order, with its resource aggregation', () => {
    // Concurrent batches lock rollup rows in this order; the same order everywhere means no deadlock.
    fc.assert(
      fc.property(scenario, ({ applied }) => {
        const days = rollUp(applied);
        const keys = days.map((day) => [day.tenantId, day.appId, day.resourceType, day.usageDate].join('\u0000'));
        expect(new Set(keys).size).toBe(keys.length);
        expect(keys).toEqual([...keys].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
        for (const day of days) expect(day.aggregation).toBe(resourceAggregation[day.resourceType as ResourceType]);
      }),
      { numRuns: 200 },
    );
  });

  it('keeps a newer user_count over a late older measurement, in one batch and across batches', () => {
    const newer = dated('user_count', 12n, '2026-01-05T02:00:00Z');
    const older = dated('user_count', 99n, '2026-01-05T01:00:00Z');
    expect(rollUp([newer, older])[0]).toMatchObject({ quantity: 12n, latestAt: newer.occurredAt, eventCount: 2n });
    const stored = ingestInBatches([[newer], [older]]);
    expect([...stored.values()][0]).toMatchObject({ quantity: 12n, latestAt: newer.occurredAt, eventCount: 2n });
  });

  it('at equal timestamps, takes the user_count applied last, in one batch and across batches', () => {
    const first = dated('user_count', 5n, '2026-01-05T02:00:00Z', 'evt_first');
    const second = dated('user_count', 7n, '2026-01-05T02:00:00Z', 'evt_second');
    expect(rollUp([first, second])[0]?.quantity).toBe(7n);
    expect(rollUp([second, first])[0]?.quantity).toBe(5n);
    expect([...ingestInBatches([[first], [second]]).values()][0]?.quantity).toBe(7n);
    expect([...ingestInBatches([[second], [first]]).values()][0]?.quantity).toBe(5n);
  });

  it('keeps the highest storage_used of a day, however the measurements arrive', () => {
    const low = dated('storage_used', 100n, '2026-01-05T03:00:00Z');
    const high = dated('storage_used', 300n, '2026-01-05T01:00:00Z');
    const middle = dated('storage_used', 200n, '2026-01-05T02:00:00Z');
    expect([...ingestInBatches([[low, high], [middle]]).values()][0]?.quantity).toBe(300n);
  });
});

describe('checkUsageEvent', () => {
  const now = new Date('2026-01-10T00:00:00Z');
  const valid = {
    event_id: 'evt_1',
    tenant_id: 'tnt_a',
    app_id: 'app_a',
    resource_type: 'api_requests',
    quantity: 5,
    timestamp: '2026-01-09T12:00:00Z',
    properties: { region: 'cn' },
  };
  const threeDaysMs = 3 * 24 * 60 * 60 * 1000;
  const fiveMinutesMs = 5 * 60 * 1000;
  const at = (ms: number): string => new Date(now.getTime() + ms).toISOString();
  const withField = (field: string, value: unknown): Record<string, unknown> => ({ ...valid, [field]: value });
  const without = (field: string): Record<string, unknown> => {
    const { [field as keyof typeof valid]: _dropped, ...rest } = valid;
    return rest;
  };

  const eventIdReason = 'event_id must be 1 to 128 visible ASCII characters';
  const tenantReason = 'tenant_id must be a tenant id (tnt_…)';
  const appReason = 'app_id must be an app id (app_…)';
  const quantityReason = 'quantity must be a whole number from 0 to 1000000000000';
  const timestampReason = 'timestamp must be an RFC 3339 time such as 2026-05-01T08:00:00Z';
  const propertiesReason = 'properties must be a JSON object';

  const refusals: [label: string, raw: unknown, reason: string | RegExp, eventId: string | null][] = [
    ['null', null, 'an event must be a JSON object', null],
    ['an array', [valid], 'an event must be a JSON object', null],
    ['a string', 'evt_1', 'an event must be a JSON object', null],
    ['a number', 42, 'an event must be a JSON object', null],
    ['no event_id', without('event_id'), eventIdReason, null],
    ['an empty event_id', withField('event_id', ''), eventIdReason, null],
    ['an event_id of 129 characters', withField('event_id', 'e'.repeat(129)), eventIdReason, null],
    ['an event_id with a space', withField('event_id', 'evt 1'), eventIdReason, null],
    ['an event_id with a control character', withField('event_id', 'evt\n1'), eventIdReason, null],
    ['a non-ASCII event_id', withField('event_id', 'évt_1'), eventIdReason, null],
    ['a numeric event_id', withField('event_id', 1), eventIdReason, null],
    ['an unknown field', withField('user_id', 'usr_1'), 'unknown field user_id', 'evt_1'],
    ['no tenant_id', without('tenant_id'), tenantReason, 'evt_1'],
    ['a tenant_id without the tnt_ prefix', withField('tenant_id', 'acme'), tenantReason, 'evt_1'],
    ['a numeric tenant_id', withField('tenant_id', 7), tenantReason, 'evt_1'],
    ['no app_id', without('app_id'), appReason, 'evt_1'],
    ['an app_id without the app_ prefix', withField('app_id', 'a1'), appReason, 'evt_1'],
    ['a null app_id', withField('app_id', null), appReason, 'evt_1'],
    [
      'no resource_type',
      without('resource_type'),
      /^resource_type .* is not a billable metric or a pay-as-you-go product$/,
      'evt_1',
    ],
    [
      'an unknown resource_type',
      withField('resource_type', 'cpu_seconds'),
      'resource_type "cpu_seconds" is not a billable metric or a pay-as-you-go product',
      'evt_1',
    ],
    [
      'a resource_type in another case',
      withField('resource_type', 'API_REQUESTS'),
      /is not a billable metric/,
      'evt_1',
    ],
    [
      'a resource_type that is an Object property',
      withField('resource_type', 'toString'),
      /is not a billable metric/,
      'evt_1',
    ],
    ['no quantity', without('quantity'), quantityReason, 'evt_1'],
    ['a negative quantity', withField('quantity', -1), quantityReason, 'evt_1'],
    ['a fractional quantity', withField('quantity', 1.5), quantityReason, 'evt_1'],
    ['a quantity as a string', withField('quantity', '5'), quantityReason, 'evt_1'],
    ['a boolean quantity', withField('quantity', true), quantityReason, 'evt_1'],
    ['a quantity above 10^12', withField('quantity', 1_000_000_000_001), quantityReason, 'evt_1'],
    ['no timestamp', without('timestamp'), timestampReason, 'evt_1'],
    ['a date without a time', withField('timestamp', '2026-01-09'), timestampReason, 'evt_1'],
    ['a time without an offset', withField('timestamp', '2026-01-09T12:00:00'), timestampReason, 'evt_1'],
    ['a space instead of T', withField('timestamp', '2026-01-09 12:00:00Z'), timestampReason, 'evt_1'],
    ['hour 25', withField('timestamp', '2026-01-09T25:00:00Z'), timestampReason, 'evt_1'],
    ['an offset of +25:00', withField('timestamp', '2026-01-09T12:00:00+25:00'), timestampReason, 'evt_1'],
    ['epoch milliseconds', withField('timestamp', now.getTime()), timestampReason, 'evt_1'],
    ['words', withField('timestamp', 'yesterday'), timestampReason, 'evt_1'],
    [
      'a timestamp 1 ms beyond 5 minutes ahead',
      withField('timestamp', at(fiveMinutesMs + 1)),
      'timestamp is in the future',
      'evt_1',
    ],
    [
      'a timestamp 1 ms older than 3 days',
      withField('timestamp', at(-threeDaysMs - 1)),
      'timestamp is older than the late-event window of 3 days',
      'evt_1',
    ],
    ['properties as an array', withField('properties', ['a']), propertiesReason, 'evt_1'],
    ['properties as a string', withField('properties', 'a=b'), propertiesReason, 'evt_1'],
    ['properties as a number', withField('properties', 1), propertiesReason, 'evt_1'],
    // docs/usage.md refuses properties that are not a JSON object, and null is not one.
    ['null properties', withField('properties', null), propertiesReason, 'evt_1'],
    [
      'properties of 4,097 bytes of JSON',
      withField('properties', { p: 'x'.repeat(4089) }),
      'properties must be at most 4096 bytes of JSON',
      'evt_1',
    ],
    [
      'properties over 4 KiB only when counted in bytes',
      withField('properties', { p: 'é'.repeat(2045) }),
      'properties must be at most 4096 bytes of JSON',
      'evt_1',
    ],
  ];

  it.each(refusals)('refuses %s with its reason', (_label, raw, reason, eventId) => {
    const check = checkUsageEvent(raw, now);
    expect(check.ok).toBe(false);
    if (check.ok) return;
    expect(check.eventId).toBe(eventId);
    if (typeof reason === 'string') expect(check.reason).toBe(reason);
    else expect(check.reason).toMatch(reason);
  });

  it('accepts a well-formed event and reads it exactly', () => {
    expect(checkUsageEvent(valid, now)).toEqual({
      ok: true,
      event: {
        eventId: 'evt_1',
        tenantId: 'tnt_a',
        appId: 'app_a',
        resourceType: 'api_requests',
        aggregation: 'sum',
        quantity: 5n,
        occurredAt: new Date('2026-01-09T12:00:00Z'),
        properties: { region: 'cn' },
        distinctValue: null,
      },
    });
  });

  const mau = { ...valid, resource_type: 'monthly_active_users', quantity: 1, properties: { user_id: 'usr_1' } };
  const userIdReason =
    'properties.user_id must be a string of 1 to 256 characters or a whole number: monthly_active_users counts its distinct values';
  it.each([
    [
      'a quantity other than 1',
      { ...mau, quantity: 2 },
      'quantity must be 1: monthly_active_users counts distinct values',
    ],
    ['no user_id', { ...mau, properties: {} }, userIdReason],
    ['an empty user_id', { ...mau, properties: { user_id: '' } }, userIdReason],
    ['a user_id of 257 characters', { ...mau, properties: { user_id: 'u'.repeat(257) } }, userIdReason],
    ['a user_id that is an object', { ...mau, properties: { user_id: { id: 1 } } }, userIdReason],
    ['a user_id that is a fraction', { ...mau, properties: { user_id: 1.5 } }, userIdReason],
  ])('refuses a monthly_active_users event with %s', (_label, raw, reason) => {
    expect(checkUsageEvent(raw, now)).toEqual({ ok: false, eventId: 'evt_1', reason });
  });

  it('takes a distinct value as text: the number 42 and the string "42" are one user', () => {
    for (const userId of [42, '42']) {
      const check = checkUsageEvent({ ...mau, properties: { user_id: userId } }, now);
      expect(check.ok && check.event).toMatchObject({ aggregation: 'unique_count', distinctValue: '42' });
    }
  });

  it.each([
    ['exactly 3 days old', at(-threeDaysMs)],
    ['exactly 5 minutes ahead', at(fiveMinutesMs)],
    ['now', at(0)],
    ['exactly 3 days old, written with an offset', '2026-01-07T08:00:00+08:00'],
    ['with nanoseconds', '2026-01-09T12:00:00.123456789Z'],
  ])('accepts a timestamp %s', (_label, timestamp) => {
    const check = checkUsageEvent({ ...valid, timestamp }, now);
    expect(check.ok ? 'accepted' : check.reason).toBe('accepted');
    if (check.ok) expect(check.event.occurredAt.getTime()).toBe(new Date(timestamp).getTime());
  });

  it.each([
    ['quantity 0', { quantity: 0 }],
    ['quantity 10^12', { quantity: 1_000_000_000_000 }],
    ['an event_id of 128 visible characters', { event_id: `~!${'x'.repeat(126)}` }],
    ['properties of exactly 4,096 bytes of JSON', { properties: { p: 'x'.repeat(4088) } }],
    ['properties of exactly 4,096 bytes in two-byte characters', { properties: { p: 'é'.repeat(2044) } }],
  ])('accepts %s', (_label, overrides) => {
    expect(checkUsageEvent({ ...valid, ...overrides }, now).ok).toBe(true);
  });

  it('accepts every metered resource type and reads the quantity as a bigint', () => {
    for (const resourceType of resourceTypes) {
      const check = checkUsageEvent({ ...valid, resource_type: resourceType, quantity: 1_000_000_000_000 }, now);
      expect(check).toMatchObject({ ok: true, event: { resourceType, quantity: 1_000_000_000_000n } });
    }
  });

  it('reads absent properties as an empty object', () => {
    expect(checkUsageEvent(without('properties'), now)).toMatchObject({ ok: true, event: { properties: {} } });
  });

  it.each([
    ['February 30', '2026-02-30T00:00:00Z'],
    ['February 29 of a common year', '2026-02-29T12:00:00Z'],
    ['April 31', '2026-04-31T00:00:00Z'],
    ['hour 24', '2026-02-28T24:00:00Z'],
  ])('refuses an impossible time, %s, that JavaScript would roll over', (_label, timestamp) => {
    // The clock is put where the rolled-over instant would be inside the window.
    const rolledOver = new Date(timestamp);
    const check = checkUsageEvent({ ...valid, timestamp }, new Date(rolledOver.getTime() + 60_000));
    expect(check).toEqual({ ok: false, eventId: 'evt_1', reason: timestampReason });
  });
});
