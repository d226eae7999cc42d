import { ledgerFaults, faultsIn } from './ledger.js';
import { createServerDatabase, loadingClient } from './server.js';
import { stepTimer, type StepTime } from './timing.js';
import { loadRecords, type TenantSpec } from './volume-records.js';

/**
 * The shared volume the read and ledger scenarios run on: a deterministic, seeded load of a
 * platform's worth of billing data, set-based in SQL (every value a hash of its row number and
 * BENCH_SEED), through the migrated schema's constraints and triggers:
 *   - one tenant with 1,000,000 finalised billing records (1–3 lines each) and a 10k-record tenant,
 *     both administered by one user (the compliance export's subject);
 *   - a crowd of tenants with 4 apps each, in six time zones and three currencies;
 *   - a large credit ledger: every tenant's credits and debits, each balance-after chain the one
 *     ledger_post would have written, checked after the load;
 *   - usage rollups for every app, five resource types, 45 days: tens of millions of events' worth.
 * `--quick` loads a fiftieth of it, for a smoke run.
 */

export interface VolumeSpec {
  big: TenantSpec;
  small: TenantSpec;
  /** Administers big and small. */
  exportUserId: string;
  crowdTenants: number;
  /** Ledger postings per crowd tenant, and for big and small. */
  crowdPostings: number;
  bigPostings: number;
  usageDays: number;
  seed: number;
}

export const volumeSpec = (quick: boolean): VolumeSpec => {
  const big: TenantSpec = {
    key: 'big',
    id: 'tnt_bench_big',
    records: quick ? 20_000 : 1_000_000,
    apps: 20,
    appPrefix: 'app_big_',
    timeZone: 'Asia/Shanghai',
    currency: 'CNY',
    taxRate: '0.06',
  };
  return {
    big,
    small: {
      ...big,
      key: 'small',
      id: 'tnt_bench_small',
      records: quick ? 2_000 : 10_000,
      apps: 5,
      appPrefix: 'app_small_',
    },
    exportUserId: 'usr_bench',
    crowdTenants: quick ? 40 : 1_000,
    crowdPostings: quick ? 20 : 300,
    bigPostings: quick ? 2_000 : 50_000,
    usageDays: quick ? 10 : 45,
    seed: Number(process.env.BENCH_SEED ?? 20260101),
  };
};

export interface Volume {
  url: string;
  spec: VolumeSpec;
  load: StepTime[] | null;
  /** Drops the database when this process made it; a volume handed in (BENCH_VOLUME_URL) is kept. */
  release: () => Promise<void>;
}

/** BENCH_VOLUME_URL (loaded by `npm run bench` once for every scenario that reads it), or a fresh load. */
export const openVolume = async (quick: boolean): Promise<Volume> => {
  const spec = volumeSpec(quick);
  const given = process.env.BENCH_VOLUME_URL;
  if (given !== undefined && given !== '') return { url: given, spec, load: null, release: async () => undefined };
  const { database, url } = await createServerDatabase();
  await database.close();
  const load = await loadVolume(url, spec);
  return { url, spec, load, release: () => database.destroy() };
};

const timeZones = ['Asia/Shanghai', 'America/New_York', 'Europe/Berlin', 'Asia/Tokyo', 'Australia/Sydney', 'UTC'];
const loadedAt = '2026-01-01T00:00:00Z';

const crowdSql = `
insert into tenants (id, name, currency, time_zone, tax_rate, admin_user_id, status, created_at, updated_at)
select 'tnt_vol_' || lpad(n::text, 5, '0'), 'Volume tenant ' || n,
       (array['CNY', 'USD', 'JPY'])[1 + (hashint8extended(n, $2) & 2147483647) % 3],
       ($3::text[])[1 + (hashint8extended(n, $2 + 1) & 2147483647) % 6],
       (array[0.06, 0.13, 0])[1 + (hashint8extended(n, $2 + 2) & 2147483647) % 3],
       'usr_vol_' || n, 'active', $4::timestamptz, $4::timestamptz
from generate_series(1, $1::int) as n`;

const crowdAppsSql = `
insert into apps (tenant_id, id, name, status, created_at, updated_at)
select t.id, replace(t.id, 'tnt_vol_', 'app_vol_') || '_' || a, 'App ' || a, 'active', $1::timestamptz, $1::timestamptz
from tenants t cross join generate_series(1, 4) as a
where t.id like 'tnt_vol_%'`;

/**
 * The ledger, set-based: per tenant, four credits (promo) then a debit (manual adjustment), amounts
 * from the seed, each chain computed by window sums exactly as ledger_post would extend it. The
 * chain, balance and insert-only triggers and the foreign keys are skipped for this session only
 * (session_replication_role), so the books are checked afterwards instead (ledgerFaults).
 */
const ledgerSql = [
  `set session_replication_role = replica`,
  `create temp table volume_postings as
   select t.id as tenant_id, t.currency, n,
          'ctr_' || substr(md5('ctr:' || t.id || ':' || n), 1, 16) as transaction_id,
          $3::timestamptz + n * interval '1 second' as created_at,
          case when n % 5 = 0 then 'debit' else 'credit' end as type,
          case when n % 5 = 0 then 'source:manual_adjust' else 'source:promo' end as counter_account,
          case when n % 5 = 0 then 1 + (hashint8extended(n, $4) & 2147483647) % 50
               else 100 + (hashint8extended(n, $4 + 1) & 2147483647) % 1000 end::bigint as amount
   from (select id, currency, case when id in ($5, $6) then $1::int else $2::int end as postings from tenants) t
   cross join lateral generate_series(1, t.postings) as n`,
  `insert into ledger_transactions (tenant_id, id, type, amount, source, source_id, remark, created_at,
                                    account_id, account_version)
   select tenant_id, transaction_id, type, amount, substr(counter_account, 8),
          case when type = 'credit' and n % 2 = 0 then 'campaign-' || n % 97 end, 'volume ' || type || ' ' || n, created_at,
          'cash', n
   from volume_postings`,
  `insert into ledger_entries (tenant_id, account_id, account_version, transaction_id, amount, balance_after, created_at)
   select tenant_id, 'cash', n, transaction_id, delta, sum(delta) over (partition by tenant_id order by n), created_at
   from (select *, case when type = 'credit' then amount else -amount end as delta from volume_postings) p
   union all
   select tenant_id, counter_account, row_number() over w, transaction_id, -delta, sum(-delta) over w, created_at
   from (select *, case when type = 'credit' then amount else -amount end as delta from volume_postings) p
   window w as (partition by tenant_id, counter_account order by n)`,
  `insert into ledger_accounts (tenant_id, id, kind, currency, allow_overdraft, balance, version, created_at, updated_at)
   select e.tenant_id, e.account_id, case when e.account_id = 'cash' then 'tenant_credit' else 'counter' end,
          p.currency, e.account_id <> 'cash', e.balance_after, e.account_version, p.opened_at, e.created_at
   from (select distinct on (tenant_id, account_id) * from ledger_entries
         order by tenant_id, account_id, account_version desc) e
   join (select tenant_id, min(currency) as currency, min(created_at) as opened_at from volume_postings
         group by tenant_id) p on p.tenant_id = e.tenant_id`,
  `drop table volume_postings`,
  `reset session_replication_role`,
];

/** Per app, resource and day: 1–60 events (quantities from the seed) rolled up. */
const usageSql = `
insert into usage_daily (tenant_id, app_id, resource_type, usage_date, aggregation, quantity, latest_at, event_count,
                         updated_at)
select a.tenant_id, a.id, r.resource_type, date '2025-12-31' - d, r.aggregation,
       case when r.aggregation = 'sum' then e.events * r.scale
            else (hashint8extended(hashtext(a.id) + d, $2 + 1) & 2147483647) % 100000 end,
       $3::timestamptz, e.events, $3::timestamptz
from apps a
cross join generate_series(0, $1::int - 1) as d
cross join (values ('api_requests', 'sum', 1000), ('login_attempts', 'sum', 1), ('failed_logins', 'sum', 1),
                   ('storage_used', 'max', 1), ('user_count', 'latest', 1)) as r (resource_type, aggregation, scale)
cross join lateral (
  select 1 + (hashint8extended(hashtext(a.id || r.resource_type) + d, $2) & 2147483647) % 60 as events
) e
where a.tenant_id like 'tnt_vol_%' or a.tenant_id in ($4::text, $5::text)`;

export const loadVolume = async (url: string, spec: VolumeSpec): Promise<StepTime[]> => {
  const { timed, steps } = stepTimer(({ step, ms }) => console.log(`  volume: ${step} ${(ms / 1000).toFixed(1)} s`));
  const records = await loadRecords(url, [spec.big, spec.small]);
  steps.push(...records.steps.map((step) => ({ ...step, step: `records: ${step.step}` })));
  console.log(`  volume: ${spec.big.records + spec.small.records} records ${(records.totalMs / 1000).toFixed(1)} s`);

  const a = await loadingClient(url, 'bench-volume');
  const b = await loadingClient(url, 'bench-volume');
  try {
    await timed(`${spec.crowdTenants} tenants × 4 apps`, async () => {
      await a.query(crowdSql, [spec.crowdTenants, spec.seed, timeZones, loadedAt]);
      await a.query(crowdAppsSql, [loadedAt]);
    });
    // Two connections: the ledger on one, the rollups beside it on the other.
    const postings = spec.crowdTenants * spec.crowdPostings + 2 * spec.bigPostings;
    await Promise.all([
      timed(`ledger: ${postings} transactions, ${2 * postings} entries`, async () => {
        const parameters = [spec.bigPostings, spec.crowdPostings, loadedAt, spec.seed, spec.big.id, spec.small.id];
        for (const statement of ledgerSql) {
          await a.query(statement, statement.includes('$') ? parameters : []);
        }
      }),
      timed(`usage rollups: ${spec.usageDays} days`, () =>
        b.query(usageSql, [spec.usageDays, spec.seed, loadedAt, spec.big.id, spec.small.id]),
      ),
    ]);
    // This server runs without autovacuum; in production it would have done this after the load.
    await timed('vacuum (analyze)', () =>
      Promise.all([
        a.query(`vacuum (analyze) ledger_transactions, ledger_entries, ledger_accounts`),
        b.query(`vacuum (analyze) usage_daily, tenants, apps`),
      ]),
    );
    await timed('check the books', async () => {
      const broken = faultsIn(await ledgerFaults(a));
      if (broken.length > 0) throw new Error(`the loaded ledger is broken: ${broken.join(', ')}`);
    });
    const { rows } = await a.query<{ rows: string; events: string }>(
      `select count(*)::text as rows, sum(event_count)::text as events from usage_daily`,
    );
    console.log(`  volume: usage rollups hold ${rows[0]?.rows} rows, ${rows[0]?.events} events`);
  } finally {
    await a.end();
    await b.end();
  }
  return steps;
};
