/**
 * Pay-as-you-go daily settlement throughput: settlement lines per second through settlePayg, against
 * the same rows inserted directly.
 *
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres npm run bench -- --only=settlement [--quick]
 *
 * Creates a fresh migrated database on that server (as the tests do) and loads one day of
 * consumption into it with multi-row INSERTs (every constraint and trigger in force): 5,000
 * tenants × 4 apps × 5 pay-as-you-go products in usage_daily (plus two metered resources per app
 * that settlement must ignore) = 100,000 settlement lines, and the tenants' instruments — coupons
 * (some scoped to products, some expired or not yet valid, some ending during the day), stored-value
 * cards, cash (a promo credit) and cloud-marketplace balances — each issued through ledger_post, as
 * the service does. Most tenants can pay their day, about a third cannot (owed → a `payg` record),
 * a few hold nothing. Each tenant is created during the settled day (2026-01-14 in its own time
 * zone, one of six) and the clock stands on the next day in every one of them, so settlePayg
 * settles exactly that one day per tenant. The database is kept as a template; every step runs
 * on its own copy:
 *   - baseline: the rows settlement writes for that day, computed beforehand from the spec (untimed)
 *               and inserted directly in transactions of 500 tenants: the ledger postings as one
 *               ledger_post call per deduction in a single statement over a VALUES list, then
 *               records, their lines, history and invoice counters, markers, lines and deductions
 *               as multi-row INSERTs
 *   - settle rN: N concurrent settlePayg runners (1, 2, 4) sharing a pool of N connections; the
 *               one-runner step also attributes the time to each kind of statement (every round
 *               trip timed, begin and commit included); then settlePayg again on a fresh pool
 * Every step also samples what its server sessions are doing (every 50 ms), counts sequential scans
 * of the tables settlement writes, and runs a stand-in for autovacuum's analyze, which this server
 * has off (conf.d/90-ci.conf): without it a session caches the foreign-key checks' plans made
 * while payg_settlement_lines and payg_settlements were empty — sequential scans — and the run
 * turns quadratic (5,000 tenants: ~270 s instead of ~60 s with one runner).
 * After each step the copy is checked, and any difference throws: each tenant-day settled once
 * (one marker per tenant, summaries adding up), a line per consumed (app, product) at its count
 * and price, for every line deductions + owed = billing_result and each kind's column the sum of
 * that kind's deductions, each deduction a payg_deduction debit of its amount out of its
 * instrument's account, every instrument balance never below zero and equal to issued − deducted
 * (cash: promo − deducted), each owed day one pending record for the owed sum, and every line and
 * deduction (amounts and order) as computed from the spec beforehand. Then settlePayg runs again
 * (timed): it must settle nothing and write nothing. Prints tables, writes
 * bench/results/payg-settlement.json (payg-settlement-quick.json with --quick, another suffix for
 * other knobs) and drops every database it made.
 *
 * --quick: 100 tenants (2,000 lines). Knobs (optional):
 * BENCH_TENANTS=5000, BENCH_RUNNERS=1,2,4, BENCH_SEED=20260114, BENCH_AUTOANALYZE_SECONDS=2 (0: off).
 */
import { cpus } from 'node:os';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Decimal } from 'decimal.js';
import pg from 'pg';
import { Temporal } from 'temporal-polyfill';
import { startOfDay, yearIn } from '../src/core/calendar.js';
import { ManualClock } from '../src/core/clock.js';
import { formatInvoiceNumber } from '../src/core/invoice-math.js';
import { majorToMinor, toMajorText } from '../src/core/money.js';
import { planDeductions, usableInOrder, type PayingInstrument } from '../src/core/payg-deduction.js';
import { defaultPoolConfig, openDatabase } from '../src/db/database.js';
import { settlePayg, type SettlementSummary } from '../src/jobs/payg-settlement.js';
import { buildSearchText } from '../src/modules/billing-records/search-text.js';
import { counterAccountFor, tenantCreditAccount, type CreditSource } from '../src/modules/credit-ledger/sources.js';
import { accountIdOf } from '../src/modules/payg/instruments.js';
import { createProduct } from '../src/modules/payg/products.js';
import { settlementActor } from '../src/modules/payg/settle-day.js';
import { createTestDatabase } from '../src/testing/test-database.js';
import { loadAverages, writeResults, type Headline } from './measure.js';
import {
  cloneDatabase,
  dropDatabase,
  fmt,
  quickMode,
  requireServerUrl,
  serverFacts,
  table,
  watchCpu,
  withClient,
} from './support.js';

const serverUrl = requireServerUrl('payg-settlement');
const quick = quickMode();
const tenantCount = Number(process.env.BENCH_TENANTS ?? (quick ? 100 : 5000));
const runnerCounts = (process.env.BENCH_RUNNERS ?? '1,2,4').split(',').map((n) => Number(n.trim()));
const seed = Number(process.env.BENCH_SEED ?? 20260114);
/**
 * Seconds between the checks of the autovacuum stand-in (0: none). The server runs with autovacuum
 * off (a CI setting); without analyze, a session caches the foreign-key checks' plans made while
 * the settlement tables were empty (sequential scans) and the run turns quadratic in the day's size.
 */
const autoanalyzeSeconds = Number(process.env.BENCH_AUTOANALYZE_SECONDS ?? 2);
const appsPerTenant = 4;
const baselineTenantsPerTransaction = 500;
/** Rows per multi-row INSERT at most; fewer when the columns would pass PostgreSQL's 65,535 parameters. */
const maxRowsPerStatement = 5000;
const maxParameters = 65_000;

const day = Temporal.PlainDate.from('2026-01-14');
const settledDay = day.toString();
// Noon UTC of the next day is that next day in every zone below: each tenant settles exactly one day.
const clock = new ManualClock('2026-01-15T12:00:00Z');

const products = [
  { billingKey: 'ai_tokens', displayName: 'AI tokens', unitPrice: '0.00002' },
  { billingKey: 'log_storage_gb', displayName: 'Log storage (GB-day)', unitPrice: '0.0035' },
  { billingKey: 'metric_series', displayName: 'Metric series', unitPrice: '0.0000123456' },
  { billingKey: 'sms_verifications', displayName: 'SMS verifications', unitPrice: '0.045' },
  { billingKey: 'voice_minutes', displayName: 'Voice minutes', unitPrice: '0.0125' },
] as const;
const productByKey = new Map<string, (typeof products)[number]>(products.map((p) => [p.billingKey, p]));
/** Metered resources in usage_daily too: settlement must leave them alone. */
const meteredResources = ['api_requests', 'storage_used'] as const;

// ---------------------------------------------------------------------------------------------
// Workload

/** mulberry32: a small seeded generator, so every run loads the same day. */
const seededRandom = (start: number): (() => number) => {
  let state = start >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
};
type Random = () => number;
const between = (random: Random, low: number, high: number): number => low + Math.floor(random() * (high - low + 1));
const logUniform = (random: Random, low: number, high: number): number =>
  Math.floor(Math.exp(Math.log(low) + random() * (Math.log(high) - Math.log(low))));
const chance = (random: Random, p: number): boolean => random() < p;

const hourMs = 60 * 60 * 1000;
const dayMs = 24 * hourMs;
const at = (instant: Date, offsetMs: number): Date => new Date(instant.getTime() + offsetMs);

/** Ids the schema accepts (`cpn_` + 16 base-36 characters …), unique across the run. */
let idSequence = 0;
const nextId = (prefix: 'cpn' | 'svc' | 'cmk' | 'ctr' | 'rec'): string =>
  `${prefix}_${(idSequence++).toString(36).padStart(16, '0')}`;

type InstrumentKind = 'coupon' | 'stored_card' | 'cloud_marketplace';
const issueSources = {
  coupon: 'coupon_issue',
  stored_card: 'stored_card_issue',
  cloud_marketplace: 'cloud_marketplace_top_up',
} as const;

interface BenchInstrument {
  id: string;
  kind: InstrumentKind;
  amount: bigint;
  validFrom: Date | null;
  validTo: Date | null;
  productKeys: string[] | null;
  customerIdentifier: string | null;
  /** The issuing ledger transaction. */
  transactionId: string;
}

interface Consumption {
  appId: string;
  billingKey: string;
  quantity: bigint;
}

interface BenchTenant {
  id: string;
  timeZone: string;
  currency: string;
  createdAt: Date;
  dayStart: Date;
  dayEnd: Date;
  appIds: string[];
  /** The day's pay-as-you-go consumption, one row per (app, product), in settlement order. */
  consumption: Consumption[];
  instruments: BenchInstrument[];
  /** Promo credit into the cash balance, 0n for none. */
  cash: bigint;
  cashTransactionId: string;
  funding: 'none' | 'short' | 'covered';
}

const timeZones = [
  'Asia/Shanghai',
  'Asia/Shanghai',
  'Asia/Shanghai',
  'UTC',
  'Europe/Berlin',
  'America/New_York',
  'Asia/Tokyo',
  'America/Los_Angeles',
];
const currencies = ['CNY', 'CNY', 'CNY', 'CNY', 'CNY', 'CNY', 'CNY', 'CNY', 'USD', 'JPY'];

// Exact products of a count and a 10-decimal price, as settlement computes them.
const Exact = Decimal.clone({ precision: 60 });
const originOf = (quantity: bigint, unitPrice: string) => new Exact(quantity.toString()).times(unitPrice);
const payableOf = (quantity: bigint, unitPrice: string, currency: string): bigint =>
  majorToMinor(originOf(quantity, unitPrice).toFixed(), currency, Decimal.ROUND_HALF_UP);

/** A share of `total`, at least one minor unit. */
const share = (total: bigint, fraction: number): bigint => {
  // The random fraction becomes whole parts per million; the money itself stays bigint.
  const part = (total * BigInt(Math.floor(fraction * 1_000_000))) / 1_000_000n;
  return part > 0n ? part : 1n;
};

const generateTenant = (random: Random, index: number): BenchTenant => {
  const id = `tnt_pg_${String(index).padStart(5, '0')}`;
  const timeZone = timeZones[index % timeZones.length]!;
  const currency = currencies[index % currencies.length]!;
  const dayStart = startOfDay(day, timeZone);
  const dayEnd = startOfDay(day.add({ days: 1 }), timeZone);
  const createdAt = at(dayStart, Math.floor(random() * 6 * hourMs));
  const appIds = Array.from({ length: appsPerTenant }, (_, a) => `app_pg_${String(index).padStart(5, '0')}_${a}`);
  // Sorted as settlement reads them (app, then billing key; the database collates C).
  const consumption = appIds.flatMap((appId) =>
    products.map(({ billingKey }) => ({ appId, billingKey, quantity: BigInt(logUniform(random, 1, 200_000)) })),
  );
  const bill = consumption.reduce(
    (sum, line) => sum + payableOf(line.quantity, productByKey.get(line.billingKey)!.unitPrice, currency),
    0n,
  );

  const roll = random();
  const funding: BenchTenant['funding'] = roll < 0.08 ? 'none' : roll < 0.35 ? 'short' : 'covered';
  const instruments: BenchInstrument[] = [];
  let cash = 0n;
  const instrument = (kind: InstrumentKind, amount: bigint, fields: Partial<BenchInstrument> = {}): void => {
    instruments.push({
      id: nextId(kind === 'coupon' ? 'cpn' : kind === 'stored_card' ? 'svc' : 'cmk'),
      kind,
      amount,
      validFrom: null,
      validTo: null,
      productKeys: null,
      customerIdentifier: null,
      transactionId: nextId('ctr'),
      ...fields,
    });
  };
  if (funding !== 'none') {
    // What the usable instruments hold together, against the day's bill.
    const target = share(bill, funding === 'short' ? 0.3 + random() * 0.6 : 1.1 + random() * 0.9);
    const usable: { kind: InstrumentKind | 'cash'; weight: number; fields: Partial<BenchInstrument> }[] = [];
    for (let c = between(random, 0, 2); c > 0; c -= 1) {
      const keys = products.map((p) => p.billingKey).filter(() => chance(random, 0.4));
      usable.push({
        kind: 'coupon',
        weight: random(),
        fields: {
          // Expiries spread out (some never), so the soonest-expiry order matters; some valid only
          // for part of the day, some scoped to a few products.
          validFrom: chance(random, 0.5) ? at(dayStart, -between(random, 1, 30) * dayMs) : null,
          validTo: chance(random, 0.15)
            ? at(dayStart, 6 * hourMs)
            : chance(random, 0.2)
              ? null
              : at(dayEnd, between(random, 1, 90) * dayMs),
          productKeys: chance(random, 0.4) && keys.length > 0 ? keys : null,
        },
      });
    }
    for (let c = chance(random, 0.6) ? between(random, 1, 2) : 0; c > 0; c -= 1) {
      usable.push({
        kind: 'stored_card',
        weight: random(),
        fields: chance(random, 0.5)
          ? {
              validFrom: at(dayStart, -between(random, 1, 60) * dayMs),
              validTo: at(dayEnd, between(random, 1, 365) * dayMs),
            }
          : {},
      });
    }
    if (chance(random, 0.5)) usable.push({ kind: 'cash', weight: random(), fields: {} });
    if (chance(random, 0.25)) {
      usable.push({ kind: 'cloud_marketplace', weight: random(), fields: { customerIdentifier: `mkt-${index}` } });
    }
    if (usable.length === 0) usable.push({ kind: 'cash', weight: 1, fields: {} });
    const totalWeight = usable.reduce((sum, u) => sum + u.weight, 0) || 1;
    for (const { kind, weight, fields } of usable) {
      const amount = share(target, weight / totalWeight);
      if (kind === 'cash') cash += amount;
      else instrument(kind, amount, fields);
    }
  }
  // Instruments that may not pay this day: expired before it, or valid only after it.
  if (chance(random, 0.2)) instrument('coupon', share(bill, 1), { validTo: at(dayStart, -dayMs) });
  if (chance(random, 0.1)) {
    instrument('stored_card', share(bill, 1), { validFrom: at(dayEnd, hourMs), validTo: at(dayEnd, 30 * dayMs) });
  }
  return {
    id,
    timeZone,
    currency,
    createdAt,
    dayStart,
    dayEnd,
    appIds,
    consumption,
    instruments,
    cash,
    cashTransactionId: nextId('ctr'),
    funding,
  };
};

// ---------------------------------------------------------------------------------------------
// What settlement must write, computed from the spec (docs/payg.md) with the same core functions

type PaidKind = 'coupon' | 'stored_card' | 'cash' | 'cloud_marketplace';

interface ExpectedDeduction {
  instrumentId: string;
  amount: bigint;
  /** The baseline's ledger transaction (settlePayg makes its own ids). */
  transactionId: string;
}

interface ExpectedLine extends Consumption {
  unitPrice: string;
  displayName: string;
  origin: string;
  payable: bigint;
  paid: Record<PaidKind, bigint>;
  owed: bigint;
  deductions: ExpectedDeduction[];
}

interface ExpectedDay {
  tenant: BenchTenant;
  lines: ExpectedLine[];
  record: { id: string; invoiceNumber: string; description: string; searchText: string; owed: bigint } | null;
}

const expectedDay = (tenant: BenchTenant): ExpectedDay => {
  const instruments: PayingInstrument[] = [
    ...tenant.instruments.map((i) => ({
      id: i.id,
      kind: i.kind,
      balance: i.amount,
      validFrom: i.validFrom,
      validTo: i.validTo,
      productKeys: i.productKeys,
    })),
    { id: 'cash', kind: 'cash', balance: tenant.cash, validFrom: null, validTo: null, productKeys: null },
  ];
  const lines = tenant.consumption.map((item): ExpectedLine => {
    const product = productByKey.get(item.billingKey)!;
    const payable = payableOf(item.quantity, product.unitPrice, tenant.currency);
    const plan = planDeductions(payable, usableInOrder(instruments, item.billingKey, tenant.dayStart, tenant.dayEnd));
    const paid: Record<PaidKind, bigint> = { coupon: 0n, stored_card: 0n, cash: 0n, cloud_marketplace: 0n };
    for (const allocation of plan.allocations) {
      paid[allocation.kind] += allocation.amount;
      instruments.find((candidate) => candidate.id === allocation.instrumentId)!.balance -= allocation.amount;
    }
    return {
      ...item,
      unitPrice: product.unitPrice,
      displayName: product.displayName,
      origin: originOf(item.quantity, product.unitPrice).toFixed(),
      payable,
      paid,
      owed: plan.owed,
      deductions: plan.allocations.map((a) => ({
        instrumentId: a.instrumentId,
        amount: a.amount,
        transactionId: nextId('ctr'),
      })),
    };
  });
  const owedLines = lines.filter((line) => line.owed > 0n);
  let record: ExpectedDay['record'] = null;
  if (owedLines.length > 0) {
    const id = nextId('rec');
    const description = `Pay-as-you-go ${settledDay}, owed after deductions`;
    const invoiceNumber = formatInvoiceNumber(yearIn(tenant.dayEnd, tenant.timeZone), 1);
    record = {
      id,
      invoiceNumber,
      description,
      searchText: buildSearchText([
        invoiceNumber,
        buildSearchText([id, description, ...owedLines.map((line) => lineDescription(line))]),
      ]),
      owed: owedLines.reduce((sum, line) => sum + line.owed, 0n),
    };
  }
  return { tenant, lines, record };
};

const lineDescription = (line: ExpectedLine): string => `${line.displayName} on ${settledDay} (${line.appId})`;

// ---------------------------------------------------------------------------------------------
// Database helpers

/** Multi-row INSERTs of `rows`, as many per statement as the parameter limit allows. */
const insertRows = async (
  client: pg.ClientBase,
  table: string,
  columns: string[],
  rows: unknown[][],
): Promise<void> => {
  const perStatement = Math.min(maxRowsPerStatement, Math.floor(maxParameters / columns.length));
  for (let start = 0; start < rows.length; start += perStatement) {
    const parameters: unknown[] = [];
    const values = rows.slice(start, start + perStatement).map(
      (row) =>
        `(${row
          .map((value) => {
            parameters.push(value);
            return `$${parameters.length}`;
          })
          .join(', ')})`,
    );
    await client.query(`insert into ${table} (${columns.join(', ')}) values ${values.join(', ')}`, parameters);
  }
};

interface Posting {
  tenantId: string;
  transactionId: string;
  type: 'credit' | 'debit';
  amount: bigint;
  source: CreditSource;
  sourceId: string | null;
  remark: string;
  at: Date;
  currency: string;
  account: string;
}

const postingColumns = 11;

/** One ledger_post call per posting, in a single statement over a VALUES list; throws if any is refused. */
const postAll = async (client: pg.ClientBase, postings: Posting[]): Promise<void> => {
  const perStatement = Math.min(maxRowsPerStatement, Math.floor(maxParameters / postingColumns));
  for (let start = 0; start < postings.length; start += perStatement) {
    const chunk = postings.slice(start, start + perStatement);
    const parameters: unknown[] = [];
    const values = chunk.map((p) => {
      const n = parameters.length;
      parameters.push(
        p.tenantId,
        p.transactionId,
        p.type,
        p.amount,
        p.source,
        p.sourceId,
        p.remark,
        p.at,
        p.currency,
        p.account,
        counterAccountFor(p.source),
      );
      return `($${n + 1}::text, $${n + 2}::text, $${n + 3}::text, $${n + 4}::bigint, $${n + 5}::text, $${n + 6}::text,
               $${n + 7}::text, $${n + 8}::timestamptz, $${n + 9}::text, $${n + 10}::text, $${n + 11}::text)`;
    });
    const { rows } = await client.query<{ posted: number; refused: number }>(
      `select count(*)::int as posted, count(*) filter (where balance is null)::int as refused
         from (select ledger_post(v.t, v.id, v.type, v.amount, v.source, v.source_id, v.remark, v.at, v.currency,
                                  v.account, v.counter) as balance
                 from (values ${values.join(', ')})
                      v (t, id, type, amount, source, source_id, remark, at, currency, account, counter)) posted`,
      parameters,
    );
    if (rows[0]?.posted !== chunk.length || rows[0]?.refused !== 0) {
      throw new Error(`ledger_post: ${JSON.stringify(rows[0])} of ${chunk.length} postings`);
    }
  }
};

/** WAL written so far, cluster-wide (other databases on the server add to it). */
const walStats = (url: string) =>
  withClient(url, async (client) => {
    const { rows } = await client.query<{ records: string; bytes: string; syncs: string }>(
      `select wal_records::text as records, wal_bytes::text as bytes, wal_sync::text as syncs from pg_stat_wal`,
    );
    const row = rows[0]!;
    return { records: Number(row.records), bytes: Number(row.bytes), syncs: Number(row.syncs) };
  });

// ---------------------------------------------------------------------------------------------
// Statement profile: every round trip of the pg driver timed by kind (begin and commit included)

interface StatementTime {
  kind: string;
  count: number;
  ms: number;
}

const statementKind = (text: string): string => {
  const sql = text.trim().toLowerCase();
  const verb = /^\w+/.exec(sql)?.[0] ?? '?';
  if (verb === 'begin' || verb === 'commit' || verb === 'rollback') return verb;
  if (sql.includes('ledger_post(')) return 'select ledger_post(…)';
  const table =
    (verb === 'insert' ? /^insert into "?(\w+)/ : verb === 'update' ? /^update "?(\w+)/ : /\bfrom "?(\w+)/).exec(
      sql,
    )?.[1] ?? '?';
  const extra = [
    /\bmax\(/.test(sql) && 'max()',
    / for update/.test(sql) && 'for update',
    / skip locked/.test(sql) && 'skip locked',
  ]
    .filter(Boolean)
    .join(' ');
  return `${verb} ${table}${extra === '' ? '' : ` (${extra})`}`;
};

/**
 * Wraps pg's Client#query (the promise form Kysely uses) to time each statement until `stop`.
 * Measures the round trip as the caller sees it: network, server work and result parsing.
 */
const profileStatements = (): { stop: () => StatementTime[] } => {
  type Query = (this: unknown, ...args: unknown[]) => unknown;
  const prototype = pg.Client.prototype as unknown as { query: Query };
  const original = prototype.query;
  const times = new Map<string, StatementTime>();
  prototype.query = function (this: unknown, ...args: unknown[]): unknown {
    const text = args[0];
    if (typeof text !== 'string' || typeof args[args.length - 1] === 'function') return original.apply(this, args);
    const started = performance.now();
    const done = (): void => {
      const kind = statementKind(text);
      const entry = times.get(kind) ?? { kind, count: 0, ms: 0 };
      entry.count += 1;
      entry.ms += performance.now() - started;
      times.set(kind, entry);
    };
    return (original.apply(this, args) as Promise<unknown>).then(
      (result) => {
        done();
        return result;
      },
      (error: unknown) => {
        done();
        throw error;
      },
    );
  };
  return {
    stop: () => {
      prototype.query = original;
      return [...times.values()].sort((a, b) => b.ms - a.ms);
    },
  };
};

// ---------------------------------------------------------------------------------------------
// Loading the template

const loadTemplate = async (url: string, tenants: BenchTenant[]): Promise<void> => {
  await withClient(url, async (client) => {
    const loadedAt = clock.now();
    await insertRows(
      client,
      'tenants',
      ['id', 'name', 'currency', 'time_zone', 'tax_rate', 'admin_user_id', 'status', 'created_at', 'updated_at'],
      tenants.map((t) => [
        t.id,
        `Bench ${t.id}`,
        t.currency,
        t.timeZone,
        '0.06',
        'usr_bench',
        'active',
        t.createdAt,
        t.createdAt,
      ]),
    );
    await insertRows(
      client,
      'apps',
      ['tenant_id', 'id', 'name', 'status', 'created_at', 'updated_at'],
      tenants.flatMap((t) => t.appIds.map((appId) => [t.id, appId, appId, 'active', t.createdAt, t.createdAt])),
    );
    const usageColumns = [
      'tenant_id',
      'app_id',
      'resource_type',
      'usage_date',
      'aggregation',
      'quantity',
      'latest_at',
      'event_count',
      'updated_at',
    ];
    await insertRows(
      client,
      'usage_daily',
      usageColumns,
      tenants.flatMap((t) => [
        ...t.consumption.map((c) => [
          t.id,
          c.appId,
          c.billingKey,
          settledDay,
          'sum',
          c.quantity,
          at(t.dayEnd, -60_000),
          c.quantity < 1000n ? c.quantity : 1000n,
          loadedAt,
        ]),
        ...t.appIds.flatMap((appId) =>
          meteredResources.map((resource) => [
            t.id,
            appId,
            resource,
            settledDay,
            resource === 'storage_used' ? 'max' : 'sum',
            12_345n,
            at(t.dayEnd, -60_000),
            10n,
            loadedAt,
          ]),
        ),
      ]),
    );
    // Instruments are issued as the service issues them: a ledger credit into their account first.
    const issuedAt = (t: BenchTenant) => at(t.createdAt, 60_000);
    await postAll(client, [
      ...tenants.flatMap((t) =>
        t.instruments.map((i): Posting => ({
          tenantId: t.id,
          transactionId: i.transactionId,
          type: 'credit',
          amount: i.amount,
          source: issueSources[i.kind],
          sourceId: i.id,
          remark: `${i.kind.replace('_', ' ')} ${i.id}`,
          at: issuedAt(t),
          currency: t.currency,
          account: accountIdOf(i.id),
        })),
      ),
      ...tenants
        .filter((t) => t.cash > 0n)
        .map((t): Posting => ({
          tenantId: t.id,
          transactionId: t.cashTransactionId,
          type: 'credit',
          amount: t.cash,
          source: 'promo',
          sourceId: null,
          remark: 'bench promo credit',
          at: issuedAt(t),
          currency: t.currency,
          account: tenantCreditAccount,
        })),
    ]);
    await insertRows(
      client,
      'payg_instruments',
      [
        'tenant_id',
        'id',
        'kind',
        'account_id',
        'issued_amount',
        'valid_from',
        'valid_to',
        'product_keys',
        'customer_identifier',
        'created_at',
      ],
      tenants.flatMap((t) =>
        t.instruments.map((i) => [
          t.id,
          i.id,
          i.kind,
          accountIdOf(i.id),
          i.amount,
          i.validFrom,
          i.validTo,
          i.productKeys,
          i.customerIdentifier,
          issuedAt(t),
        ]),
      ),
    );
    await client.query('vacuum analyze');
  });
};

// ---------------------------------------------------------------------------------------------
// Baseline: the same rows, inserted directly

/** Time spent on each part of the baseline, in ms. */
interface BaselinePhases {
  ledgerPostMs: number;
  insertMs: number;
  commitMs: number;
}

const writeBaseline = async (client: pg.ClientBase, days: ExpectedDay[]): Promise<BaselinePhases> => {
  const phases: BaselinePhases = { ledgerPostMs: 0, insertMs: 0, commitMs: 0 };
  for (let start = 0; start < days.length; start += baselineTenantsPerTransaction) {
    const chunk = days.slice(start, start + baselineTenantsPerTransaction);
    const withRecord = chunk.filter((d) => d.record !== null);
    await client.query('begin');
    const posting = performance.now();
    await postAll(
      client,
      chunk.flatMap(({ tenant, lines }) =>
        lines.flatMap((line) =>
          line.deductions.map((d): Posting => ({
            tenantId: tenant.id,
            transactionId: d.transactionId,
            type: 'debit',
            amount: d.amount,
            source: 'payg_deduction',
            sourceId: `${line.appId}/${line.billingKey}/${settledDay}`,
            remark: lineDescription(line),
            at: tenant.dayEnd,
            currency: tenant.currency,
            account: d.instrumentId === 'cash' ? tenantCreditAccount : accountIdOf(d.instrumentId),
          })),
        ),
      ),
    );
    phases.ledgerPostMs += performance.now() - posting;
    const inserting = performance.now();
    await insertRows(
      client,
      'billing_records',
      [
        'tenant_id',
        'id',
        'app_id',
        'type',
        'status',
        'currency',
        'description',
        'amount',
        'tax_amount',
        'total_amount',
        'invoice_number',
        'search_text',
        'created_at',
        'finalized_at',
        'updated_at',
      ],
      withRecord.map(({ tenant, record }) => [
        tenant.id,
        record!.id,
        null,
        'payg',
        'pending',
        tenant.currency,
        record!.description,
        record!.owed,
        0n,
        record!.owed,
        record!.invoiceNumber,
        record!.searchText,
        tenant.dayEnd,
        tenant.dayEnd,
        tenant.dayEnd,
      ]),
    );
    await insertRows(
      client,
      'billing_record_lines',
      [
        'tenant_id',
        'record_id',
        'line_no',
        'description',
        'resource_type',
        'quantity',
        'unit_price',
        'amount',
        'tax_rate',
        'tax_amount',
      ],
      withRecord.flatMap(({ tenant, record, lines }) =>
        lines
          .filter((line) => line.owed > 0n)
          .map((line, index) => [
            tenant.id,
            record!.id,
            index + 1,
            lineDescription(line),
            line.billingKey,
            1n,
            toMajorText(line.owed, tenant.currency),
            line.owed,
            '0',
            0n,
          ]),
      ),
    );
    await insertRows(
      client,
      'billing_record_events',
      ['tenant_id', 'record_id', 'seq', 'from_status', 'to_status', 'actor', 'reason', 'occurred_at'],
      withRecord.flatMap(({ tenant, record }) => [
        [tenant.id, record!.id, 1, null, 'draft', settlementActor, null, tenant.dayEnd],
        [tenant.id, record!.id, 2, 'draft', 'pending', settlementActor, null, tenant.dayEnd],
      ]),
    );
    await insertRows(
      client,
      'invoice_sequences',
      ['tenant_id', 'year', 'last_seq'],
      withRecord.map(({ tenant }) => [tenant.id, yearIn(tenant.dayEnd, tenant.timeZone), 1]),
    );
    await insertRows(
      client,
      'payg_settlements',
      ['tenant_id', 'settled_day', 'lines', 'record_id', 'settled_at'],
      chunk.map(({ tenant, lines, record }) => [
        tenant.id,
        settledDay,
        lines.length,
        record?.id ?? null,
        tenant.dayEnd,
      ]),
    );
    await insertRows(
      client,
      'payg_settlement_lines',
      [
        'tenant_id',
        'settled_day',
        'app_id',
        'billing_key',
        'consumption',
        'unit_price',
        'origin_amount',
        'billing_result',
        'coupon_amount',
        'stored_card_amount',
        'cash_amount',
        'cloud_marketplace_amount',
        'owe_amount',
        'currency',
        'settled_at',
      ],
      chunk.flatMap(({ tenant, lines }) =>
        lines.map((line) => [
          tenant.id,
          settledDay,
          line.appId,
          line.billingKey,
          line.quantity,
          line.unitPrice,
          line.origin,
          line.payable,
          line.paid.coupon,
          line.paid.stored_card,
          line.paid.cash,
          line.paid.cloud_marketplace,
          line.owed,
          tenant.currency,
          tenant.dayEnd,
        ]),
      ),
    );
    await insertRows(
      client,
      'payg_deductions',
      ['tenant_id', 'settled_day', 'app_id', 'billing_key', 'seq', 'instrument_id', 'amount', 'transaction_id'],
      chunk.flatMap(({ tenant, lines }) =>
        lines.flatMap((line) =>
          line.deductions.map((d, index) => [
            tenant.id,
            settledDay,
            line.appId,
            line.billingKey,
            index + 1,
            d.instrumentId,
            d.amount,
            d.transactionId,
          ]),
        ),
      ),
    );
    phases.insertMs += performance.now() - inserting;
    const committing = performance.now();
    await client.query('commit');
    phases.commitMs += performance.now() - committing;
  }
  return phases;
};

// ---------------------------------------------------------------------------------------------
// Verification

interface RowCounts {
  settlements: number;
  lines: number;
  deductions: number;
  ledgerTransactions: number;
  ledgerEntries: number;
  records: number;
  recordLines: number;
  recordEvents: number;
  invoiceSequences: number;
}

const rowTotal = (counts: RowCounts): number => (Object.values(counts) as number[]).reduce((sum, n) => sum + n, 0);

/** The rows a day's settlement writes, in every table it writes to. */
const countRows = (client: pg.ClientBase): Promise<RowCounts> =>
  client
    .query<RowCounts>(
      `select (select count(*)::int from payg_settlements) as "settlements",
              (select count(*)::int from payg_settlement_lines) as "lines",
              (select count(*)::int from payg_deductions) as "deductions",
              (select count(*)::int from ledger_transactions where source = 'payg_deduction') as "ledgerTransactions",
              (select count(*)::int from ledger_entries e
                 join ledger_transactions t on t.tenant_id = e.tenant_id and t.id = e.transaction_id
                where t.source = 'payg_deduction') as "ledgerEntries",
              (select count(*)::int from billing_records) as "records",
              (select count(*)::int from billing_record_lines) as "recordLines",
              (select count(*)::int from billing_record_events) as "recordEvents",
              (select count(*)::int from invoice_sequences) as "invoiceSequences"`,
    )
    .then(({ rows }) => rows[0]!);

/** Named counts of rows that break a rule; each must be 0. */
const ruleChecks: { rule: string; sql: string }[] = [
  {
    rule: 'a consumed (app, product) without its line, or the line at another count or price',
    sql: `select count(*)::int as n
            from usage_daily u
            join payg_products p on p.billing_key = u.resource_type
            left join payg_settlement_lines l
              on l.tenant_id = u.tenant_id and l.settled_day = u.usage_date and l.app_id = u.app_id
             and l.billing_key = u.resource_type
           where u.quantity > 0 and (l.tenant_id is null or l.consumption <> u.quantity or l.unit_price <> p.unit_price)`,
  },
  {
    rule: 'a marker whose line count differs from its lines',
    sql: `select count(*)::int as n
            from payg_settlements s
            left join (select tenant_id, settled_day, count(*) as n from payg_settlement_lines group by 1, 2) l
              using (tenant_id, settled_day)
           where s.lines <> coalesce(l.n, 0)`,
  },
  {
    rule: 'a line whose deductions + owed differ from billing_result, or a kind column from its deductions',
    sql: `with d as (
            select d.tenant_id, d.settled_day, d.app_id, d.billing_key, sum(d.amount) as total,
                   coalesce(sum(d.amount) filter (where i.kind = 'coupon'), 0) as coupon,
                   coalesce(sum(d.amount) filter (where i.kind = 'stored_card'), 0) as stored_card,
                   coalesce(sum(d.amount) filter (where d.instrument_id = 'cash'), 0) as cash,
                   coalesce(sum(d.amount) filter (where i.kind = 'cloud_marketplace'), 0) as cloud_marketplace,
                   count(*) filter (where i.id is null and d.instrument_id <> 'cash') as unknown
              from payg_deductions d
              left join payg_instruments i on i.tenant_id = d.tenant_id and i.id = d.instrument_id
             group by 1, 2, 3, 4)
          select count(*)::int as n
            from payg_settlement_lines l
            left join d using (tenant_id, settled_day, app_id, billing_key)
           where coalesce(d.total, 0) + l.owe_amount <> l.billing_result
              or coalesce(d.coupon, 0) <> l.coupon_amount or coalesce(d.stored_card, 0) <> l.stored_card_amount
              or coalesce(d.cash, 0) <> l.cash_amount or coalesce(d.cloud_marketplace, 0) <> l.cloud_marketplace_amount
              or coalesce(d.unknown, 0) <> 0`,
  },
  {
    rule: "a deduction without its payg_deduction debit of that amount out of the instrument's account",
    sql: `select count(*)::int as n
            from payg_deductions d
            left join ledger_transactions t on t.tenant_id = d.tenant_id and t.id = d.transaction_id
            left join ledger_entries e
              on e.tenant_id = d.tenant_id and e.transaction_id = d.transaction_id
             and e.account_id = case d.instrument_id when 'cash' then 'cash' else 'instrument:' || d.instrument_id end
           where t.id is null or t.type <> 'debit' or t.source <> 'payg_deduction' or t.amount <> d.amount
              or e.amount is distinct from -d.amount`,
  },
  {
    rule: 'a payg_deduction posting no deduction row names (or one named twice)',
    sql: `select abs((select count(*) from ledger_transactions where source = 'payg_deduction')
                   - (select count(distinct (tenant_id, transaction_id)) from payg_deductions))::int
               + ((select count(*) from payg_deductions)
                   - (select count(distinct (tenant_id, transaction_id)) from payg_deductions))::int as n`,
  },
  {
    rule: 'an instrument balance below zero or other than issued − deducted',
    sql: `select count(*)::int as n
            from payg_instruments i
            join ledger_accounts a on a.tenant_id = i.tenant_id and a.id = i.account_id
            left join (select tenant_id, instrument_id, sum(amount) as total from payg_deductions group by 1, 2) d
              on d.tenant_id = i.tenant_id and d.instrument_id = i.id
           where a.balance < 0 or a.balance <> i.issued_amount - coalesce(d.total, 0)`,
  },
  {
    rule: 'a cash balance below zero or other than promo credits − cash deductions',
    sql: `select count(*)::int as n
            from ledger_accounts a
            left join (select tenant_id, sum(amount) as total from ledger_transactions
                        where source = 'promo' group by 1) p on p.tenant_id = a.tenant_id
            left join (select tenant_id, sum(amount) as total from payg_deductions
                        where instrument_id = 'cash' group by 1) d on d.tenant_id = a.tenant_id
           where a.id = 'cash' and (a.balance < 0 or a.balance <> coalesce(p.total, 0) - coalesce(d.total, 0))`,
  },
  {
    rule: "a tenant-side account that went below zero at some entry, or whose balance is not its entries' sum",
    sql: `select (select count(*) from ledger_entries e
                    join ledger_accounts a on a.tenant_id = e.tenant_id and a.id = e.account_id
                   where a.kind = 'tenant_credit' and e.balance_after < 0)::int
               + (select count(*) from ledger_accounts a
                    left join (select tenant_id, account_id, sum(amount) as total, count(*) as n
                                 from ledger_entries group by 1, 2) e
                      on e.tenant_id = a.tenant_id and e.account_id = a.id
                   where a.balance <> coalesce(e.total, 0) or a.version <> coalesce(e.n, 0))::int as n`,
  },
  {
    rule: 'an owed day without its pending payg record for the owed sum (or a record without owed lines)',
    sql: `with owed as (
            select tenant_id, settled_day, sum(owe_amount) as owed, count(*) filter (where owe_amount > 0) as lines
              from payg_settlement_lines group by 1, 2)
          select (select count(*)
                    from payg_settlements s
                    left join owed o using (tenant_id, settled_day)
                    left join billing_records r on r.tenant_id = s.tenant_id and r.id = s.record_id
                    left join (select tenant_id, record_id, count(*) as n from billing_record_lines group by 1, 2) rl
                      on rl.tenant_id = s.tenant_id and rl.record_id = s.record_id
                   where (coalesce(o.owed, 0) > 0) <> (s.record_id is not null)
                      or (s.record_id is not null
                          and (r.type <> 'payg' or r.status <> 'pending' or r.total_amount <> o.owed
                               or r.tax_amount <> 0 or rl.n <> o.lines)))::int
               + abs((select count(*) from billing_records)
                   - (select count(*) from payg_settlements where record_id is not null))::int as n`,
  },
];

interface Verified {
  rows: RowCounts;
  /** Deductions per instrument kind (cash included) and owed lines: every path must have run. */
  paths: Record<string, number>;
}

/**
 * Checks a step's database against the rules and against what the spec computes; throws listing
 * every difference.
 */
const verify = async (url: string, label: string, days: ExpectedDay[]): Promise<Verified> =>
  withClient(url, async (client) => {
    const problems: string[] = [];
    const expectedLines = days.reduce((sum, d) => sum + d.lines.length, 0);
    const { rows: markers } = await client.query<{ n: number; tenants: number; days: number; day: string | null }>(
      `select count(*)::int as n, count(distinct tenant_id)::int as tenants, count(distinct settled_day)::int as days,
              min(settled_day)::text as day
         from payg_settlements`,
    );
    const m = markers[0]!;
    if (m.n !== days.length || m.tenants !== days.length || m.days !== 1 || m.day !== settledDay) {
      problems.push(`markers: ${JSON.stringify(m)}, expected one per tenant (${days.length}) for ${settledDay}`);
    }
    const rows = await countRows(client);
    if (rows.lines !== expectedLines) problems.push(`${rows.lines} lines, expected ${expectedLines}`);
    if (rows.ledgerEntries !== 2 * rows.ledgerTransactions) {
      problems.push(`${rows.ledgerEntries} entries for ${rows.ledgerTransactions} deduction postings`);
    }
    for (const { rule, sql } of ruleChecks) {
      const { rows: broken } = await client.query<{ n: number }>(sql);
      if (broken[0]?.n !== 0) problems.push(`${broken[0]?.n} × ${rule}`);
    }

    // Every line and deduction as the spec computes it (settlePayg's transaction ids are its own).
    const expected = new Map(
      days.flatMap(({ tenant, lines }) => lines.map((line) => [`${tenant.id}/${line.appId}/${line.billingKey}`, line])),
    );
    const { rows: lines } = await client.query<Record<string, string>>(
      `select tenant_id || '/' || app_id || '/' || billing_key as key, origin_amount::text as origin,
              billing_result::text as payable, coupon_amount::text as coupon, stored_card_amount::text as stored_card,
              cash_amount::text as cash, cloud_marketplace_amount::text as cloud_marketplace, owe_amount::text as owed
         from payg_settlement_lines`,
    );
    const { rows: deductions } = await client.query<{ key: string; instruments: string[]; amounts: string[] }>(
      `select tenant_id || '/' || app_id || '/' || billing_key as key, array_agg(instrument_id order by seq) as instruments,
              array_agg(amount::text order by seq) as amounts
         from payg_deductions group by 1`,
    );
    const deductionsByKey = new Map(deductions.map((d) => [d.key, d]));
    let differing = 0;
    for (const line of lines) {
      const want = expected.get(line.key!);
      const got = deductionsByKey.get(line.key!);
      const same =
        want !== undefined &&
        new Decimal(line.origin!).equals(want.origin) &&
        line.payable === want.payable.toString() &&
        line.owed === want.owed.toString() &&
        (['coupon', 'stored_card', 'cash', 'cloud_marketplace'] as const).every(
          (kind) => line[kind] === want.paid[kind].toString(),
        ) &&
        (got?.instruments ?? []).join() === want.deductions.map((d) => d.instrumentId).join() &&
        (got?.amounts ?? []).join() === want.deductions.map((d) => d.amount.toString()).join();
      if (!same) {
        differing += 1;
        if (differing <= 3) {
          problems.push(
            `line ${line.key} is ${JSON.stringify({ ...line, deductions: got })}, the spec gives ` +
              JSON.stringify(want, (_, value: unknown) => (typeof value === 'bigint' ? value.toString() : value)),
          );
        }
      }
    }
    if (differing > 0) problems.push(`${differing} lines differ from the spec's computation`);

    const { rows: pathRows } = await client.query<{ path: string; n: number }>(
      `select coalesce(i.kind, d.instrument_id) as path, count(*)::int as n
         from payg_deductions d
         left join payg_instruments i on i.tenant_id = d.tenant_id and i.id = d.instrument_id
        group by 1
       union all
       select 'owed', count(*)::int from payg_settlement_lines where owe_amount > 0`,
    );
    const paths = Object.fromEntries(pathRows.map((row) => [row.path, row.n]));
    for (const path of ['coupon', 'stored_card', 'cash', 'cloud_marketplace', 'owed']) {
      if (!((paths[path] ?? 0) > 0)) problems.push(`no line went through ${path}`);
    }
    if (problems.length > 0) throw new Error(`${label}: the settled day is wrong:\n  ${problems.join('\n  ')}`);
    return { rows, paths };
  });

// ---------------------------------------------------------------------------------------------
// Steps

interface StepResult {
  step: string;
  runners: number;
  seconds: number;
  tenantDays: number;
  lines: number;
  rows: number;
  linesPerSecond: number;
  rowsPerSecond: number;
  msPerTenantDay: number;
  nodeCores: number;
  machineBusy: number;
  loadAverage: number[];
  /** Cluster-wide WAL written during the step, per tenant-day. */
  walBytesPerTenantDay: number;
  walSyncsPerTenantDay: number;
  /** What the step's server sessions were doing, as shares of samples taken every 50 ms. */
  sessions: SessionShare[];
  /** The autovacuum stand-in's analyzes during the step. */
  autoanalyze: Autoanalyze;
  /** Sequential scans of the written tables during the step. */
  seqScans?: Record<string, { scans: number; tuplesRead: number }>;
  /** settlePayg run again on the settled copy: how long it took (it must settle nothing). */
  secondRunSeconds?: number;
  /** Tenant-days each runner settled. */
  perRunner?: number[];
  profile?: StatementTime[];
  /** Baseline only: where its time went (ledger_post calls in bulk, the other INSERTs, commits). */
  baselinePhases?: {
    ledgerPostSeconds: number;
    ledgerPostMsEach: number;
    insertSeconds: number;
    commitSeconds: number;
  };
  verified: Verified;
}

interface SessionShare {
  state: string;
  share: number;
}

/** Runs `tick` on a connection of its own every `intervalMs` until stopped (and once more then). */
const inBackground = (
  url: string,
  intervalMs: number,
  tick: (client: pg.Client) => Promise<void>,
): { stop: () => Promise<void> } => {
  const client = new pg.Client({ connectionString: url, application_name: 'bench-settlement-watch' });
  const stopping = new AbortController();
  const loop = (async () => {
    await client.connect();
    try {
      while (!stopping.signal.aborted) {
        await tick(client);
        // Cut short by stop(), so a step's teardown does not wait out the interval.
        await sleep(intervalMs, undefined, { signal: stopping.signal }).catch(() => undefined);
      }
    } finally {
      await client.end();
    }
  })();
  return {
    stop: async () => {
      stopping.abort();
      await loop;
    },
  };
};

interface SessionShare {
  state: string;
  share: number;
}

/**
 * Samples what the server sessions of one database are doing: on CPU (or runnable: the machine
 * has 2 cores), waiting on I/O or a lock, or idle in transaction (the server waits for the runner:
 * network, JavaScript, the next statement). Queries in the config-object form, which the
 * statement profile leaves out (it times the text form, which Kysely uses).
 */
const sampleSessions = (database: string): { stop: () => Promise<SessionShare[]> } => {
  const counts = new Map<string, number>();
  const watch = inBackground(serverUrl, 50, async (client) => {
    const { rows } = await client.query<{ state: string }>({
      text: `select case when state = 'idle in transaction' then 'idle in transaction (waiting for the runner)'
                         when state = 'idle' then 'idle (between transactions)'
                         when wait_event is null then 'active: on CPU or runnable'
                         else 'active: waiting ' || wait_event_type || ':' || wait_event end as state
               from pg_stat_activity
              where datname = $1 and backend_type = 'client backend'
                and application_name <> 'bench-settlement-watch'`,
      values: [database],
    });
    for (const { state } of rows) counts.set(state, (counts.get(state) ?? 0) + 1);
  });
  return {
    stop: async () => {
      await watch.stop();
      const total = [...counts.values()].reduce((sum, n) => sum + n, 0);
      return [...counts.entries()]
        .map(([state, n]) => ({ state, share: Number((n / Math.max(1, total)).toFixed(3)) }))
        .sort((a, b) => b.share - a.share);
    },
  };
};

interface Autoanalyze {
  runs: number;
  seconds: number;
  tables: Record<string, number>;
}

/**
 * Stands in for autovacuum's analyze, off on this server: every `autoanalyzeSeconds`, analyzes
 * each table changed by at least 50 rows + 10 % since its last analyze (autovacuum's defaults).
 */
const autoanalyze = (url: string): { stop: () => Promise<Autoanalyze> } => {
  const done: Autoanalyze = { runs: 0, seconds: 0, tables: {} };
  if (!(autoanalyzeSeconds > 0)) return { stop: async () => done };
  const watch = inBackground(url, autoanalyzeSeconds * 1000, async (client) => {
    const { rows } = await client.query<{ table: string }>({
      text: `select s.relname as table from pg_stat_user_tables s join pg_class c on c.oid = s.relid
              where s.n_mod_since_analyze >= 50 + 0.1 * greatest(c.reltuples, 0)`,
    });
    for (const { table } of rows) {
      const started = performance.now();
      await client.query({ text: `analyze ${table}` });
      done.runs += 1;
      done.seconds += (performance.now() - started) / 1000;
      done.tables[table] = (done.tables[table] ?? 0) + 1;
    }
  });
  return {
    stop: async () => {
      await watch.stop();
      return { ...done, seconds: Number(done.seconds.toFixed(2)) };
    },
  };
};

/** Sequential scans of the tables settlement writes (a foreign-key check planned on an empty table scans). */
const seqScanStats = async (url: string): Promise<Record<string, { scans: number; tuplesRead: number }>> => {
  // A closed session's counters reach the statistics as it exits.
  await sleep(500);
  return withClient(url, async (client) => {
    const { rows } = await client.query<{ table: string; scans: number; tuples_read: string }>(
      `select relname as table, seq_scan::int as scans, seq_tup_read::text as tuples_read from pg_stat_user_tables
        where relname in ('payg_settlements', 'payg_settlement_lines', 'payg_deductions', 'ledger_transactions',
                          'ledger_entries', 'billing_records')
        order by relname`,
    );
    return Object.fromEntries(
      rows.map((row) => [row.table, { scans: row.scans, tuplesRead: Number(row.tuples_read) }]),
    );
  });
};

interface Timing {
  seconds: number;
  nodeCores: number;
  machineBusy: number;
  wal: { bytes: number; syncs: number };
  sessions: SessionShare[];
  autoanalyze: Autoanalyze;
}

const measured = async (url: string, work: () => Promise<void>): Promise<Timing> => {
  const walBefore = await walStats(url);
  const sampler = sampleSessions(new URL(url).pathname.slice(1));
  const analyzer = autoanalyze(url);
  let sessions: SessionShare[] = [];
  let analyzed: Autoanalyze = { runs: 0, seconds: 0, tables: {} };
  let seconds = Number.NaN;
  let cpuUse = { nodeCores: Number.NaN, machineBusy: Number.NaN };
  const cpu = watchCpu();
  const started = performance.now();
  try {
    await work();
    seconds = (performance.now() - started) / 1000;
    cpuUse = cpu();
  } finally {
    // Stopped whatever happened, so no watcher's connection outlives the step.
    sessions = await sampler.stop();
    analyzed = await analyzer.stop();
  }
  const walAfter = await walStats(url);
  return {
    seconds,
    ...cpuUse,
    wal: { bytes: walAfter.bytes - walBefore.bytes, syncs: walAfter.syncs - walBefore.syncs },
    sessions,
    autoanalyze: analyzed,
  };
};

const stepResult = (
  step: string,
  runners: number,
  timing: Timing,
  verified: Verified,
  tenantDays: number,
): StepResult => ({
  step,
  runners,
  seconds: Number(timing.seconds.toFixed(2)),
  tenantDays,
  lines: verified.rows.lines,
  rows: rowTotal(verified.rows),
  linesPerSecond: Math.round(verified.rows.lines / timing.seconds),
  rowsPerSecond: Math.round(rowTotal(verified.rows) / timing.seconds),
  msPerTenantDay: Number(((timing.seconds * 1000) / tenantDays).toFixed(2)),
  nodeCores: timing.nodeCores,
  machineBusy: timing.machineBusy,
  loadAverage: loadAverages(),
  walBytesPerTenantDay: Math.round(timing.wal.bytes / tenantDays),
  walSyncsPerTenantDay: Number((timing.wal.syncs / tenantDays).toFixed(2)),
  sessions: timing.sessions,
  autoanalyze: timing.autoanalyze,
  verified,
});

const runBaseline = async (templateName: string, days: ExpectedDay[]): Promise<StepResult> => {
  const name = `${templateName}_baseline`;
  const url = await cloneDatabase(serverUrl, templateName, name);
  try {
    let phases: BaselinePhases = { ledgerPostMs: 0, insertMs: 0, commitMs: 0 };
    const timing = await measured(url, async () => {
      phases = await withClient(url, (client) => writeBaseline(client, days));
    });
    const seqScans = await seqScanStats(url);
    const verified = await verify(url, 'baseline', days);
    const postings = verified.rows.ledgerTransactions;
    return {
      ...stepResult('baseline', 1, timing, verified, days.length),
      seqScans,
      baselinePhases: {
        ledgerPostSeconds: Number((phases.ledgerPostMs / 1000).toFixed(2)),
        ledgerPostMsEach: Number((phases.ledgerPostMs / Math.max(1, postings)).toFixed(3)),
        insertSeconds: Number((phases.insertMs / 1000).toFixed(2)),
        commitSeconds: Number((phases.commitMs / 1000).toFixed(2)),
      },
    };
  } finally {
    await dropDatabase(serverUrl, name);
  }
};

const runSettlement = async (templateName: string, runners: number, days: ExpectedDay[]): Promise<StepResult> => {
  const name = `${templateName}_settle_r${runners}`;
  const url = await cloneDatabase(serverUrl, templateName, name);
  const open = () => openDatabase({ kind: 'server', url, pool: { ...defaultPoolConfig, max: runners } });
  try {
    let summaries: SettlementSummary[] = [];
    let profile: StatementTime[] | undefined;
    const handle = await open();
    let timing: Timing;
    try {
      // Opens every connection of the pool before the clock starts.
      await Promise.all(Array.from({ length: runners }, () => handle.ping()));
      // The one-runner step times each statement of the run itself (not the WAL reads around it).
      timing = await measured(url, async () => {
        const profiler = runners === 1 ? profileStatements() : undefined;
        try {
          summaries = await Promise.all(Array.from({ length: runners }, () => settlePayg(handle.db, clock)));
        } finally {
          profile = profiler?.stop();
        }
      });
    } finally {
      await handle.close();
    }
    const failures = summaries.flatMap((s) => s.failures);
    const settled = summaries.reduce((sum, s) => sum + s.days, 0);
    if (failures.length > 0 || settled !== days.length) {
      throw new Error(
        `settle r${runners}: ${settled} tenant-days settled (expected ${days.length}), ` +
          `${failures.length} failures: ${JSON.stringify(failures.slice(0, 5))}`,
      );
    }
    const seqScans = await seqScanStats(url);
    const settledRows = await withClient(url, countRows);

    // A second run (a later scheduler pass) finds every day settled: it must settle and write nothing.
    let again: SettlementSummary = { days: 0, failures: [] };
    const secondHandle = await open();
    let second: Timing;
    try {
      second = await measured(url, async () => {
        again = await settlePayg(secondHandle.db, clock);
      });
    } finally {
      await secondHandle.close();
    }
    const rowsAfter = await withClient(url, countRows);
    if (again.days !== 0 || again.failures.length > 0 || JSON.stringify(rowsAfter) !== JSON.stringify(settledRows)) {
      throw new Error(
        `settle r${runners}: a second run settled ${again.days} days with ${again.failures.length} failures ` +
          `and took rows from ${JSON.stringify(settledRows)} to ${JSON.stringify(rowsAfter)}`,
      );
    }
    const verified = await verify(url, `settle r${runners}`, days);
    return {
      ...stepResult(`settle r${runners}`, runners, timing, verified, days.length),
      seqScans,
      secondRunSeconds: Number(second.seconds.toFixed(2)),
      perRunner: summaries.map((s) => s.days),
      ...(profile === undefined ? {} : { profile }),
    };
  } finally {
    await dropDatabase(serverUrl, name);
  }
};

// ---------------------------------------------------------------------------------------------
// Report

// Runs of another shape keep the default run's figures: payg-settlement-<variant>.json.
const variant = [
  quick
    ? 'quick'
    : tenantCount === 5000 && runnerCounts.join() === '1,2,4'
      ? ''
      : `${tenantCount}-r${runnerCounts.join('-')}`,
  autoanalyzeSeconds === 2 ? '' : `autoanalyze-${autoanalyzeSeconds}s`,
]
  .filter((part) => part !== '')
  .join('-');
const resultsName = variant === '' ? 'payg-settlement' : `payg-settlement-${variant}`;

const main = async (): Promise<void> => {
  const started = performance.now();
  const loadAtStart = loadAverages();
  const facts = await serverFacts(serverUrl);
  const lineCount = tenantCount * appsPerTenant * products.length;
  console.log(
    `PostgreSQL ${facts.server_version}, ${cpus().length} CPUs, load ${loadAtStart.join(' ')}; ` +
      `${tenantCount} tenants × ${appsPerTenant} apps × ${products.length} products = ${lineCount} lines on ` +
      `${settledDay}, runners ${runnerCounts.join(', ')}, seed ${seed}${quick ? ' (quick)' : ''}, autovacuum stand-in ` +
      `${autoanalyzeSeconds > 0 ? `every ${autoanalyzeSeconds} s` : 'off'}`,
  );

  const generating = performance.now();
  const random = seededRandom(seed);
  const tenants = Array.from({ length: tenantCount }, (_, index) => generateTenant(random, index));
  const days = tenants.map(expectedDay);
  const deductionCount = days.reduce((sum, d) => sum + d.lines.reduce((n, line) => n + line.deductions.length, 0), 0);
  const workload = {
    tenants: tenantCount,
    lines: lineCount,
    usageDailyRows: lineCount + tenantCount * appsPerTenant * meteredResources.length,
    instruments: Object.fromEntries(
      (['coupon', 'stored_card', 'cloud_marketplace'] as const).map((kind) => [
        kind,
        tenants.reduce((n, t) => n + t.instruments.filter((i) => i.kind === kind).length, 0),
      ]),
    ),
    tenantsWithCash: tenants.filter((t) => t.cash > 0n).length,
    funding: Object.fromEntries(
      (['none', 'short', 'covered'] as const).map((f) => [f, tenants.filter((t) => t.funding === f).length]),
    ),
    deductions: deductionCount,
    owedLines: days.reduce((sum, d) => sum + d.lines.filter((line) => line.owed > 0n).length, 0),
    owedDays: days.filter((d) => d.record !== null).length,
  };
  console.log(
    `workload generated in ${fmt((performance.now() - generating) / 1000, 1)} s: ${workload.deductions} deductions, ` +
      `${workload.owedLines} owed lines on ${workload.owedDays} owed days, instruments ${JSON.stringify(workload.instruments)}, ` +
      `${workload.tenantsWithCash} tenants with cash`,
  );

  const template = await createTestDatabase();
  if (template.url === undefined) throw new Error('expected a server database');
  const templateName = new URL(template.url).pathname.slice(1);
  const results: StepResult[] = [];
  let loadSeconds = Number.NaN;
  try {
    const loading = performance.now();
    for (const product of products) {
      const created = await createProduct(template.db, clock, {
        billing_key: product.billingKey,
        display_name: product.displayName,
        unit_price: product.unitPrice,
        billing_cycle: 'Day',
        category: 'pay-as-you-go',
      });
      if (!created.ok) throw new Error(`product ${product.billingKey}: ${created.error.message}`);
    }
    // A database is cloned only while nobody is connected to it.
    await template.close();
    await loadTemplate(template.url, tenants);
    loadSeconds = (performance.now() - loading) / 1000;
    console.log(`template loaded in ${fmt(loadSeconds, 1)} s`);

    const baseline = await runBaseline(templateName, days);
    results.push(baseline);
    console.log(
      `  baseline   ${fmt(baseline.seconds, 2)} s, ${fmt(baseline.rowsPerSecond)} rows/s, ` +
        `${fmt(baseline.linesPerSecond)} lines/s (${baseline.rows} rows; checked); ledger_post ` +
        `${fmt(baseline.baselinePhases?.ledgerPostSeconds ?? Number.NaN, 2)} s ` +
        `(${fmt(baseline.baselinePhases?.ledgerPostMsEach ?? Number.NaN, 3)} ms each), other INSERTs ` +
        `${fmt(baseline.baselinePhases?.insertSeconds ?? Number.NaN, 2)} s, commits ` +
        `${fmt(baseline.baselinePhases?.commitSeconds ?? Number.NaN, 2)} s`,
    );
    for (const runners of runnerCounts) {
      const result = await runSettlement(templateName, runners, days);
      results.push(result);
      console.log(
        `  settle r${runners}  ${fmt(result.seconds, 1)} s, ${fmt(result.linesPerSecond)} lines/s, ` +
          `${fmt(result.msPerTenantDay, 2)} ms per tenant-day, node ${fmt(result.nodeCores, 2)} cores, machine ` +
          `${fmt(result.machineBusy * 100)}% busy, load ${result.loadAverage[0]}; per runner ` +
          `${result.perRunner?.join('/')}; second run ${fmt(result.secondRunSeconds ?? Number.NaN, 1)} s, settled nothing; checked`,
      );
    }
  } finally {
    await template.destroy();
  }

  const baseline = results.find((r) => r.step === 'baseline');
  const ratio = (r: StepResult): string => `${fmt(r.rowsPerSecond / (baseline?.rowsPerSecond ?? Number.NaN), 3)}x`;
  console.log(
    `\n${table(
      [
        'step',
        'seconds',
        'lines/s',
        'rows/s',
        'vs baseline',
        'ms/tenant-day',
        'WAL KB/tenant-day',
        'WAL syncs/tenant-day',
        'node cores',
        'machine busy',
        'load 1m',
        'analyzes',
        'seq-scanned tuples',
        'second run s',
      ],
      results.map((r) => [
        r.step === 'baseline' ? 'baseline: direct INSERTs + ledger_post' : `settlePayg, ${r.runners} runner(s)`,
        fmt(r.seconds, 2),
        fmt(r.linesPerSecond),
        fmt(r.rowsPerSecond),
        ratio(r),
        fmt(r.msPerTenantDay, 2),
        fmt(r.walBytesPerTenantDay / 1024, 1),
        fmt(r.walSyncsPerTenantDay, 2),
        fmt(r.nodeCores, 2),
        `${fmt(r.machineBusy * 100)}%`,
        String(r.loadAverage[0]),
        String(r.autoanalyze.runs),
        fmt(Object.values(r.seqScans ?? {}).reduce((sum, t) => sum + t.tuplesRead, 0)),
        r.secondRunSeconds === undefined ? '' : fmt(r.secondRunSeconds, 2),
      ]),
    )}\n(${baseline?.rows ?? '-'} rows per step: ${JSON.stringify(baseline?.verified.rows)}; ` +
      `WAL is cluster-wide; analyzes: the autovacuum stand-in's, ` +
      `${autoanalyzeSeconds > 0 ? `checked every ${autoanalyzeSeconds} s` : 'off'}; ` +
      `seq-scanned tuples: of the tables settlement writes)\n`,
  );
  const states = [...new Set(results.flatMap((r) => r.sessions.map((session) => session.state)))];
  console.log(
    `${table(
      ['server sessions of the step (share of samples)', ...results.map((r) => r.step)],
      states.map((state) => [
        state,
        ...results.map((r) => `${fmt(100 * (r.sessions.find((x) => x.state === state)?.share ?? 0), 1)}%`),
      ]),
    )}\n(every 50 ms, all sessions of the step's database; "on CPU or runnable" includes waiting for a core)\n`,
  );
  const profiled = results.find((r) => r.profile !== undefined);
  if (profiled?.profile !== undefined) {
    const totalMs = profiled.seconds * 1000;
    const statementMs = profiled.profile.reduce((sum, s) => sum + s.ms, 0);
    console.log(
      `${table(
        ['statement (settlePayg, 1 runner)', 'count', 'per tenant-day', 'total s', 'share', 'mean ms'],
        [
          ...profiled.profile.map((s) => [
            s.kind,
            String(s.count),
            fmt(s.count / profiled.tenantDays, 1),
            fmt(s.ms / 1000, 2),
            `${fmt((100 * s.ms) / totalMs, 1)}%`,
            fmt(s.ms / s.count, 3),
          ]),
          [
            'all statements',
            String(profiled.profile.reduce((sum, s) => sum + s.count, 0)),
            fmt(profiled.profile.reduce((sum, s) => sum + s.count, 0) / profiled.tenantDays, 1),
            fmt(statementMs / 1000, 2),
            `${fmt((100 * statementMs) / totalMs, 1)}%`,
            '',
          ],
          [
            'between statements (JS, pool)',
            '',
            '',
            fmt((totalMs - statementMs) / 1000, 2),
            `${fmt((100 * (totalMs - statementMs)) / totalMs, 1)}%`,
            '',
          ],
        ],
      )}\n(round trips as the driver sees them: network, server work, result parsing)\n`,
    );
  }

  const headlines: Headline[] = results
    .filter((r) => r !== baseline)
    .map((r) => ({
      measure: `settle ${r.lines.toLocaleString('en')} lines of one day, ${r.runners} runner${r.runners === 1 ? '' : 's'}`,
      value: r.seconds,
      unit: 's',
      better: 'lower',
      note: `${fmt(r.linesPerSecond)} lines/s`,
      baseline: { what: 'the same rows written directly', value: baseline?.seconds ?? Number.NaN },
    }));
  const out = writeResults(resultsName, loadAtStart, headlines, {
    server: facts,
    quick,
    seed,
    autoanalyzeSeconds,
    settledDay,
    clock: clock.now().toISOString(),
    workload,
    loadSeconds: Number(loadSeconds.toFixed(1)),
    steps: results,
  });
  console.log(`figures written to ${out}`);
  console.log(`total run time: ${fmt((performance.now() - started) / 1000, 1)} s`);
};

await main();
