import { Decimal } from 'decimal.js';
import fc from 'fast-check';
import { Temporal } from 'temporal-polyfill';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, asPlatformAdmin } from '../../testing/api.js';
import { expectError } from '../../testing/envelopes.js';
import { givenTenantWithApps } from '../../testing/fixtures.js';
import { createTestApp, defaultRateLimitsWithout, type TestApp } from '../../testing/test-app.js';
import type { ErrorBody, ListBody, RecordView, SingleBody } from '../../testing/views.js';

/*
 * Search and list of billing records against an in-memory oracle. One data set, built once over
 * HTTP: three tenants in three time zones and currencies, ~150 finalised records spread over three
 * months (many of them a moment either side of a local midnight, some sharing an instant), every
 * status, records without an app, descriptions with LIKE metacharacters, mixed case and non-ASCII
 * text, and a few drafts that must never be listed.
 */

type Status = 'pending' | 'paid' | 'failed' | 'refunded';

interface TenantSpec {
  id: string;
  currency: string;
  timeZone: string;
  exponent: number;
  apps: string[];
}

const tenants: TenantSpec[] = [
  { id: 'tnt_search_sh', currency: 'CNY', timeZone: 'Asia/Shanghai', exponent: 2, apps: ['app_sh_web', 'app_sh_ios'] },
  {
    id: 'tnt_search_ny',
    currency: 'USD',
    timeZone: 'America/New_York',
    exponent: 2,
    apps: ['app_ny_web', 'app_ny_api', 'app_ny_batch'],
  },
  { id: 'tnt_search_tk', currency: 'JPY', timeZone: 'Asia/Tokyo', exponent: 0, apps: ['app_tk_main', 'app_tk_b'] },
];
const [tenantA, tenantB] = tenants as [TenantSpec, TenantSpec, TenantSpec];
const tenantOf = (id: string): TenantSpec => tenants.find((tenant) => tenant.id === id) as TenantSpec;

/** What the oracle keeps of every record it created. */
interface OracleRecord {
  tenantId: string;
  id: string;
  appId: string | null;
  status: Status | 'draft';
  /** Epoch milliseconds of created_at. */
  at: number;
  amountMinor: bigint;
  invoiceNumber: string | null;
  description: string;
  lineDescriptions: string[];
}

// ---------------------------------------------------------------------------------------------
// Deterministic data: a seeded generator, so every run builds the same records.

const mulberry32 = (seed: number) => {
  let state = seed >>> 0;
  return (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let x = state;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
};
const random = mulberry32(0x5eed_2026);
const chance = (p: number): boolean => random() < p;
const intBetween = (min: number, max: number): number => min + Math.floor(random() * (max - min + 1));
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;

/** Texts that would match more than themselves if `%`, `_` or `\` were wildcards, and case / Unicode variety. */
const descriptionPool = [
  'Professional Monthly Subscription',
  'PROFESSIONAL annual plan',
  '100% off promo',
  '1000 credits top-up',
  'a_c usage bucket',
  'abc usage bucket',
  'aXc usage bucket',
  'snake_case_export',
  'C:\\billing\\export',
  'C:/billing/export',
  'back\\slash and 50%_off\\now',
  'MiXeD CaSe InVoIcE',
  'mixed case invoice',
  'Größe der Datenbank',
  'Café crème usage',
  'naïve Überweisung',
  '计费 记录 (中文)',
  'ＡＰＩ 调用 全角',
  'Ωmega tier',
  'Émile ÉCOLE',
];
const linePool = [
  'API requests',
  'api_requests overage',
  'Bandwidth 10% surcharge',
  'MFA verifications',
  'storage_used peak',
  'login attempts \\ retries',
  '短信 验证码',
  'Ünïcødé line',
  'Seats × 3',
  'percent%sign_under',
];
const resourceTypes = ['subscription', 'api_requests', 'bandwidth_used', 'mfa_verifications', 'storage_used'];
const unitPrices = [0, 0.005, 0.125, 0.5, 1, 2.5, 9.99, 12.345, 99, 199.99, 1234.5];
const taxRates = [undefined, 0, 0.06, 0.1];

/** The first day of the data set and how many days it spans (three months, across New York's DST start). */
const firstDay = Temporal.PlainDate.from('2026-01-05');
const spanDays = 90;

const localDateOf = (epochMs: number, timeZone: string): string =>
  Temporal.Instant.fromEpochMilliseconds(epochMs).toZonedDateTimeISO(timeZone).toPlainDate().toString();
const localMidnight = (date: Temporal.PlainDate, timeZone: string): number =>
  date.toZonedDateTime({ timeZone }).epochMilliseconds;

/** An instant in the span, often just before, at or after a local midnight of the tenant. */
const randomInstant = (timeZone: string): number => {
  const day = firstDay.add({ days: intBetween(0, spanDays) });
  const midnight = localMidnight(day, timeZone);
  if (chance(0.4)) return midnight + pick([-60_000, -1_000, -1, 0, 0, 1, 999, 1_000, 59_000]);
  const next = localMidnight(day.add({ days: 1 }), timeZone);
  const at = midnight + Math.floor(random() * (next - midnight));
  return chance(0.5) ? at - (at % 1000) : at;
};

/** Minor units of one line, rounded half-up, computed here independently of the service. */
const lineMinor = (quantity: number, unitPrice: number, exponent: number): bigint =>
  BigInt(
    new Decimal(quantity)
      .times(new Decimal(String(unitPrice)))
      .times(new Decimal(10).pow(exponent))
      .toDecimalPlaces(0, Decimal.ROUND_HALF_UP)
      .toFixed(0),
  );
const majorToMinor = (major: number, exponent: number): bigint =>
  BigInt(new Decimal(String(major)).times(new Decimal(10).pow(exponent)).toFixed(0));

const rfc3339 = (epochMs: number): string => new Date(epochMs).toISOString().replace(/\.\d{3}Z$/, 'Z');

// ---------------------------------------------------------------------------------------------
// The app and the data set.

let t: TestApp;
const oracle: OracleRecord[] = [];
/** After the data is built the clock stays here, so tokens minted in the tests stay valid. */
const readTime = '2026-04-20T00:00:00Z';

const post = async (url: string, payload: Record<string, unknown>) => {
  const response = await asPlatformAdmin(t).post(url, payload);
  expect(response.statusCode, `${url}: ${response.body}`).toBeLessThan(300);
  return response.json<SingleBody<RecordView>>().data;
};

const get = (url: string, headers: Record<string, string>) => api(t).as({ headers }).get(url);
const viewer = (tenantId: string) => t.as.tenant(tenantId, 'tenant_viewer');

/** A query string with every value percent-encoded (a space as %20, never `+`). */
const queryString = (params: Record<string, string | number | undefined>): string =>
  Object.entries(params)
    .filter((entry): entry is [string, string | number] => entry[1] !== undefined)
    .map(([name, value]) => `${name}=${encodeURIComponent(String(value))}`)
    .join('&');

const createRecord = async (tenant: TenantSpec, at: number, finalize: boolean): Promise<OracleRecord> => {
  t.clock.set(new Date(at));
  const lineCount = intBetween(1, 3);
  const lines = Array.from({ length: lineCount }, () => {
    const taxRate = pick(taxRates);
    return {
      description: `${pick(linePool)} #${intBetween(1, 99)}`,
      resource_type: pick(resourceTypes),
      quantity: chance(0.1) ? 0 : intBetween(1, 40),
      unit_price: pick(unitPrices),
      ...(taxRate === undefined ? {} : { tax_rate: taxRate }),
    };
  });
  const appId = chance(0.2) ? null : pick(tenant.apps);
  const description = chance(0.3) ? `${pick(descriptionPool)} / ${pick(descriptionPool)}` : pick(descriptionPool);
  const created = await post(`/admin/records/${tenant.id}`, {
    ...(appId === null ? {} : { app_id: appId }),
    type: pick(['subscription', 'usage', 'one_time', 'payg'] as const),
    description,
    lines,
    finalize,
  });
  const amountMinor = lines.reduce((sum, line) => sum + lineMinor(line.quantity, line.unit_price, tenant.exponent), 0n);
  expect(majorToMinor(created.amount, tenant.exponent), 'net amount = sum of half-up rounded lines').toBe(amountMinor);
  expect(created.created_at).toBe(rfc3339(at));
  return {
    tenantId: tenant.id,
    id: created.record_id,
    appId,
    status: finalize ? 'pending' : 'draft',
    at,
    amountMinor,
    invoiceNumber: created.invoice_number,
    description,
    lineDescriptions: lines.map((line) => line.description),
  };
};

/** Moves a pending record along a random legal path; the oracle follows. */
const moveRecord = async (record: OracleRecord): Promise<void> => {
  const base = `/admin/records/${record.tenantId}/${record.id}`;
  const path = pick([
    [],
    [],
    ['mark-paid'],
    ['mark-paid'],
    ['mark-failed'],
    ['mark-paid', 'refund'],
    ['mark-failed', 'retry'],
    ['mark-failed', 'mark-paid'],
    ['mark-failed', 'mark-paid', 'refund'],
  ]);
  for (const action of path) {
    const moved = await post(`${base}/${action}`, action === 'refund' ? { reason: 'customer request' } : {});
    record.status = moved.status as Status;
  }
};

beforeAll(async () => {
  // Hundreds of searches by one caller at one frozen instant: far past the `expensive` limit.
  t = await createTestApp({ rateLimits: defaultRateLimitsWithout('expensive') });
  for (const tenant of tenants) {
    await givenTenantWithApps(t, tenant.id, tenant.apps, { currency: tenant.currency, time_zone: tenant.timeZone });
  }
  for (const tenant of tenants) {
    const mine: OracleRecord[] = [];
    for (let index = 0; index < 50; index++) {
      // Ties: about one record in five shares its created_at with an earlier one of the tenant.
      const at = mine.length > 0 && chance(0.2) ? pick(mine).at : randomInstant(tenant.timeZone);
      const record = await createRecord(tenant, at, true);
      await moveRecord(record);
      mine.push(record);
    }
    for (let index = 0; index < 3; index++) {
      // Drafts, one of them at the same instant as a finalised record.
      const at = index === 0 ? pick(mine).at : randomInstant(tenant.timeZone);
      mine.push(await createRecord(tenant, at, false));
    }
    oracle.push(...mine);
  }
  t.clock.set(readTime);
}, 120_000);
afterAll(() => t.close());

// ---------------------------------------------------------------------------------------------
// The oracle.

interface Filter {
  tenantId: string;
  app_id?: string | undefined;
  status?: Status | undefined;
  date_from?: string | undefined;
  date_to?: string | undefined;
  min_amount?: number | undefined;
  max_amount?: number | undefined;
  search?: string | undefined;
  page_size: number;
}

const searchedTexts = (record: OracleRecord): string[] => [
  record.id,
  ...(record.invoiceNumber === null ? [] : [record.invoiceNumber]),
  record.description,
  ...record.lineDescriptions,
];
const containsLiteral = (texts: string[], needle: string): boolean =>
  texts.some((text) => text.toLowerCase().includes(needle.toLowerCase()));
const amountAtLeast = (minor: bigint, exponent: number, major: number): boolean =>
  new Decimal(minor.toString()).dividedBy(new Decimal(10).pow(exponent)).gte(new Decimal(String(major)));
const amountAtMost = (minor: bigint, exponent: number, major: number): boolean =>
  new Decimal(minor.toString()).dividedBy(new Decimal(10).pow(exponent)).lte(new Decimal(String(major)));

/** Newest first, ties by record id descending. */
const newestFirst = (a: OracleRecord, b: OracleRecord): number =>
  b.at - a.at || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);

const expectedMatches = (filter: Filter): OracleRecord[] => {
  const tenant = tenantOf(filter.tenantId);
  return oracle
    .filter(
      (record) =>
        record.tenantId === filter.tenantId &&
        record.status !== 'draft' &&
        (filter.app_id === undefined || record.appId === filter.app_id) &&
        (filter.status === undefined || record.status === filter.status) &&
        (filter.date_from === undefined || localDateOf(record.at, tenant.timeZone) >= filter.date_from) &&
        (filter.date_to === undefined || localDateOf(record.at, tenant.timeZone) <= filter.date_to) &&
        (filter.min_amount === undefined || amountAtLeast(record.amountMinor, tenant.exponent, filter.min_amount)) &&
        (filter.max_amount === undefined || amountAtMost(record.amountMinor, tenant.exponent, filter.max_amount)) &&
        (filter.search === undefined || containsLiteral(searchedTexts(record), filter.search)),
    )
    .sort(newestFirst);
};

/** Checks one returned item against the filter from its body alone, without the oracle. */
const expectItemMatches = (item: RecordView, filter: Filter): void => {
  const tenant = tenantOf(filter.tenantId);
  expect(item.tenant_id).toBe(filter.tenantId);
  expect(item.currency).toBe(tenant.currency);
  expect(item.status).not.toBe('draft');
  expect(item.invoice_number).toMatch(/^INV-\d{4}-\d{3,}$/);
  if (filter.app_id !== undefined) expect(item.app_id).toBe(filter.app_id);
  if (filter.status !== undefined) expect(item.status).toBe(filter.status);
  // created_at is shown to the second; a local midnight is a whole second, so the local date is unchanged.
  const localDate = localDateOf(Date.parse(item.created_at), tenant.timeZone);
  if (filter.date_from !== undefined) expect(localDate >= filter.date_from, `${localDate} >= date_from`).toBe(true);
  if (filter.date_to !== undefined) expect(localDate <= filter.date_to, `${localDate} <= date_to`).toBe(true);
  const amount = new Decimal(String(item.amount));
  if (filter.min_amount !== undefined) expect(amount.gte(String(filter.min_amount)), 'amount >= min').toBe(true);
  if (filter.max_amount !== undefined) expect(amount.lte(String(filter.max_amount)), 'amount <= max').toBe(true);
  if (filter.search !== undefined) {
    const texts = [
      item.record_id,
      item.invoice_number ?? '',
      item.description,
      ...item.line_items.map((line) => line.description),
    ];
    expect(containsLiteral(texts, filter.search), `"${filter.search}" in ${JSON.stringify(texts)}`).toBe(true);
  }
};

const searchUrl = (filter: Filter, page: number): string => {
  const { tenantId, ...params } = filter;
  return `/billing/records/${tenantId}/search?${queryString({ ...params, page })}`;
};

/** Walks every page of a search, checking each page's envelope; returns the items in page order. */
const walkSearch = async (filter: Filter, expectedTotal: number): Promise<RecordView[]> => {
  const headers = await viewer(filter.tenantId);
  const totalPages = Math.ceil(expectedTotal / filter.page_size);
  const seen: RecordView[] = [];
  // One page past the end, too: it must be empty, not an error.
  for (let page = 1; page <= Math.max(totalPages, 1) + 1; page++) {
    const response = await get(searchUrl(filter, page), headers);
    expect(response.statusCode, response.body).toBe(200);
    const body = response.json<ListBody<RecordView>>();
    expect(body.code).toBe(200);
    expect(body.total).toBe(expectedTotal);
    expect(body.pagination).toEqual({
      page,
      page_size: filter.page_size,
      total: expectedTotal,
      total_pages: totalPages,
      has_next: page < totalPages,
      has_prev: page > 1,
    });
    expect(body.items.length).toBe(page <= totalPages ? Math.min(filter.page_size, expectedTotal - seen.length) : 0);
    for (const item of body.items) expectItemMatches(item, filter);
    seen.push(...body.items);
  }
  return seen;
};

// ---------------------------------------------------------------------------------------------
// Arbitraries for filters, drawn from the data so that most of them select something.

const finalised = (tenantId: string) =>
  oracle.filter((record) => record.tenantId === tenantId && record.status !== 'draft');

/** A literal taken from a record's searched texts, with the case of some letters flipped. */
const substringOf = (texts: string[]) =>
  fc
    .record({
      text: fc.constantFrom(...texts),
      start: fc.nat(),
      length: fc.integer({ min: 1, max: 12 }),
      flips: fc.array(fc.boolean(), { minLength: 12, maxLength: 12 }),
    })
    .map(({ text, start, length, flips }) => {
      const chars = [...text];
      const from = start % chars.length;
      return chars
        .slice(from, from + length)
        .map((char, index) => {
          const other = char === char.toLowerCase() ? char.toUpperCase() : char.toLowerCase();
          // Only flip letters whose other case is one character that maps back (not ß → SS).
          const reversible = [...other].length === 1 && other.toLowerCase() === char.toLowerCase();
          return flips[index] === true && reversible ? other : char;
        })
        .join('');
    });

const searchArbitrary = (tenantId: string) => {
  const own = finalised(tenantId);
  const others = oracle.filter((record) => record.tenantId !== tenantId);
  const drafts = oracle.filter((record) => record.tenantId === tenantId && record.status === 'draft');
  return fc.oneof(
    { weight: 6, arbitrary: substringOf(own.flatMap(searchedTexts)) },
    {
      weight: 3,
      arbitrary: fc.constantFrom(
        '%',
        '_',
        '\\',
        '%_',
        '\\%',
        '0%',
        '100%',
        '%off',
        'a_c',
        'a%c',
        '_case_',
        'c:\\',
        '\\b',
        'mixed case',
        'MIXED CASE',
        'größe',
        'GRÖSSE',
        'CAFÉ',
        'ÜBERWEISUNG',
        '计费',
        'ａｐｉ',
        'ωMEGA',
        'inv-2026-0',
        'INV-2026-01',
        'REC_',
        'no such text',
      ),
    },
    { weight: 1, arbitrary: fc.constantFrom(...others.map((record) => record.id)) },
    { weight: 1, arbitrary: fc.constantFrom(...drafts.map((record) => record.id.toUpperCase())) },
  );
};

const dateArbitrary = (tenant: TenantSpec) =>
  fc.oneof(
    // A record's own local date, or the day before or after it: the boundaries that matter.
    fc
      .tuple(fc.constantFrom(...finalised(tenant.id)), fc.integer({ min: -1, max: 1 }))
      .map(([record, shift]) =>
        Temporal.PlainDate.from(localDateOf(record.at, tenant.timeZone)).add({ days: shift }).toString(),
      ),
    fc.integer({ min: -3, max: spanDays + 3 }).map((offset) => firstDay.add({ days: offset }).toString()),
  );

const amountArbitrary = (tenant: TenantSpec) => {
  const unit = new Decimal(10).pow(-tenant.exponent);
  const amounts = finalised(tenant.id).map((record) => new Decimal(record.amountMinor.toString()).times(unit));
  return fc.oneof(
    // Exactly a record's amount, one minor unit either side, or half a minor unit either side.
    fc
      .tuple(fc.constantFrom(...amounts), fc.constantFrom(0, 0, -1, 1, -0.5, 0.5))
      .map(([amount, shift]) => Decimal.max(0, amount.plus(unit.times(shift))).toNumber()),
    fc.integer({ min: 0, max: 3_000_000 }).map((cents) => cents / 100),
    fc.constantFrom(0, 0.001, 1e15),
  );
};

/** A filter that is present only some of the time, so that combinations still select records. */
const sometimes = <T>(arbitrary: fc.Arbitrary<T>, presence: number): fc.Arbitrary<T | undefined> =>
  fc.oneof({ weight: 100 - presence, arbitrary: fc.constant(undefined) }, { weight: presence, arbitrary });

const filterArbitrary = fc.constantFrom(...tenants).chain((tenant) => {
  const other = tenants.find((candidate) => candidate !== tenant) as TenantSpec;
  return fc
    .record({
      app_id: sometimes(
        fc.constantFrom(...tenant.apps, ...tenant.apps, ...tenant.apps, other.apps[0] as string, 'app_nonexistent'),
        35,
      ),
      status: sometimes(fc.constantFrom<Status>('paid', 'failed', 'refunded', 'pending'), 35),
      date_from: sometimes(dateArbitrary(tenant), 35),
      date_to: sometimes(dateArbitrary(tenant), 35),
      min_amount: sometimes(amountArbitrary(tenant), 30),
      max_amount: sometimes(amountArbitrary(tenant), 30),
      search: sometimes(searchArbitrary(tenant.id), 40),
      page_size: fc.oneof(
        { weight: 1, arbitrary: fc.integer({ min: 1, max: 4 }) },
        { weight: 3, arbitrary: fc.integer({ min: 5, max: 100 }) },
      ),
    })
    .map((params): Filter => {
      const filter: Filter = { tenantId: tenant.id, ...params };
      // A reversed range is a 400 (tested below); here keep them in order.
      if (filter.date_from !== undefined && filter.date_to !== undefined && filter.date_from > filter.date_to) {
        [filter.date_from, filter.date_to] = [filter.date_to, filter.date_from];
      }
      if (filter.min_amount !== undefined && filter.max_amount !== undefined && filter.min_amount > filter.max_amount) {
        [filter.min_amount, filter.max_amount] = [filter.max_amount, filter.min_amount];
      }
      return filter;
    });
});

// ---------------------------------------------------------------------------------------------

describe('the data set', () => {
  it('has what the properties need: ties, every status, no app, drafts, records either side of local midnights', () => {
    const live = oracle.filter((record) => record.status !== 'draft');
    expect(live.length).toBe(150);
    expect(oracle.filter((record) => record.status === 'draft').length).toBe(9);
    for (const status of ['pending', 'paid', 'failed', 'refunded'] as const) {
      expect(live.filter((record) => record.status === status).length, status).toBeGreaterThan(5);
    }
    expect(live.filter((record) => record.appId === null).length).toBeGreaterThan(5);
    const instants = live.map((record) => `${record.tenantId}@${record.at}`);
    expect(new Set(instants).size, 'some records share created_at').toBeLessThan(instants.length - 10);
    const nearMidnight = live.filter((record) => {
      const zoned = Temporal.Instant.fromEpochMilliseconds(record.at).toZonedDateTimeISO(
        tenantOf(record.tenantId).timeZone,
      );
      const ms = zoned.hour * 3_600_000 + zoned.minute * 60_000 + zoned.second * 1000 + zoned.millisecond;
      return ms < 60_000 || ms >= 86_400_000 - 60_000;
    });
    expect(nearMidnight.length).toBeGreaterThan(30);
  });
});

describe('GET /billing/records/:tenant_id/search', () => {
  it('returns exactly the oracle’s matches for random filter combinations, page by page, newest first', async () => {
    // Guards against a vacuous property: enough runs must select something, and some span pages.
    const runs = { matching: 0, multiPage: 0, filters: 0 };
    await fc.assert(
      fc.asyncProperty(filterArbitrary, async (filter) => {
        const expected = expectedMatches(filter);
        if (expected.length > 0) runs.matching++;
        if (expected.length > filter.page_size) runs.multiPage++;
        runs.filters += Object.values(filter).filter((value) => value !== undefined).length - 2;
        const seen = await walkSearch(filter, expected.length);
        const seenIds = seen.map((item) => item.record_id);
        expect(new Set(seenIds).size, 'no record twice').toBe(seenIds.length);
        expect(seenIds).toEqual(expected.map((record) => record.id));
        if (process.env.SEARCH_TEST_TRACE === '1') console.log(expected.length, JSON.stringify(filter));
        for (const [index, item] of seen.entries()) {
          const record = expected[index] as OracleRecord;
          expect(item.status).toBe(record.status);
          expect(item.app_id).toBe(record.appId);
          expect(item.created_at).toBe(rfc3339(record.at));
          expect(majorToMinor(item.amount, tenantOf(filter.tenantId).exponent)).toBe(record.amountMinor);
        }
      }),
      { numRuns: 60, seed: 20_260_420, endOnFailure: true },
    );
    expect(runs.matching, JSON.stringify(runs)).toBeGreaterThanOrEqual(20);
    expect(runs.multiPage, JSON.stringify(runs)).toBeGreaterThanOrEqual(5);
  }, 60_000);

  it('without filters lists every finalised record of the tenant once, and never a draft', async () => {
    for (const tenant of tenants) {
      const filter: Filter = { tenantId: tenant.id, page_size: 100 };
      const expected = expectedMatches(filter);
      expect(expected.length).toBe(50);
      const seen = await walkSearch(filter, expected.length);
      expect(seen.map((item) => item.record_id)).toEqual(expected.map((record) => record.id));
    }
  });

  it('treats %, _ and \\ as themselves and ignores case', async () => {
    const tenant = tenantA;
    for (const search of ['%', '_', '\\', '100%', 'a_c', 'C:\\BILLING', 'mIxEd CaSe', 'größe']) {
      const filter: Filter = { tenantId: tenant.id, search, page_size: 100 };
      const expected = expectedMatches(filter);
      const seen = await walkSearch(filter, expected.length);
      expect(
        seen.map((item) => item.record_id),
        search,
      ).toEqual(expected.map((record) => record.id));
    }
    // `a_c` must not match `abc` or `aXc`; `100%` must not match `1000`.
    const aUnderscoreC = expectedMatches({ tenantId: tenant.id, search: 'a_c', page_size: 100 });
    for (const record of aUnderscoreC) expect(containsLiteral(searchedTexts(record), 'a_c')).toBe(true);
  });

  it('puts a record at exactly local midnight in the new day and one a moment before it in the old day', async () => {
    let checked = 0;
    for (const tenant of tenants) {
      const headers = await viewer(tenant.id);
      const nearMidnight = finalised(tenant.id).filter((record) => {
        const day = Temporal.PlainDate.from(localDateOf(record.at, tenant.timeZone));
        const sinceMidnight = record.at - localMidnight(day, tenant.timeZone);
        const untilMidnight = localMidnight(day.add({ days: 1 }), tenant.timeZone) - record.at;
        return sinceMidnight <= 1_000 || untilMidnight <= 1_000;
      });
      for (const record of nearMidnight) {
        const day = Temporal.PlainDate.from(localDateOf(record.at, tenant.timeZone));
        for (const [shift, included] of [
          [0, true],
          [-1, false],
          [1, false],
        ] as const) {
          const date = day.add({ days: shift }).toString();
          const filter: Filter = { tenantId: tenant.id, date_from: date, date_to: date, page_size: 100 };
          const response = await get(searchUrl(filter, 1), headers);
          expect(response.statusCode, response.body).toBe(200);
          const ids = response.json<ListBody<RecordView>>().items.map((item) => item.record_id);
          expect(ids.includes(record.id), `${new Date(record.at).toISOString()} on ${date} in ${tenant.timeZone}`).toBe(
            included,
          );
          expect(ids).toEqual(expectedMatches(filter).map((match) => match.id));
        }
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(15);
  });
});

describe('search by app and the per-app list agree', () => {
  it('search?app_id=X returns the same records, in the same order, with the same bodies as /apps/X', async () => {
    for (const tenant of tenants) {
      const headers = await viewer(tenant.id);
      for (const app of tenant.apps) {
        const expectedTotal = expectedMatches({ tenantId: tenant.id, app_id: app, page_size: 100 }).length;
        expect(expectedTotal).toBeGreaterThan(0);
        for (const pageSize of [undefined, 3, 100]) {
          const pages = pageSize === undefined ? 1 : Math.ceil(expectedTotal / pageSize);
          for (let page = 1; page <= pages; page++) {
            const paging = pageSize === undefined ? {} : { page, page_size: pageSize };
            const listed = await get(`/billing/records/${tenant.id}/apps/${app}?${queryString(paging)}`, headers);
            const searched = await get(
              `/billing/records/${tenant.id}/search?${queryString({ app_id: app, ...paging })}`,
              headers,
            );
            expect(listed.statusCode, listed.body).toBe(200);
            expect(searched.statusCode, searched.body).toBe(200);
            const { timestamp: listedAt, ...listedBody } = listed.json<ListBody<RecordView>>();
            const { timestamp: searchedAt, ...searchedBody } = searched.json<ListBody<RecordView>>();
            expect(listedAt).toBe(readTime);
            expect(searchedAt).toBe(readTime);
            expect(searchedBody).toEqual(listedBody);
            expect(listedBody.total).toBe(expectedTotal);
          }
        }
      }
    }
  });
});

describe('bad search input', () => {
  const cases: [parameter: string, query: string][] = [
    ['page', 'page=0'],
    ['page', 'page=-1'],
    ['page', 'page=1.5'],
    ['page', 'page=abc'],
    ['page', 'page='],
    ['page_size', 'page_size=0'],
    ['page_size', 'page_size=101'],
    ['page_size', 'page_size=2.5'],
    ['status', 'status=paid&status=failed'],
    ['page', 'page=1&page=2'],
    ['status', 'status=unknown'],
    ['status', 'status=draft'],
    ['status', 'status=PAID'],
    ['date_from', 'date_from=2026-02-30'],
    ['date_to', 'date_to=2026-02-29'],
    ['date_from', 'date_from=2026-13-01'],
    ['date_from', 'date_from=2026-2-3'],
    ['date_to', 'date_to=20260203'],
    ['date_from', 'date_from=2026-02-03T00:00:00Z'],
    ['date_from', 'date_from=2026-03-02&date_to=2026-03-01'],
    ['min_amount', 'min_amount=10&max_amount=9.99'],
    ['min_amount', 'min_amount=NaN'],
    ['min_amount', 'min_amount=Infinity'],
    ['min_amount', 'min_amount=-Infinity'],
    ['min_amount', 'min_amount=1e309'],
    ['min_amount', 'min_amount=abc'],
    ['min_amount', 'min_amount=-1'],
    ['max_amount', 'max_amount=abc'],
    ['max_amount', 'max_amount=1e309'],
    ['search', `search=${'x'.repeat(10_000)}`],
    ['search', 'search='],
    ['search', 'search=a%0Ab'],
    ['app_id', 'app_id=not-an-app'],
    ['unknown', 'unknown=1'],
  ];

  const titled = cases.map(([parameter, query]) => [
    parameter,
    query.length > 60 ? `${query.slice(0, 20)}… (${query.length} characters)` : query,
    query,
  ]);

  it.each(titled)('400 naming %s for ?%s', async (parameter, _title, query) => {
    const response = await get(`/billing/records/${tenantA.id}/search?${query}`, await viewer(tenantA.id));
    const body = expectError(response, 400, 'validation_error');
    expect(body.timestamp).toBe(readTime);
    expect(body.error.details.length).toBeGreaterThan(0);
    expect(body.error.details[0]).toEqual({ in: 'query', parameter, reason: expect.any(String) as string });
  });

  it.each([
    ['page', 'page=0'],
    ['page_size', 'page_size=101'],
    ['page', 'page=1&page=2'],
    ['status', 'status=paid'],
  ])('the per-app list also refuses ?%s naming %s', async (parameter, query) => {
    const response = await get(
      `/billing/records/${tenantA.id}/apps/${tenantA.apps[0] as string}?${query}`,
      await viewer(tenantA.id),
    );
    expect(response.statusCode, response.body).toBe(400);
    expect(response.json<ErrorBody>().error.details[0]).toMatchObject({ in: 'query', parameter });
  });

  // A page far past the end is empty; a page whose offset no longer fits a bigint must not be a 500.
  it.each(['page=1e18', 'page=1e300', 'page=9007199254740993&page_size=100'])(
    'refuses ?%s with a 400 naming page, not a 500',
    async (query) => {
      for (const url of [
        `/billing/records/${tenantA.id}/search?${query}`,
        `/billing/records/${tenantA.id}/apps/${tenantA.apps[0] as string}?${query}`,
      ]) {
        const response = await get(url, await viewer(tenantA.id));
        expect(response.statusCode, `${url}: ${response.body}`).toBe(400);
        expect(response.json<ErrorBody>().error.details[0]).toMatchObject({ in: 'query', parameter: 'page' });
      }
    },
  );

  it('answers a page far past the end with an empty page, not an error', async () => {
    const response = await get(`/billing/records/${tenantA.id}/search?page=100000`, await viewer(tenantA.id));
    expect(response.statusCode, response.body).toBe(200);
    const body = response.json<ListBody<RecordView>>();
    expect(body.items).toEqual([]);
    expect(body.total).toBe(50);
    expect(body.pagination).toMatchObject({ page: 100000, has_next: false, has_prev: true, total_pages: 3 });
  });

  // The calendar's widest dates are real dates: "everything up to 9999-12-31" is a common way to say "no end".
  it.each([
    ['date_to=9999-12-31', 50],
    ['date_from=0000-01-01', 50],
    ['date_from=0000-01-01&date_to=9999-12-31', 50],
    ['date_from=0001-01-01&date_to=0001-01-02', 0],
    ['date_to=0000-12-31', 0],
    ['date_from=9999-12-31', 0],
  ])('answers ?%s with 200 and %i records in every time zone', async (query, count) => {
    for (const tenant of tenants) {
      const response = await get(`/billing/records/${tenant.id}/search?${query}`, await viewer(tenant.id));
      expect(response.statusCode, `${tenant.timeZone}: ${response.body}`).toBe(200);
      expect(response.json<ListBody<RecordView>>().total).toBe(count);
    }
  });
});

describe('tenant isolation', () => {
  const recordOfA = () => finalised(tenantA.id)[0] as OracleRecord;
  const appOfA = tenantA.apps[0] as string;

  it("refuses tenant B's admin on every path of tenant A with 403, the same as for a tenant that does not exist", async () => {
    const headers = await t.as.tenant(tenantB.id, 'tenant_admin');
    const urls = [
      `/billing/records/${tenantA.id}/apps/${appOfA}`,
      `/billing/records/${tenantA.id}/search`,
      `/billing/records/${tenantA.id}/search?search=${recordOfA().id}`,
      `/billing/records/${tenantA.id}/${recordOfA().id}`,
    ];
    const refusals = [];
    for (const url of urls) {
      const response = await get(url, headers);
      expect(response.statusCode, `${url}: ${response.body}`).toBe(403);
      expect(response.body).not.toContain(recordOfA().id);
      refusals.push(response.json<ErrorBody>().message);
    }
    const unknown = await get('/billing/records/tnt_does_not_exist/search', headers);
    expect(unknown.statusCode).toBe(403);
    expect(new Set([...refusals, unknown.json<ErrorBody>().message]).size).toBe(1);
  });

  it("never shows tenant A's records on tenant B's own paths", async () => {
    const headers = await t.as.tenant(tenantB.id, 'tenant_admin');
    const byId = await get(`/billing/records/${tenantB.id}/${recordOfA().id}`, headers);
    expect(byId.statusCode, byId.body).toBe(404);

    const byApp = await get(`/billing/records/${tenantB.id}/search?app_id=${appOfA}`, headers);
    expect(byApp.statusCode, byApp.body).toBe(200);
    expect(byApp.json<ListBody<RecordView>>()).toMatchObject({ items: [], total: 0 });

    const appList = await get(`/billing/records/${tenantB.id}/apps/${appOfA}`, headers);
    expect(appList.statusCode, appList.body).toBe(404);

    for (const search of [recordOfA().id, recordOfA().id.toUpperCase()]) {
      const bySearch = await get(`/billing/records/${tenantB.id}/search?search=${search}`, headers);
      expect(bySearch.statusCode).toBe(200);
      expect(bySearch.json<ListBody<RecordView>>().total).toBe(0);
    }

    const idsOfA = new Set(oracle.filter((record) => record.tenantId === tenantA.id).map((record) => record.id));
    const everything = await walkSearch({ tenantId: tenantB.id, page_size: 100 }, 50);
    for (const item of everything) {
      expect(item.tenant_id).toBe(tenantB.id);
      expect(idsOfA.has(item.record_id)).toBe(false);
    }
  });

  it("a platform admin reading an unknown tenant's records gets 404", async () => {
    const headers = await t.as.platformAdmin();
    for (const url of [
      '/billing/records/tnt_does_not_exist/search',
      '/billing/records/tnt_does_not_exist/search?status=paid&page_size=5',
      '/billing/records/tnt_does_not_exist/apps/app_sh_web',
    ]) {
      const response = await get(url, headers);
      expect(response.statusCode, `${url}: ${response.body}`).toBe(404);
      expect(response.json<ErrorBody>().error.type).toBe('not_found');
    }
    const own = await get(`/billing/records/${tenantA.id}/search?page_size=1`, headers);
    expect(own.statusCode).toBe(200);
    expect(own.json<ListBody<RecordView>>().total).toBe(50);
  });
});
