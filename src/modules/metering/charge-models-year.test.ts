import { describe, expect, it } from 'vitest';
import { dumpDatabase, labelGeneratedIds, type DatabaseDump } from '../../testing/database-dump.js';
import { expectAllItems } from '../../testing/envelopes.js';
import { asTenantViewer } from '../../testing/api.js';
import {
  givenPlan,
  givenSubscription,
  givenTenantWithApps,
  ingestEvents,
  recordsOf,
  usageEvent,
} from '../../testing/fixtures.js';
import { cny, sixPercentTax } from '../../testing/money-by-hand.js';
import { createTestApp, type TestApp } from '../../testing/test-app.js';
import type { MeteredBillingView, RecordView } from '../../testing/views.js';
import { runBilling } from '../billing-run/billing-run.js';
import { lockUpToDateSubscription } from '../subscriptions/advance-subscription.js';

/*
 * A year of api_requests on a graduated, a volume and a package plan (CNY, 6 % tax, UTC),
 * monthly, paid by card: each month's usage is chosen at or next to a tier or package boundary,
 * and each month's usage invoice is checked line by line against figures worked out by hand
 * below. The year is played three times on fresh databases — the billing run one subscription
 * per transaction, 100 per transaction, and the request path — and every table compared.
 */

const tenants = { graduated: 'tnt_graduated', volume: 'tnt_volume', package: 'tnt_package' } as const;
type Model = keyof typeof tenants;
const appOf = (tenantId: string) => tenantId.replace(/^tnt_/, 'app_');

const plans: Record<Model, Record<string, unknown>> = {
  graduated: {
    charge_model: 'graduated',
    tiers: [
      { up_to: 1000, unit_price: '0' },
      { up_to: 10_000, unit_price: '0.01', flat_fee: '5' },
      { up_to: null, unit_price: '0.005' },
    ],
  },
  volume: {
    charge_model: 'volume',
    tiers: [
      { up_to: 5000, unit_price: '0.02' },
      { up_to: 50_000, unit_price: '0.015', flat_fee: '2.5' },
      { up_to: null, unit_price: '0.0125' },
    ],
  },
  package: { charge_model: 'package', included_units: 2000, package_size: 1000, package_price: '0.35' },
};

/** Each month's api_requests (one event on the 10th), the same for the three tenants. */
const monthlyUsage = [0, 1000, 1001, 10_000, 10_001, 2000, 2001, 5000, 5001, 50_000, 50_001, 123_457];

/** [description after "api_requests: ", quantity, unit price, amount in fen]; tax is 6 % of each line, half-up. */
type Line = [string, number, string, bigint];

/*
 * Graduated: units 1–1,000 free, 1,001–10,000 at 0.01 plus a flat 5 once that tier is used, above
 * at 0.005. An invoice only once some unit is past the free tier; the free tier then shows at 0.
 */
const t1 = (units: number): Line => [`tier 1, units 1 to ${units}`, units, '0', 0n];
const flat5: Line = ['tier 2 flat fee', 1, '5', 500n];
const graduated: (Line[] | null)[] = [
  null, // 0
  null, // 1,000: all in the free tier
  [t1(1000), ['tier 2, units 1001 to 1001', 1, '0.01', 1n], flat5], // 0.01 + 5
  [t1(1000), ['tier 2, units 1001 to 10000', 9000, '0.01', 9000n], flat5], // 90 + 5
  // 90 + 5 + 0.005 (half a fen, rounded up)
  [
    t1(1000),
    ['tier 2, units 1001 to 10000', 9000, '0.01', 9000n],
    flat5,
    ['tier 3, units 10001 to 10001', 1, '0.005', 1n],
  ],
  [t1(1000), ['tier 2, units 1001 to 2000', 1000, '0.01', 1000n], flat5], // 10 + 5
  [t1(1000), ['tier 2, units 1001 to 2001', 1001, '0.01', 1001n], flat5], // 10.01 + 5
  [t1(1000), ['tier 2, units 1001 to 5000', 4000, '0.01', 4000n], flat5], // 40 + 5
  [t1(1000), ['tier 2, units 1001 to 5001', 4001, '0.01', 4001n], flat5], // 40.01 + 5
  // 90 + 5 + 40,000 × 0.005 = 200
  [
    t1(1000),
    ['tier 2, units 1001 to 10000', 9000, '0.01', 9000n],
    flat5,
    ['tier 3, units 10001 to 50000', 40_000, '0.005', 20_000n],
  ],
  // 40,001 × 0.005 = 200.005 → 20,000.5 fen → 20,001
  [
    t1(1000),
    ['tier 2, units 1001 to 10000', 9000, '0.01', 9000n],
    flat5,
    ['tier 3, units 10001 to 50001', 40_001, '0.005', 20_001n],
  ],
  // 113,457 × 0.005 = 567.285 → 56,728.5 fen → 56,729
  [
    t1(1000),
    ['tier 2, units 1001 to 10000', 9000, '0.01', 9000n],
    flat5,
    ['tier 3, units 10001 to 123457', 113_457, '0.005', 56_729n],
  ],
];

/* Volume: up to 5,000 all at 0.02; up to 50,000 all at 0.015 plus a flat 2.5; above, all at 0.0125. */
const flat250: Line = ['tier 2 flat fee', 1, '2.5', 250n];
const volume: (Line[] | null)[] = [
  null,
  [['1000 used, all at tier 1 (1 to 5000)', 1000, '0.02', 2000n]], // 20
  [['1001 used, all at tier 1 (1 to 5000)', 1001, '0.02', 2002n]], // 20.02
  [['10000 used, all at tier 2 (5001 to 50000)', 10_000, '0.015', 15_000n], flat250], // 150 + 2.5
  [['10001 used, all at tier 2 (5001 to 50000)', 10_001, '0.015', 15_002n], flat250], // 150.015 → 15,001.5 fen → 15,002
  [['2000 used, all at tier 1 (1 to 5000)', 2000, '0.02', 4000n]], // 40
  [['2001 used, all at tier 1 (1 to 5000)', 2001, '0.02', 4002n]], // 40.02
  [['5000 used, all at tier 1 (1 to 5000)', 5000, '0.02', 10_000n]], // 100: the tier's top stays in it
  [['5001 used, all at tier 2 (5001 to 50000)', 5001, '0.015', 7502n], flat250], // 75.015 → 7,501.5 fen → 7,502
  [['50000 used, all at tier 2 (5001 to 50000)', 50_000, '0.015', 75_000n], flat250], // 750 + 2.5
  [['50001 used, all at tier 3 (above 50000)', 50_001, '0.0125', 62_501n]], // 625.0125 → 62,501.25 fen → 62,501
  [['123457 used, all at tier 3 (above 50000)', 123_457, '0.0125', 154_321n]], // 1,543.2125 → 154,321.25 fen
];

/* Package: 2,000 included, then 0.35 per started block of 1,000. */
const packages = (used: number, over: number, count: number, fen: bigint): Line[] => [
  [`${used} used, 2000 included, ${over} over: ${count} package${count === 1 ? '' : 's'} of 1000`, count, '0.35', fen],
];
const packaged: (Line[] | null)[] = [
  null,
  null,
  null,
  packages(10_000, 8000, 8, 280n), // 8 × 0.35 = 2.80
  packages(10_001, 8001, 9, 315n), // a started block counts whole: 9 × 0.35
  null, // 2,000: exactly the included units
  packages(2001, 1, 1, 35n),
  packages(5000, 3000, 3, 105n),
  packages(5001, 3001, 4, 140n),
  packages(50_000, 48_000, 48, 1680n),
  packages(50_001, 48_001, 49, 1715n),
  packages(123_457, 121_457, 122, 4270n), // 122 × 0.35 = 42.70
];

const expectedLines: Record<Model, (Line[] | null)[]> = { graduated, volume, package: packaged };

const monthStart = (month: number) => new Date(Date.UTC(2026, month, 1));
const iso = (date: Date) => date.toISOString().replace('.000Z', 'Z');

type Advance = (t: TestApp, at: Date) => Promise<void>;

const byRun =
  (batchSize: number): Advance =>
  async (t, at) => {
    const summary = await runBilling(t.database.db, at, { batchSize });
    expect(summary.failures).toEqual([]);
  };

/** What a request does first: each tenant's subscription locked and brought up to now, by direct writes. */
const byRequests: Advance = async (t, at) => {
  for (const tenantId of Object.values(tenants)) {
    await t.database.db.transaction().execute((trx) => lockUpToDateSubscription(trx, { tenantId }, at));
  }
};

/** The year: subscribed on January 1, usage on each 10th, advanced on each 1st (renewal) and 4th (usage close). */
const playYear = async (t: TestApp, advance: Advance) => {
  t.clock.set('2026-01-01T00:00:00Z');
  for (const [model, tenantId] of Object.entries(tenants) as [Model, string][]) {
    await givenPlan(t, model, { monthly_price: 99, resources: [{ resource_type: 'api_requests', ...plans[model] }] });
    await givenTenantWithApps(t, tenantId, [appOf(tenantId)], { currency: 'CNY', time_zone: 'UTC', tax_rate: 0.06 });
    await givenSubscription(t, tenantId, { plan_id: model, payment_method: 'sandbox_success' });
  }
  for (let month = 0; month < 13; month++) {
    for (const day of [1, 4]) {
      const at = new Date(Date.UTC(2026, month, day));
      if (at.getTime() === Date.parse('2026-01-01T00:00:00Z')) continue;
      t.clock.set(at);
      await advance(t, at);
    }
    const quantity = monthlyUsage[month];
    if (quantity === undefined || quantity === 0) continue;
    const at = iso(new Date(Date.UTC(2026, month, 10, 12)));
    t.clock.set(at);
    // Event ids of their own, the same in every play (the kit numbers them across the file).
    const events = Object.values(tenants).map((tenantId) => ({
      ...usageEvent({ tenantId, appId: appOf(tenantId), resourceType: 'api_requests', quantity, timestamp: at }),
      event_id: `evt_${tenantId}_${month + 1}`,
    }));
    expect((await ingestEvents(t, events)).accepted).toBe(events.length);
  }
};

/** The tenant's usage invoices, oldest first. */
const usageRecords = async (t: TestApp, tenantId: string): Promise<RecordView[]> =>
  (await recordsOf(t, tenantId)).filter((record) => record.type === 'usage').reverse();

const checkInvoices = async (t: TestApp) => {
  for (const [model, tenantId] of Object.entries(tenants) as [Model, string][]) {
    const expected = expectedLines[model]
      .map((lines, month) => ({ lines, month }))
      .filter((item): item is { lines: Line[]; month: number } => item.lines !== null);
    const records = await usageRecords(t, tenantId);
    expect(
      records.map((record) => record.description),
      model,
    ).toEqual(
      expected.map(({ month }) => {
        const last = new Date(monthStart(month + 1).getTime() - 86_400_000);
        return `Usage overage ${iso(monthStart(month)).slice(0, 10)} to ${iso(last).slice(0, 10)}`;
      }),
    );
    for (const [index, { lines, month }] of expected.entries()) {
      const record = records[index]!;
      const amount = lines.reduce((sum, line) => sum + line[3], 0n);
      const tax = lines.reduce((sum, line) => sum + sixPercentTax(line[3]), 0n);
      expect(record, `${model}, month ${month + 1}`).toMatchObject({
        status: 'paid',
        currency: 'CNY',
        amount: cny(amount),
        tax_amount: cny(tax),
        total_amount: cny(amount + tax),
      });
      expect(record.line_items, `${model}, month ${month + 1}`).toEqual(
        lines.map(([description, quantity, unitPrice, fen]) => ({
          description: `api_requests: ${description}`,
          resource_type: 'api_requests',
          quantity,
          unit_price: Number(unitPrice),
          amount: cny(fen),
          tax_rate: 0.06,
          tax_amount: cny(sixPercentTax(fen)),
        })),
      );
    }
  }
};

describe('a year of tiered and package pricing through the billing run', () => {
  it(
    'invoices each month to the fen, a line per tier used, the same on both write paths',
    { timeout: 600_000 },
    async () => {
      const paths: [string, Advance][] = [
        ['a run, 100 subscriptions per transaction', byRun(100)],
        ['a run, 1 subscription per transaction', byRun(1)],
        ['the request path', byRequests],
      ];
      const dumps: DatabaseDump[] = [];
      for (const [name, advance] of paths) {
        const t = await createTestApp();
        try {
          await playYear(t, advance);
          await checkInvoices(t);
          if (name === paths[0]![0]) {
            // December's metering (closed January 4): billable units and the exact amount by the model.
            const december = async (tenantId: string) =>
              expectAllItems<MeteredBillingView>(
                await asTenantViewer(t, tenantId).get(`/billing/usage/${tenantId}/metering?page_size=100`),
              ).find((row) => row.period_start === '2026-12-01T00:00:00Z');
            expect(await december(tenants.graduated)).toMatchObject({
              charge_model: 'graduated',
              total_usage: 123_457,
              included_units: 1000,
              overage_units: 122_457,
              overage_unit_price: null,
              // 90 + 5 + 567.285, exact
              overage_amount: '662.285',
              status: 'paid',
            });
            expect(await december(tenants.volume)).toMatchObject({
              charge_model: 'volume',
              included_units: 0,
              overage_units: 123_457,
              overage_amount: '1543.2125',
            });
            expect(await december(tenants.package)).toMatchObject({
              charge_model: 'package',
              included_units: 2000,
              overage_units: 121_457,
              overage_amount: '42.7',
            });
          }
          dumps.push(
            labelGeneratedIds(await dumpDatabase(t.database.db), [
              'subscriptions',
              'billing_records',
              'ledger_transactions',
            ]),
          );
        } finally {
          await t.close();
        }
      }
      const [reference, ...others] = dumps as [DatabaseDump, ...DatabaseDump[]];
      expect(reference.metered_billings?.length).toBe(36);
      for (const [index, other] of others.entries()) {
        // Idempotency keys are the kit's, numbered across the file: the requests' bookkeeping, not billing.
        for (const table of Object.keys(reference).filter((name) => name !== 'idempotency_keys')) {
          expect
            .soft(other[table], `${table}: ${paths[index + 1]![0]} against ${paths[0]![0]}`)
            .toEqual(reference[table]);
        }
      }
    },
  );
});
