import { Temporal } from 'temporal-polyfill';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asTenantViewer } from '../../testing/api.js';
import { expectAllItems, expectData, expectList } from '../../testing/envelopes.js';
import {
  givenPlan,
  givenSubscription,
  givenTenantWithApps,
  ingestEvents,
  recordsOf,
  usageEvent,
} from '../../testing/fixtures.js';
import { createTestApp, type TestApp } from '../../testing/test-app.js';
import type { MeteredBillingView } from '../../testing/views.js';
import { runBilling } from '../billing-run/billing-run.js';
import { distinctBucketOf } from './distinct-buckets.js';
import { usageOverDays } from './repository.js';

describe('distinctBucketOf', () => {
  it('keeps a day in the latest period start on or before it, else in its calendar month', () => {
    const boundaries = ['2026-01-15', '2026-02-15'];
    expect(distinctBucketOf('2026-01-15', boundaries)).toEqual({ periodFrom: '2026-01-15', dayIndex: 0 });
    expect(distinctBucketOf('2026-02-14', boundaries)).toEqual({ periodFrom: '2026-01-15', dayIndex: 30 });
    expect(distinctBucketOf('2026-02-15', boundaries)).toEqual({ periodFrom: '2026-02-15', dayIndex: 0 });
    expect(distinctBucketOf('2026-01-14', boundaries)).toEqual({ periodFrom: '2026-01-01', dayIndex: 13 });
    expect(distinctBucketOf('2026-03-03', [])).toEqual({ periodFrom: '2026-03-01', dayIndex: 2 });
    // A yearly period and its final part-day fit one bitmap; a day further away falls back to its month.
    expect(distinctBucketOf('2027-01-15', ['2026-01-15'])).toEqual({ periodFrom: '2026-01-15', dayIndex: 365 });
    expect(distinctBucketOf('2027-02-04', ['2026-01-15'])).toEqual({ periodFrom: '2027-02-01', dayIndex: 3 });
  });
});

/** A deterministic stream of numbers in [0, 1): the scenario is the same on every run. */
const seeded = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0;
  let x = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
  return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
};

const localDay = (instant: Temporal.Instant, zone: string) => instant.toZonedDateTimeISO(zone).toPlainDate().toString();

interface UpcomingView {
  period_start: string;
  amount: number;
  line_items: { resource_type: string | null; quantity: number }[];
}

interface SentEvent {
  appId: string;
  user: string;
  day: string;
}

/*
 * Monthly active users through ingestion, stats, the metered close and the invoice, against
 * in-memory sets: a subscription from January 15 (local time), events every day for five weeks
 * with repeated users (some as numbers, 42 and "42" being one), late events up to two days back,
 * instants on both sides of local midnight, each day's events sent as three concurrent batches.
 */
describe.each([
  ['Asia/Shanghai', 'tnt_mau_shanghai'],
  ['America/New_York', 'tnt_mau_new_york'],
])('distinct counts in %s', (zone, tenantId) => {
  let t: TestApp;
  const apps = [`app_${tenantId.slice(4)}_a`, `app_${tenantId.slice(4)}_b`];
  const sent: SentEvent[] = [];
  /** The upcoming invoice asked on the period's last day, and the distinct users of the period sent by then. */
  let upcoming: { invoice: UpcomingView; usersSoFar: number } | undefined;
  const start = Temporal.ZonedDateTime.from({ timeZone: zone, year: 2026, month: 1, day: 15, hour: 10 });

  beforeAll(async () => {
    t = await createTestApp();
    t.clock.set(new Date(start.epochMilliseconds));
    await givenPlan(t, 'mau', {
      monthly_price: 10,
      resources: [
        {
          resource_type: 'monthly_active_users',
          charge_model: 'graduated',
          tiers: [
            { up_to: 5, unit_price: '0' },
            { up_to: null, unit_price: '0.5' },
          ],
        },
      ],
    });
    await givenTenantWithApps(t, tenantId, apps, { time_zone: zone, tax_rate: 0 });
    await givenSubscription(t, tenantId, { plan_id: 'mau', payment_method: 'sandbox_success' });

    const random = seeded(zone.length);
    let n = 0;
    for (let day = 0; day < 38; day++) {
      const midnight = start.startOfDay().add({ days: day });
      const now = midnight.add({ hours: 23, minutes: 59 });
      t.clock.set(new Date(now.epochMilliseconds));
      // Nothing is due before the period ends (day 31): the run renews it, then closes its usage.
      if (day >= 30) await runBilling(t.database.db, t.clock.now(), { batchSize: 10 });
      const events = Array.from({ length: 12 }, () => {
        // Today mostly, at its first and last instants too; now and then one or two days late.
        const late = random() < 0.2 ? Math.floor(random() * 3) : 0;
        const offsets = [0, 1, Math.floor(random() * 86_399_999), 86_399_999];
        const at = midnight
          .subtract({ days: late })
          .toInstant()
          .add({ milliseconds: offsets[Math.floor(random() * offsets.length)]! });
        const appId = apps[Math.floor(random() * apps.length)]!;
        const id = Math.floor(random() * 400);
        const user: string | number = id % 7 === 0 ? id : `usr_${id}`;
        sent.push({ appId, user: String(user), day: localDay(at, zone) });
        return {
          ...usageEvent({
            tenantId,
            appId,
            resourceType: 'monthly_active_users',
            quantity: 1,
            timestamp: at.toString(),
          }),
          event_id: `evt_${tenantId}_${++n}`,
          properties: { user_id: user, plan: 'ignored' },
        };
      });
      // Three concurrent batches, sharing users; one event repeated in two of them.
      const batches = [events.slice(0, 4), events.slice(4, 8), [...events.slice(8), events[0]!]];
      const results = await Promise.all(batches.map((batch) => ingestEvents(t, batch)));
      expect(results.reduce((sum, result) => sum + result.accepted, 0)).toBe(12);
      expect(results.reduce((sum, result) => sum + result.rejected, 0)).toBe(0);
      if (localDay(now.toInstant(), zone) === '2026-02-14') {
        upcoming = {
          invoice: expectData<UpcomingView>(
            await asTenantViewer(t, tenantId).get(`/billing/subscriptions/${tenantId}/upcoming-invoice`),
          ),
          usersSoFar: new Set(sent.filter((event) => event.day < '2026-02-15').map((event) => event.user)).size,
        };
      }
    }
  }, 300_000);
  afterAll(() => t.close());

  const distinctUsers = (filter: (event: SentEvent) => boolean) =>
    new Set(sent.filter(filter).map((event) => event.user)).size;

  it('shows each day’s distinct users, per app and over all apps, as the sets have them', async () => {
    const days = [...new Set(sent.map((event) => event.day))].sort();
    for (const appId of [undefined, ...apps]) {
      const query = `date_from=${days[0]}&date_to=${days.at(-1)}&page_size=100${appId === undefined ? '' : `&app_id=${appId}`}`;
      const page = expectList<{ date: string; metrics: Record<string, number> }>(
        await asTenantViewer(t, tenantId).get(`/billing/usage/${tenantId}/stats?${query}`),
      );
      for (const row of page.items) {
        const expected = distinctUsers(
          (event) => event.day === row.date && (appId === undefined || event.appId === appId),
        );
        expect(row.metrics.monthly_active_users ?? 0, `${row.date} ${appId ?? 'all apps'}`).toBe(expected);
      }
    }
  });

  it('bills the first period’s distinct users, counted once however often and late they came', async () => {
    const [from, until] = ['2026-01-15', '2026-02-15'];
    const expected = distinctUsers((event) => event.day >= from && event.day < until);
    const metering = expectAllItems<MeteredBillingView>(
      await asTenantViewer(t, tenantId).get(`/billing/usage/${tenantId}/metering?page_size=100`),
    ).find((row) => row.resource_type === 'monthly_active_users' && row.status === 'paid');
    expect(metering?.total_usage).toBe(expected);
    const usage = (await recordsOf(t, tenantId)).filter((record) => record.type === 'usage');
    expect(usage).toHaveLength(1);
    // Five free, then 0.5 each.
    expect(usage[0]?.amount).toBe((expected - 5) * 0.5);
  });

  it('shows the period’s distinct users so far on its upcoming invoice, priced by the same tiers', () => {
    expect(upcoming?.invoice.period_start.slice(0, 10)).toBe(
      new Date(start.epochMilliseconds).toISOString().slice(0, 10),
    );
    const usersSoFar = upcoming?.usersSoFar ?? 0;
    const mau = upcoming?.invoice.line_items.filter((line) => line.resource_type === 'monthly_active_users') ?? [];
    expect(mau.map((line) => line.quantity)).toEqual([5, usersSoFar - 5]);
    expect(upcoming?.invoice.amount).toBe(10 + (usersSoFar - 5) * 0.5);
  });

  it('counts the current period, one app, and spans that match no bucket, exactly', async () => {
    const db = t.database.db;
    const spans: [string, string, string | null][] = [
      ['2026-02-15', '2026-02-22', null],
      ['2026-02-15', '2026-02-22', apps[1]!],
      ['2026-01-20', '2026-02-01', null],
      ['2026-01-10', '2026-02-20', apps[0]!],
      ['2026-02-14', '2026-02-16', null],
    ];
    for (const [from, until, appId] of spans) {
      const totals = await usageOverDays({ db, scope: { tenantId }, from, until, appId });
      const expected = distinctUsers(
        (event) => event.day >= from && event.day < until && (appId === null || event.appId === appId),
      );
      expect(totals.get('monthly_active_users') ?? 0n, `${from}..${until} ${appId ?? ''}`).toBe(BigInt(expected));
    }
  });
});
