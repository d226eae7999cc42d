import { loadingClient } from './server.js';
import { stepTimer, stopwatch, type StepTime } from './timing.js';

/**
 * Set-based loader of the volume's billing records (the search and export scenarios read them). Every value is a pure function of the series
 * number (hashint8extended / md5), so two runs load byte-identical data.
 *
 * Loading 1M rows through the migration's indexes and per-row foreign-key triggers takes minutes
 * (measured: ~113 s for the records with their 6 secondary indexes, ~48 s for the lines with the FK
 * trigger). So the loader saves the secondary index and foreign-key definitions exactly as the
 * migrations left them (pg_indexes / pg_get_constraintdef), drops them, loads, and puts them back
 * from the saved text: the schema measured is the migrated schema, and re-adding each foreign key
 * validates every row in one set-based pass.
 */

export interface TenantSpec {
  /** Seed of every hash, so the two tenants differ. */
  key: string;
  id: string;
  records: number;
  apps: number;
  appPrefix: string;
  timeZone: string;
  currency: string;
  taxRate: string;
}

export interface LoadTimings {
  totalMs: number;
  steps: StepTime[];
}

const hash = (seed: number): string => `(hashint8extended(n, ${seed}) & 2147483647)`;

/** Records are spread evenly over 2024-01-01 .. 2026-01-01 (tenant time), increasing with n. */
const stageLinesSql = `
insert into bench_stage_lines (tenant_key, n, line_no, created_at, description, resource_type, quantity, unit_price,
                               amount, tax_amount)
with span as (
  select timestamp '2024-01-01' at time zone $3::text as start_at,
         (extract(epoch from (timestamp '2026-01-01' at time zone $3::text) - (timestamp '2024-01-01' at time zone $3::text))
           * 1000)::bigint / $2::bigint as step_ms
), records as (
  select n, 1 + ${hash(5)} % 3 as line_count,
         span.start_at + interval '1 millisecond' * ((n - 1) * span.step_ms + ${hash(6)} % span.step_ms) as created_at
  from generate_series(1, $2::bigint) as n, span
), resources (idx, name, resource_type, unit_price, max_quantity) as (
  values (0, 'API calls', 'api_calls', 0.002, 200000), (1, 'Storage GB-month', 'storage_gb', 0.12, 5000),
         (2, 'Compute hours', 'compute_hours', 0.35, 2000), (3, 'Seats', 'seats', 99, 20),
         (4, 'Bandwidth GB', 'bandwidth_gb', 0.08, 10000), (5, 'Premium support', 'support', 499, 2)
), lines as (
  select records.n, records.created_at, line.line_no,
         (hashint8extended(records.n * 4 + line.line_no, 7) & 2147483647) % 6 as resource_idx,
         1 + (hashint8extended(records.n * 4 + line.line_no, 8) & 2147483647) % 1000000 as quantity_hash
  from records cross join lateral generate_series(1, records.line_count) as line (line_no)
)
select $1::text, lines.n, lines.line_no, lines.created_at,
       resources.name || ' ' || to_char(lines.created_at at time zone $3::text, 'YYYY-MM'),
       resources.resource_type, q.quantity, resources.unit_price, q.amount, round(q.amount * $4::numeric)::bigint
from lines
join resources on resources.idx = lines.resource_idx
cross join lateral (
  select 1 + lines.quantity_hash % resources.max_quantity as quantity,
         -- Half-up to the minor unit, as priceLine does (numeric round is half away from zero).
         round((1 + lines.quantity_hash % resources.max_quantity) * resources.unit_price * 100)::bigint as amount
) as q`;

/**
 * Finalised records: search_text is exactly what finalizeRecord leaves, the lower-cased invoice
 * number, id, description and line descriptions joined by '\\n'. Invoice numbers are gapless per
 * tenant year, numbered in creation order, formatted like formatInvoiceNumber.
 */
const insertRecordsSql = `
insert into billing_records (tenant_id, id, app_id, type, status, currency, description, amount, tax_amount,
                             total_amount, invoice_number, search_text, created_at, finalized_at, due_at,
                             updated_at)
with totals as (
  select n, min(created_at) as created_at, sum(amount)::bigint as amount, sum(tax_amount)::bigint as tax_amount,
         string_agg(description, E'\\n' order by line_no) as line_text
  from bench_stage_lines where tenant_key = $1::text group by n
), vocabulary (idx, type, text) as (
  values (0, 'subscription', 'Professional Monthly Subscription'), (1, 'subscription', 'Basic Monthly Subscription'),
         (2, 'subscription', 'Enterprise Annual Subscription'), (3, 'usage', 'Monthly usage charges'),
         (4, 'usage', 'Metered API usage'), (5, 'payg', 'Pay-as-you-go settlement'), (6, 'top_up', 'Credit top-up'),
         (7, 'proration', 'Plan change proration'), (8, 'one_time', 'Onboarding service fee'),
         (9, 'usage', 'Storage overage')
), drawn as (
  select totals.*, 'rec_' || substr(md5($1::text || ':' || n), 1, 16) as id,
         ${hash(2)} % ($4::int + 1) as app_no, ${hash(3)} % 10 as vocabulary_idx, ${hash(4)} % 100 as status_roll,
         -- The record-specific token: a customer reference no other record carries.
         'ref-' || substr(md5('ref:' || $1::text || ':' || n), 1, 10) as token,
         extract(year from created_at at time zone $5::text)::int as year
  from totals
), numbered as (
  select drawn.*, row_number() over (partition by year order by n) as seq from drawn
)
select $2::text, x.id,
       case when x.app_no = 0 then null else $3::text || lpad(x.app_no::text, 2, '0') end,
       v.type,
       case when x.status_roll < 70 then 'paid' when x.status_roll < 85 then 'pending'
            when x.status_roll < 93 then 'failed' else 'refunded' end,
       $6::text, v.text || ' ' || x.token, x.amount, x.tax_amount, x.amount + x.tax_amount, i.invoice_number,
       lower(i.invoice_number || E'\\n' || x.id || E'\\n' || v.text || ' ' || x.token || E'\\n' || x.line_text),
       x.created_at, x.created_at, x.created_at, x.created_at
from numbered x
join vocabulary v on v.idx = x.vocabulary_idx
cross join lateral (
  select 'INV-' || x.year || '-' || lpad(x.seq::text, greatest(3, length(x.seq::text)), '0') as invoice_number
) as i
order by x.n`;

const insertLinesSql = `
insert into billing_record_lines (tenant_id, record_id, line_no, description, resource_type, quantity, unit_price,
                                  amount, tax_rate, tax_amount)
select $2::text, 'rec_' || substr(md5($1::text || ':' || n), 1, 16) as record_id, line_no, description, resource_type,
       quantity, unit_price, amount, $3::numeric, tax_amount
from bench_stage_lines where tenant_key = $1::text
order by record_id, line_no`;

export const loadRecords = async (url: string, tenants: TenantSpec[]): Promise<LoadTimings> => {
  const elapsed = stopwatch();
  const { timed, steps } = stepTimer();
  const settings = [`maintenance_work_mem = '512MB'`];
  const a = await loadingClient(url, 'bench-loader', settings);
  const b = await loadingClient(url, 'bench-loader', settings);
  try {
    await timed('tenants and apps', async () => {
      for (const tenant of tenants) {
        await a.query(
          `insert into tenants (id, name, currency, time_zone, tax_rate, admin_user_id, status, created_at, updated_at)
           values ($1, $2, $3, $4, $5, 'usr_bench', 'active', '2023-12-01T00:00:00Z', '2023-12-01T00:00:00Z')`,
          [tenant.id, `Bench ${tenant.key}`, tenant.currency, tenant.timeZone, tenant.taxRate],
        );
        await a.query(
          `insert into apps (tenant_id, id, name, status, created_at, updated_at)
           select $1, $2 || lpad(i::text, 2, '0'), 'App ' || i, 'active', '2023-12-01T00:00:00Z', '2023-12-01T00:00:00Z'
           from generate_series(1, $3::int) as i`,
          [tenant.id, tenant.appPrefix, tenant.apps],
        );
      }
    });

    // Secondary indexes of billing_records (everything but the constraint-backing primary key) and
    // the foreign keys of the two loaded tables, exactly as the migrations created them.
    const indexes = (
      await a.query<{ name: string; definition: string }>(
        `select i.indexname as name, i.indexdef as definition
         from pg_indexes i
         where i.schemaname = current_schema() and i.tablename = 'billing_records'
           and not exists (select 1 from pg_constraint c where c.conindid = (quote_ident(i.indexname))::regclass)
         order by i.indexname`,
      )
    ).rows;
    const foreignKeys = (
      await a.query<{ table: string; name: string; definition: string }>(
        `select conrelid::regclass::text as "table", conname as name, pg_get_constraintdef(oid) as definition
         from pg_constraint
         where contype = 'f' and conrelid in ('billing_records'::regclass, 'billing_record_lines'::regclass)
         order by conrelid::regclass::text desc, conname`,
      )
    ).rows;

    await timed('drop secondary indexes and foreign keys', async () => {
      for (const fk of foreignKeys) await a.query(`alter table ${fk.table} drop constraint ${fk.name}`);
      for (const index of indexes) await a.query(`drop index ${index.name}`);
      await a.query(
        `create unlogged table bench_stage_lines (
           tenant_key text not null, n bigint not null, line_no integer not null, created_at timestamptz not null,
           description text not null, resource_type text not null, quantity bigint not null,
           unit_price numeric not null, amount bigint not null, tax_amount bigint not null)`,
      );
    });

    for (const tenant of tenants) {
      await timed(`stage lines (${tenant.key})`, () =>
        a.query(stageLinesSql, [tenant.key, tenant.records, tenant.timeZone, tenant.taxRate]),
      );
      await timed(`insert ${tenant.records} records (${tenant.key})`, () =>
        a.query(insertRecordsSql, [
          tenant.key,
          tenant.id,
          tenant.appPrefix,
          tenant.apps,
          tenant.timeZone,
          tenant.currency,
        ]),
      );
    }
    await timed('invoice sequences', () =>
      a.query(
        `insert into invoice_sequences (tenant_id, year, last_seq)
         select tenant_id, split_part(invoice_number, '-', 2)::int, max(split_part(invoice_number, '-', 3)::int)
         from billing_records group by 1, 2`,
      ),
    );

    // Two cores: the GIN build (the longest step, single-threaded) runs beside the lines load and
    // the b-tree builds. CREATE INDEX takes a share lock, which other CREATE INDEXes do not block.
    const gin = indexes.filter((index) => /using gin/i.test(index.definition));
    const btree = indexes.filter((index) => !gin.includes(index));
    await Promise.all([
      (async () => {
        for (const index of gin) await timed(`index ${index.name} (parallel)`, () => a.query(index.definition));
      })(),
      (async () => {
        for (const tenant of tenants) {
          await timed(`insert lines (${tenant.key}) (parallel)`, () =>
            b.query(insertLinesSql, [tenant.key, tenant.id, tenant.taxRate]),
          );
        }
        for (const index of btree) await timed(`index ${index.name} (parallel)`, () => b.query(index.definition));
      })(),
    ]);

    await timed('re-add foreign keys (validates every row)', async () => {
      for (const fk of foreignKeys) {
        await a.query(`alter table ${fk.table} add constraint ${fk.name} ${fk.definition}`);
      }
      await a.query(`drop table bench_stage_lines`);
    });
    // In production autovacuum's insert threshold does this soon after a bulk of inserts (this server
    // runs with autovacuum off). Without it the visibility map is empty and every index-only scan
    // visits the heap, which is not the steady state being measured.
    await timed('vacuum (analyze)', async () => {
      await Promise.all([
        a.query(`vacuum (analyze) billing_records`),
        b.query(`vacuum (analyze) billing_record_lines`),
      ]);
      // The search counters (migration 0016), written by its trigger in the records' insert.
      await a.query(`vacuum (analyze) billing_record_counts`);
      await a.query(`analyze tenants, apps, invoice_sequences`);
    });
  } finally {
    await a.end();
    await b.end();
  }
  return { totalMs: Math.round(elapsed.ms()), steps };
};
