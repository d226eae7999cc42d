import type pg from 'pg';
import type { DatabaseHandle } from '../../src/db/database.js';
import { runBilling } from '../../src/modules/billing-run/billing-run.js';
import { withClient } from '../lib/server.js';
import { stopwatch } from '../lib/timing.js';
import { currentIndex, expectedOverage, iso, meteredResources, type BenchTenant } from './workload.js';

/**
 * What a run must leave, checked after each (any difference throws): every subscription advanced
 * exactly one period, one subscription record per period, invoice numbers gapless per tenant, the
 * expected statuses, payments and overage invoices, and a second run as of the same time does nothing.
 */

export interface Expectations {
  tenants: BenchTenant[];
  unpaid: number;
  usageRecords: number;
  usageLines: number;
  usageTotal: bigint;
}

export const expectationsOf = (tenants: BenchTenant[]): Expectations => {
  let usageRecords = 0;
  let usageLines = 0;
  let usageTotal = 0n;
  for (const tenant of tenants) {
    const overage = expectedOverage(tenant);
    if (!overage.owed) continue;
    usageRecords += 1;
    usageLines += overage.lines;
    usageTotal += overage.total;
  }
  return {
    tenants,
    unpaid: tenants.filter((t) => t.payment === 'manual_unpaid').length,
    usageRecords,
    usageLines,
    usageTotal,
  };
};

/** Facts every run must leave true whatever it did: one record per period, gapless numbers per tenant. */
const invariantQuery = `
  select
    (select count(*)::int from subscription_periods p
       join billing_records r on r.tenant_id = p.tenant_id and r.id = p.record_id
      where r.type <> 'subscription') as periods_on_other_records,
    (select count(*)::int - count(distinct (tenant_id, record_id))::int from subscription_periods) as periods_sharing_a_record,
    (select count(*)::int from billing_records where type = 'subscription')
      - (select count(*)::int from subscription_periods) as subscription_records_without_period,
    (select count(*)::int from (
       select r.tenant_id, count(*) as n, min(substring(r.invoice_number from '^INV-2026-(\\d+)$')::int) as lo,
              max(substring(r.invoice_number from '^INV-2026-(\\d+)$')::int) as hi
         from billing_records r where r.invoice_number like 'INV-2026-%' group by r.tenant_id) n
       full join (select tenant_id, last_seq from invoice_sequences where year = 2026) q using (tenant_id)
      where n.n is distinct from q.last_seq or n.lo is distinct from 1 or n.hi is distinct from q.last_seq) as tenants_with_number_gaps,
    (select count(*)::int from billing_records where invoice_number is not null
        and invoice_number not like 'INV-2026-%') as numbers_of_another_year`;

/** Throws listing every count that differs from the one wanted and every invariant broken. */
const expectCounts = async (
  client: pg.Client,
  what: string,
  got: Record<string, number | string>,
  want: Record<string, number | string>,
): Promise<void> => {
  const problems = Object.entries(want)
    .filter(([name, value]) => got[name] !== value)
    .map(([name, value]) => `${name}: ${got[name]}, expected ${value}`);
  const { rows } = await client.query<Record<string, number>>(invariantQuery);
  for (const [name, value] of Object.entries(rows[0] ?? {})) {
    if (value !== 0) problems.push(`${name}: ${value}`);
  }
  if (problems.length > 0) throw new Error(`${what} is wrong:\n  ${problems.join('\n  ')}`);
};

export const verifyRenewal = async (url: string, expect: Expectations, asOf: Date): Promise<Record<string, number>> =>
  withClient(url, async (client) => {
    const n = expect.tenants.length;
    const { rows } = await client.query<Record<string, number>>(
      `with p as (select tenant_id, subscription_id, count(*)::int as n, min(period_start) as first_start,
                         max(period_start) as last_start, min(period_end) as first_end, max(period_end) as last_end
                    from subscription_periods group by 1, 2)
       select
         (select count(*)::int from subscriptions) as subscriptions,
         (select count(*)::int from subscriptions where period_index <> $1) as wrong_period_index,
         (select count(*)::int from subscriptions s left join p on p.tenant_id = s.tenant_id and p.subscription_id = s.id
           where p.n is distinct from 2 or p.first_end <> p.last_start or s.current_period_start <> p.last_start
              or s.current_period_end <> p.last_end) as not_advanced_one_contiguous_period,
         (select count(*)::int from subscriptions where next_run_at <= $2) as still_due,
         (select count(*)::int from subscriptions where status = 'past_due') as past_due,
         (select count(*)::int from subscriptions where status not in ('active', 'past_due')) as other_status,
         (select count(*)::int from billing_records where type = 'subscription' and status = 'paid') as paid_subscription_records,
         (select count(*)::int from billing_records where type = 'subscription' and status = 'pending') as pending_subscription_records,
         (select count(*)::int from metered_billings where status = 'pending') as metered_pending,
         (select count(*)::int from subscriptions s where metering_closes_at is distinct from
            (select min(closes_at) from metered_billings m where m.tenant_id = s.tenant_id and m.status = 'pending'))
           as wrong_metering_close,
         (select count(*)::int from ledger_accounts where id = 'cash' and balance < 0) as negative_balances`,
      [currentIndex + 1, iso(asOf)],
    );
    const got = rows[0]!;
    const want: Record<string, number> = {
      subscriptions: n,
      wrong_period_index: 0,
      not_advanced_one_contiguous_period: 0,
      still_due: 0,
      past_due: expect.unpaid,
      other_status: 0,
      paid_subscription_records: 2 * n - expect.unpaid,
      pending_subscription_records: expect.unpaid,
      metered_pending: n * meteredResources.length,
      wrong_metering_close: 0,
      negative_balances: 0,
    };
    await expectCounts(client, `renewal as of ${iso(asOf)}`, got, want);
    return got;
  });

export const verifyClose = async (
  url: string,
  expect: Expectations,
  asOf: Date,
): Promise<Record<string, number | string>> =>
  withClient(url, async (client) => {
    const n = expect.tenants.length;
    const { rows } = await client.query<Record<string, number | string>>(
      `select
         (select count(*)::int from metered_billings) as metered_rows,
         (select count(*)::int from metered_billings where status <> 'invoiced') as metered_not_invoiced,
         (select count(*)::int from metered_billings where record_id is not null and overage_units = 0)
           as metered_record_without_overage,
         (select count(*)::int from metered_billings where record_id is not null) as metered_rows_invoiced,
         (select count(distinct (tenant_id, record_id))::int from metered_billings where record_id is not null)
           as records_referenced_by_metering,
         (select count(*)::int from subscriptions where metering_closes_at is not null) as metering_still_open,
         (select count(*)::int from subscriptions where next_run_at <= $1) as still_due,
         (select count(*)::int from billing_records where type = 'usage') as usage_records,
         (select count(*)::int from billing_record_lines l join billing_records r
             on r.tenant_id = l.tenant_id and r.id = l.record_id where r.type = 'usage') as usage_lines,
         (select coalesce(sum(total_amount), 0)::text from billing_records where type = 'usage') as usage_total,
         (select count(*)::int from billing_records r join subscriptions s on s.tenant_id = r.tenant_id
           where r.type = 'usage' and r.status <> case when s.payment_method = 'manual' and s.status = 'past_due'
                                                     then 'pending' else 'paid' end) as usage_records_wrong_status,
         (select count(*)::int from subscriptions where status = 'past_due') as past_due,
         (select count(*)::int from ledger_accounts where id = 'cash' and balance < 0) as negative_balances`,
      [iso(asOf)],
    );
    const got = rows[0]!;
    const want: Record<string, number | string> = {
      metered_rows: n * meteredResources.length,
      metered_not_invoiced: 0,
      metered_record_without_overage: 0,
      metered_rows_invoiced: expect.usageLines,
      records_referenced_by_metering: expect.usageRecords,
      metering_still_open: 0,
      still_due: 0,
      usage_records: expect.usageRecords,
      usage_lines: expect.usageLines,
      usage_total: expect.usageTotal.toString(),
      usage_records_wrong_status: 0,
      past_due: expect.unpaid,
      negative_balances: 0,
    };
    await expectCounts(client, `usage close as of ${iso(asOf)}`, got, want);
    return got;
  });

const rowCounts = (url: string) =>
  withClient(url, async (client) => {
    const { rows } = await client.query<Record<string, number>>(
      `select (select count(*)::int from billing_records) as records,
              (select count(*)::int from billing_record_events) as record_events,
              (select count(*)::int from subscription_events) as subscription_events,
              (select count(*)::int from subscription_periods) as periods,
              (select count(*)::int from metered_billings) as metered,
              (select count(*)::int from ledger_entries) as ledger_entries`,
    );
    return rows[0]!;
  });

/** A second run as of the same time must find nothing and write nothing. */
export const checkSecondRun = async (
  handle: DatabaseHandle,
  url: string,
  asOf: Date,
  what: string,
): Promise<number> => {
  const before = await rowCounts(url);
  const elapsed = stopwatch();
  const again = await runBilling(handle.db, asOf);
  const ms = elapsed.ms();
  const after = await rowCounts(url);
  if (again.subscriptions !== 0 || again.failures.length > 0 || JSON.stringify(before) !== JSON.stringify(after)) {
    throw new Error(
      `a second ${what} run as of ${iso(asOf)} did something: ${JSON.stringify(again)}; rows ${JSON.stringify(before)} → ${JSON.stringify(after)}`,
    );
  }
  return Number(ms.toFixed(1));
};
