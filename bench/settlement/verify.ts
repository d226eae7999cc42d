import { Decimal } from 'decimal.js';
import type pg from 'pg';
import { withClient } from '../lib/server.js';
import { settledDay } from './config.js';
import type { ExpectedDay } from './expected.js';

export interface RowCounts {
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

export const rowTotal = (counts: RowCounts): number =>
  (Object.values(counts) as number[]).reduce((sum, n) => sum + n, 0);

/** The rows a day's settlement writes, in every table it writes to. */
export const countRows = (client: pg.ClientBase): Promise<RowCounts> =>
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

export interface Verified {
  rows: RowCounts;
  /** Deductions per instrument kind (cash included) and owed lines: every path must have run. */
  paths: Record<string, number>;
}

/**
 * Checks a step's database against the rules and against what the spec computes; throws listing
 * every difference.
 */
export const verify = async (url: string, label: string, days: ExpectedDay[]): Promise<Verified> =>
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
