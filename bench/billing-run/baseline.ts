import type pg from 'pg';
import { performance } from 'node:perf_hooks';
import { formatInvoiceNumber } from '../../src/core/invoice-math.js';
import { buildSearchText } from '../../src/modules/billing-records/search-text.js';
import { withClient } from '../lib/server.js';
import { valuesList } from '../lib/sql.js';
import { baselineChunk } from './config.js';
import {
  base36,
  currency,
  expectedOverage,
  invoiceOf,
  invoiceYear,
  iso,
  priceOf,
  type BenchTenant,
} from './workload.js';

/**
 * What the run must write at least, inserted directly: multi-row INSERTs, one transaction per 1,000
 * subscriptions, statements built beforehand (untimed).
 */

export interface BaselineResult {
  rows: number;
  seconds: number;
  rowsPerSecond: number;
  subscriptionsPerSecond: number;
  transactions: number;
  /** Latency of one autocommit INSERT (a WAL flush each), and of `select 1`, on the same server. */
  commitMs: number;
  roundTripMs: number;
}

type Statement = { text: string; values: unknown[] };

/** Runs the prepared transactions one after another; milliseconds taken. */
const timeTransactions = async (client: pg.Client, transactions: Statement[][]): Promise<number> => {
  const t0 = performance.now();
  for (const transaction of transactions) {
    await client.query('begin');
    for (const statement of transaction) await client.query(statement.text, statement.values);
    await client.query('commit');
  }
  return performance.now() - t0;
};

/**
 * What the usage close must write at least: each owed overage invoice (INV-…-003, as the run
 * numbers it) with its lines, bulk-inserted per 1,000 subscriptions, built beforehand (untimed).
 */
export const runCloseBaseline = async (
  url: string,
  tenants: BenchTenant[],
  at: Date,
): Promise<{ seconds: number; rows: number }> => {
  const number = formatInvoiceNumber(invoiceYear, 3);
  const transactions: Statement[][] = [];
  let rows = 0;
  for (let from = 0; from < tenants.length; from += baselineChunk) {
    const records: unknown[] = [];
    const lines: unknown[] = [];
    let recordCount = 0;
    let lineCount = 0;
    for (const t of tenants.slice(from, from + baselineChunk)) {
      const { priced } = expectedOverage(t);
      if (priced.length === 0) continue;
      const id = `rec_u${base36(t.index, 15)}`;
      const amount = priced.reduce((sum, line) => sum + line.amount, 0n);
      const tax = priced.reduce((sum, line) => sum + line.taxAmount, 0n);
      const description = 'Metered usage overage';
      records.push(
        t.id,
        t.appId,
        id,
        'usage',
        'pending',
        currency,
        description,
        String(amount),
        String(tax),
        String(amount + tax),
        number,
        buildSearchText([number, id, description]),
        iso(at),
        iso(at),
        // Due on receipt (the default payment terms).
        iso(at),
        iso(at),
      );
      priced.forEach((line, i) => {
        lines.push(
          t.id,
          id,
          i + 1,
          `${line.resourceType} overage`,
          line.resourceType,
          String(line.quantity),
          line.unitPrice,
          String(line.amount),
          t.taxRate,
          String(line.taxAmount),
        );
      });
      recordCount += 1;
      lineCount += priced.length;
    }
    if (recordCount === 0) continue;
    rows += recordCount + lineCount;
    transactions.push([
      {
        text: `insert into billing_records (tenant_id, app_id, id, type, status, currency, description, amount, tax_amount,
                 total_amount, invoice_number, search_text, created_at, finalized_at, due_at, updated_at)
               values ${valuesList(16, recordCount)}`,
        values: records,
      },
      {
        text: `insert into billing_record_lines (tenant_id, record_id, line_no, description, resource_type, quantity,
                 unit_price, amount, tax_rate, tax_amount) values ${valuesList(10, lineCount)}`,
        values: lines,
      },
    ]);
  }
  const ms = await withClient(url, (client) => timeTransactions(client, transactions));
  return { seconds: Number((ms / 1000).toFixed(2)), rows };
};

/** What a renewal must write at least: its record, line and period row, bulk-inserted per 1,000. */
export const runBaseline = async (url: string, tenants: BenchTenant[]): Promise<BaselineResult> => {
  const renewalAt = (t: BenchTenant) => iso(t.calendar.end);
  const secondNumber = formatInvoiceNumber(invoiceYear, 2);
  const statements: Statement[][] = [];
  for (let from = 0; from < tenants.length; from += baselineChunk) {
    const chunk = tenants.slice(from, from + baselineChunk);
    const records: unknown[] = [];
    const lines: unknown[] = [];
    const periods: unknown[] = [];
    for (const t of chunk) {
      const id = `rec_n${base36(t.index, 15)}`;
      const { description, lineDescription, ...line } = invoiceOf(t, t.calendar.end, t.calendar.nextEnd);
      const at = renewalAt(t);
      records.push(
        t.id,
        id,
        'subscription',
        'paid',
        currency,
        description,
        String(line.amount),
        String(line.taxAmount),
        String(line.amount + line.taxAmount),
        secondNumber,
        buildSearchText([secondNumber, buildSearchText([id, description, lineDescription])]),
        at,
        at,
        // Due on receipt (the default payment terms).
        at,
        at,
      );
      lines.push(
        t.id,
        id,
        1,
        lineDescription,
        'subscription',
        '1',
        String(t.plan.monthly),
        String(line.amount),
        t.taxRate,
        String(line.taxAmount),
      );
      periods.push(
        t.id,
        t.subscriptionId,
        at,
        iso(t.calendar.nextEnd),
        t.plan.id,
        1,
        'monthly',
        String(priceOf(t.plan)),
        id,
        at,
      );
    }
    statements.push([
      {
        text: `insert into billing_records (tenant_id, id, type, status, currency, description, amount, tax_amount,
                 total_amount, invoice_number, search_text, created_at, finalized_at, due_at, updated_at)
               values ${valuesList(15, chunk.length)}`,
        values: records,
      },
      {
        text: `insert into billing_record_lines (tenant_id, record_id, line_no, description, resource_type, quantity,
                 unit_price, amount, tax_rate, tax_amount) values ${valuesList(10, chunk.length)}`,
        values: lines,
      },
      {
        text: `insert into subscription_periods (tenant_id, subscription_id, period_start, period_end, plan_id,
                 plan_version, billing_cycle, amount, record_id, created_at) values ${valuesList(10, chunk.length)}`,
        values: periods,
      },
    ]);
  }
  return withClient(url, async (client) => {
    const elapsedMs = await timeTransactions(client, statements);
    const rows = tenants.length * 3;

    // Reference latencies: a bare round trip, and a commit that flushes WAL.
    const reps = 500;
    let t1 = performance.now();
    for (let i = 0; i < reps; i += 1) await client.query('select 1');
    const roundTripMs = (performance.now() - t1) / reps;
    await client.query('create table bench_commit (n int)');
    t1 = performance.now();
    for (let i = 0; i < reps; i += 1) await client.query('insert into bench_commit values ($1)', [i]);
    const commitMs = (performance.now() - t1) / reps;
    return {
      rows,
      seconds: Number((elapsedMs / 1000).toFixed(2)),
      rowsPerSecond: Math.round((rows * 1000) / elapsedMs),
      subscriptionsPerSecond: Math.round((tenants.length * 1000) / elapsedMs),
      transactions: statements.length,
      commitMs: Number(commitMs.toFixed(3)),
      roundTripMs: Number(roundTripMs.toFixed(3)),
    };
  });
};
