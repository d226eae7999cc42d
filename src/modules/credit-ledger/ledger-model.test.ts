import fc from 'fast-check';
import type { LightMyRequestResponse } from 'fastify';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toRfc3339 } from '../../core/clock.js';
import { maxMinorAmount } from '../../core/money.js';
import { expectError } from '../../testing/envelopes.js';
import { givenTenant } from '../../testing/fixtures.js';
import { createTestApp, type TestApp } from '../../testing/test-app.js';
import type { CreditTransactionView, RecordDetailView } from '../../testing/views.js';

/**
 * Model-based test of the credit ledger and of paying records from it: random sequences of
 * promo and top-up grants, manual adjustments, finalised records, payments from the balance (in
 * full or in part), refunds, mark-paid / mark-failed / retry, and Idempotency-Key replays (same
 * body: the first response byte for byte; other body or route: 422) run against the real app
 * over HTTP and against a small in-memory model. Every response is checked against the model;
 * the balance after every command; the books at the database (zero-sum transactions, unbroken
 * account chains, cached heads, no overdraft, records against their payments and refunds, one
 * stored response per key) and every page of the transaction list now and then and after each
 * run. A fresh tenant per run; CNY (2 decimals) and JPY (0 decimals).
 */

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t.close());

/** Every run starts here (a fresh tenant each time); each command moves the clock one second. */
const runStart = '2026-03-01T00:00:00Z';
const invoiceYear = 2026;
const rateScale = 1_000_000n;

interface TenantSpec {
  currency: 'CNY' | 'JPY';
  decimals: number;
  /** The tenant's tax rate as sent, and in millionths. */
  taxRate: number;
  taxRateMillionths: bigint;
}

const cny: TenantSpec = { currency: 'CNY', decimals: 2, taxRate: 0.06, taxRateMillionths: 60_000n };
const jpy: TenantSpec = { currency: 'JPY', decimals: 0, taxRate: 0.1, taxRateMillionths: 100_000n };

// ---------------------------------------------------------------------------------------------
// Exact money, independent of the service's own helpers

const pow10 = (exponent: number): bigint => 10n ** BigInt(exponent);

/** numerator / denominator rounded half-up, both >= 0. */
const roundHalfUp = (numerator: bigint, denominator: bigint): bigint =>
  (2n * numerator + denominator) / (2n * denominator);

/** 12345n with 2 decimals → "123.45". */
const decimalText = (units: bigint, decimals: number): string => {
  const digits = units.toString().padStart(decimals + 1, '0');
  return decimals === 0 ? digits : `${digits.slice(0, -decimals)}.${digits.slice(-decimals)}`;
};

const toMajor = (minor: bigint, spec: TenantSpec): number => Number(decimalText(minor, spec.decimals));

/** A JSON number back to exact minor units; null when it is not exactly a minor-unit amount. */
const toMinor = (major: number, spec: TenantSpec): bigint | null => {
  const match = /^(\d+)(?:\.(\d+))?$/.exec(String(major));
  if (match === null) return null;
  const fraction = match[2] ?? '';
  if (fraction.length > spec.decimals) return null;
  return BigInt(`${match[1]}${fraction.padEnd(spec.decimals, '0')}`);
};

// ---------------------------------------------------------------------------------------------
// The model

type TxType = 'credit' | 'debit';
type Payload = Record<string, unknown>;

interface ModelTransaction {
  /** From the response for promo, top-up and adjust; from the database for payments and refunds. */
  id: string | null;
  type: TxType;
  source: string;
  amount: bigint;
  balanceAfter: bigint;
  sourceId: string | null;
  remark: string;
  at: Instant;
}

/** When a command ran, as the API writes it (to the second). */
interface Instant {
  text: string;
}

interface ModelRecord {
  id: string;
  invoiceNumber: string;
  total: bigint;
  paid: bigint;
  status: 'pending' | 'failed' | 'paid' | 'refunded';
}

interface SentRequest {
  key: string;
  url: string;
  payload: Payload | undefined;
  status: number;
  body: string;
  /** Same route family, other bodies or routes: each must be refused with 422 under this key. */
  variants: { url: string; payload: Payload | undefined }[];
}

interface Model {
  spec: TenantSpec;
  balance: bigint;
  transactions: ModelTransaction[];
  records: ModelRecord[];
  requests: SentRequest[];
  invoiceSeq: number;
}

interface Real {
  t: TestApp;
  tenantId: string;
  admin: Record<string, string>;
  viewer: Record<string, string>;
}

let keySeq = 0;

const inject = (r: Real, url: string, payload: Payload | undefined, key: string): Promise<LightMyRequestResponse> =>
  r.t.app.inject({
    method: 'POST',
    url,
    headers: { ...r.admin, 'idempotency-key': key },
    ...(payload === undefined ? {} : { payload }),
  });

/** A first request under a fresh key; what it answered is kept for the replay commands. */
const sendNew = async ({
  m,
  r,
  url,
  payload,
  variants,
}: {
  m: Model;
  r: Real;
  url: string;
  payload?: Payload | undefined;
  variants: SentRequest['variants'];
}): Promise<LightMyRequestResponse> => {
  const key = `model-${++keySeq}`;
  const response = await inject(r, url, payload, key);
  expect(response.headers['idempotent-replayed'], response.body).toBe('false');
  m.requests.push({ key, url, payload, status: response.statusCode, body: response.body, variants });
  return response;
};

const expectTransactionView = (view: CreditTransactionView, tx: ModelTransaction, m: Model, r: Real): void => {
  expect(
    {
      amount: toMinor(view.amount, m.spec),
      balance: toMinor(view.balance, m.spec),
      type: view.type,
      source: view.source,
      source_id: view.source_id,
      remark: view.remark,
      tenant_id: view.tenant_id,
      created_at: view.created_at,
      id: view.id,
    },
    `transaction ${JSON.stringify(view)}`,
  ).toEqual({
    amount: tx.amount,
    balance: tx.balanceAfter,
    type: tx.type,
    source: tx.source,
    source_id: tx.sourceId,
    remark: tx.remark,
    tenant_id: r.tenantId,
    created_at: tx.at.text,
    id: tx.id,
  });
};

const expectRecordView = (view: RecordDetailView, record: ModelRecord, m: Model): void => {
  expect({
    record_id: view.record_id,
    status: view.status,
    invoice_number: view.invoice_number,
    total_amount: toMinor(view.total_amount, m.spec),
    amount_paid: toMinor(view.amount_paid, m.spec),
  }).toEqual({
    record_id: record.id,
    status: record.status,
    invoice_number: record.invoiceNumber,
    total_amount: record.total,
    amount_paid: record.paid,
  });
};

const post = (m: Model, tx: Omit<ModelTransaction, 'balanceAfter'>): ModelTransaction => {
  m.balance += tx.type === 'credit' ? tx.amount : -tx.amount;
  expect(m.balance >= 0n).toBe(true);
  const posted = { ...tx, balanceAfter: m.balance };
  m.transactions.push(posted);
  return posted;
};

/** A payment or refund answers with the record, not the transaction: find its id at the database. */
const learnTransactionId = async (m: Model, r: Real, tx: ModelTransaction): Promise<void> => {
  const { rows } = await sql<{ id: string }>`
    select id from ledger_transactions
     where tenant_id = ${r.tenantId} and source = ${tx.source} and source_id = ${tx.sourceId}`.execute(r.t.database.db);
  const known = new Set(m.transactions.map((known) => known.id));
  const fresh = rows.map((row) => row.id).filter((id) => !known.has(id));
  expect(fresh.length, `new ${tx.source} transactions of ${tx.sourceId}`).toBe(1);
  tx.id = fresh[0] ?? null;
};

/**
 * The balance leaves the API as a JSON number in major units, exact only up to the largest amount
 * the API takes (15 significant digits): a credit that would take it above is refused, and writes
 * nothing, like an overdraft.
 */
const overLimit = (m: Model, credit: bigint): boolean => m.balance + credit > maxMinorAmount;

const expectBalance = async (m: Model, r: Real): Promise<void> => {
  const response = await r.t.app.inject({ url: `/billing/credit-balance/${r.tenantId}`, headers: r.viewer });
  expect(response.statusCode, response.body).toBe(200);
  const data = response.json<{ data: { balance: number; currency: string; tenant_id: string } }>().data;
  expect({ balance: toMinor(data.balance, m.spec), currency: data.currency, tenant_id: data.tenant_id }).toEqual({
    balance: m.balance,
    currency: m.spec.currency,
    tenant_id: r.tenantId,
  });
};

/** Every page of the transaction list, newest first, against the model's history. */
const expectListing = async (m: Model, r: Real, pageSize: number, source?: string): Promise<void> => {
  // Newest first in the order they were posted (the model's), whatever their times: a running balance.
  const expected = m.transactions.filter((tx) => source === undefined || tx.source === source).reverse();
  const items: CreditTransactionView[] = [];
  const totalPages = Math.ceil(expected.length / pageSize);
  for (let page = 1; page <= Math.max(totalPages, 1); page++) {
    const query = `page=${page}&page_size=${pageSize}${source === undefined ? '' : `&source=${source}`}`;
    const response = await r.t.app.inject({
      url: `/billing/credit-transactions/${r.tenantId}?${query}`,
      headers: r.viewer,
    });
    expect(response.statusCode, response.body).toBe(200);
    const body = response.json<{
      items: CreditTransactionView[];
      total: number;
      pagination: Record<string, unknown>;
    }>();
    expect(body.total).toBe(expected.length);
    expect(body.pagination).toEqual({
      page,
      page_size: pageSize,
      total: expected.length,
      total_pages: totalPages,
      has_next: page < totalPages,
      has_prev: page > 1,
    });
    expect(body.items.length).toBe(Math.max(0, Math.min(pageSize, expected.length - (page - 1) * pageSize)));
    items.push(...body.items);
  }
  expect(new Set(items.map((item) => item.id)).size).toBe(items.length);
  expected.forEach((tx, index) => {
    const item = items[index];
    if (item === undefined) throw new Error(`listing lacks transaction ${index}`);
    expect(item.id).toMatch(/^ctr_[a-z0-9]{16}$/);
    expectTransactionView(item, tx, m, r);
  });
};

const toBigint = (value: bigint | string | number): bigint => BigInt(value);

/** The books at the database: zero-sum transactions, unbroken chains, cached heads, no overdraft. */
const expectBooks = async (m: Model, r: Real): Promise<void> => {
  const db = r.t.database.db;
  const tenantId = r.tenantId;
  const accounts = (
    await sql<{ id: string; balance: bigint; version: bigint; allow_overdraft: boolean; currency: string }>`
      select id, balance, version, allow_overdraft, currency from ledger_accounts where tenant_id = ${tenantId}`.execute(
      db,
    )
  ).rows;
  const entries = (
    await sql<{
      account_id: string;
      account_version: bigint;
      transaction_id: string;
      amount: bigint;
      balance_after: bigint;
    }>`
      select account_id, account_version, transaction_id, amount, balance_after from ledger_entries
       where tenant_id = ${tenantId} order by account_id, account_version`.execute(db)
  ).rows;
  const transactions = (
    await sql<{ id: string; type: string; amount: bigint; source: string; source_id: string | null }>`
      select id, type, amount, source, source_id from ledger_transactions where tenant_id = ${tenantId}`.execute(db)
  ).rows;

  // Every transaction: two entries, one on the tenant's cash account and one on its source's
  // counter-account, summing to zero.
  expect(transactions.length).toBe(m.transactions.length);
  for (const tx of transactions) {
    const own = entries.filter((entry) => entry.transaction_id === tx.id);
    const signed = tx.type === 'credit' ? toBigint(tx.amount) : -toBigint(tx.amount);
    expect(
      own.reduce((sum, entry) => sum + toBigint(entry.amount), 0n),
      `entries of ${tx.id}`,
    ).toBe(0n);
    expect(
      own
        .map((entry) => [entry.account_id, toBigint(entry.amount)])
        .sort(([a], [b]) => String(a).localeCompare(String(b))),
      `entries of ${tx.id}`,
    ).toEqual([
      ['cash', signed],
      [`source:${tx.source}`, -signed],
    ]);
  }

  // Every account: versions 1..n, each balance_after = previous + amount, the head cached on the account.
  for (const account of accounts) {
    const chain = entries.filter((entry) => entry.account_id === account.id);
    let balance = 0n;
    chain.forEach((entry, index) => {
      expect(toBigint(entry.account_version), `version ${index + 1} of ${account.id}`).toBe(BigInt(index + 1));
      balance += toBigint(entry.amount);
      expect(toBigint(entry.balance_after), `balance after version ${index + 1} of ${account.id}`).toBe(balance);
      if (account.id === 'cash') expect(balance >= 0n, `cash after version ${index + 1}`).toBe(true);
    });
    expect(toBigint(account.balance), `balance of ${account.id}`).toBe(balance);
    expect(toBigint(account.version), `version of ${account.id}`).toBe(BigInt(chain.length));
    expect(account.currency).toBe(m.spec.currency);
    expect(account.allow_overdraft, `overdraft of ${account.id}`).toBe(account.id !== 'cash');
  }
  expect(entries.every((entry) => accounts.some((account) => account.id === entry.account_id))).toBe(true);

  // The heads against the model: cash is the balance, each counter-account mirrors its source.
  const expectedHeads = new Map<string, bigint>();
  if (m.transactions.length > 0) expectedHeads.set('cash', m.balance);
  for (const tx of m.transactions) {
    const counter = `source:${tx.source}`;
    expectedHeads.set(counter, (expectedHeads.get(counter) ?? 0n) + (tx.type === 'credit' ? -tx.amount : tx.amount));
  }
  expect(new Map(accounts.map((account) => [account.id, toBigint(account.balance)]))).toEqual(expectedHeads);

  // Records: status and amount paid as the model has them, and what the ledger says about each.
  const records = (
    await sql<{ id: string; status: string; amount_paid: bigint; total_amount: bigint }>`
      select id, status, amount_paid, total_amount from billing_records where tenant_id = ${tenantId}`.execute(db)
  ).rows;
  expect(
    records
      .map((record) => ({
        id: record.id,
        status: record.status,
        paid: toBigint(record.amount_paid),
        total: toBigint(record.total_amount),
      }))
      .sort((a, b) => a.id.localeCompare(b.id)),
  ).toEqual(
    m.records
      .map((record) => ({ id: record.id, status: record.status, paid: record.paid, total: record.total }))
      .sort((a, b) => a.id.localeCompare(b.id)),
  );
  for (const record of m.records) {
    const movedBy = (source: string) =>
      transactions
        .filter((tx) => tx.source === source && tx.source_id === record.id)
        .reduce((sum, tx) => sum + toBigint(tx.amount), 0n);
    expect(movedBy('invoice_payment'), `payments of ${record.id}`).toBe(record.paid);
    expect(movedBy('refund'), `refunds of ${record.id}`).toBe(record.status === 'refunded' ? record.total : 0n);
  }

  // One stored response per key sent, replays and refused mismatches store nothing.
  const keys = await sql<{
    n: bigint;
  }>`select count(*) as n from idempotency_keys where tenant_id = ${tenantId}`.execute(db);
  expect(toBigint(keys.rows[0]?.n ?? 0n)).toBe(BigInt(m.requests.length));
};

const expectEverything = async (m: Model, r: Real, pageSize: number, source?: string): Promise<void> => {
  await expectBalance(m, r);
  await expectBooks(m, r);
  await expectListing(m, r, pageSize);
  if (source !== undefined) await expectListing(m, r, pageSize, source);
};

// ---------------------------------------------------------------------------------------------
// Commands

abstract class LedgerCommand implements fc.AsyncCommand<Model, Real> {
  abstract check(m: Readonly<Model>): boolean;
  protected abstract act(m: Model, r: Real, at: Instant): Promise<void>;
  protected abstract describe(): string;
  /** Whether the clock moves a second before this command; when not, ties in created_at happen. */
  tick = true;

  toString(): string {
    return `${this.tick ? '' : '(same instant) '}${this.describe()}`;
  }

  async run(m: Model, r: Real): Promise<void> {
    if (this.tick) r.t.clock.advance(1000);
    const now = r.t.clock.now();
    await this.act(m, r, { text: toRfc3339(now) });
    await expectBalance(m, r);
  }
}

const pick = <T>(items: readonly T[], index: number): T => {
  const item = items[index % items.length];
  if (item === undefined) throw new Error('pick from an empty list');
  return item;
};

class GrantCommand extends LedgerCommand {
  constructor(
    readonly path: 'promo' | 'top-up',
    readonly minor: bigint,
    readonly remark: string | undefined,
    readonly sourceId: string | undefined,
  ) {
    super();
  }
  check(): boolean {
    return true;
  }
  protected describe(): string {
    return `${this.path}(${this.minor}${this.remark === undefined ? '' : `, ${JSON.stringify(this.remark)}`})`;
  }

  protected async act(m: Model, r: Real, at: Instant) {
    const url = `/admin/credits/${r.tenantId}/${this.path}`;
    const payload: Payload = {
      amount: toMajor(this.minor, m.spec),
      ...(this.remark === undefined ? {} : { remark: this.remark }),
      ...(this.sourceId === undefined ? {} : { source_id: this.sourceId }),
    };
    const response = await sendNew({
      m,
      r,
      url,
      payload,
      variants: [
        { url: `/admin/credits/${r.tenantId}/${this.path === 'promo' ? 'top-up' : 'promo'}`, payload },
        { url, payload: { ...payload, amount: toMajor(this.minor + 1n, m.spec) } },
        { url, payload: { ...payload, remark: `${this.remark ?? ''} (edited)` } },
      ],
    });
    if (overLimit(m, this.minor)) return void expectError(response, 422, 'unprocessable');
    expect(response.statusCode, response.body).toBe(201);
    const view = response.json<{ data: CreditTransactionView }>().data;
    const tx = post(m, {
      id: view.id,
      type: 'credit',
      source: this.path === 'promo' ? 'promo' : 'top_up',
      amount: this.minor,
      sourceId: this.sourceId ?? null,
      remark: this.remark ?? '',
      at,
    });
    expectTransactionView(view, tx, m, r);
  }
}

class AdjustCommand extends LedgerCommand {
  constructor(
    readonly type: TxType,
    readonly minor: bigint,
    readonly remark: string,
  ) {
    super();
  }
  check(): boolean {
    return true;
  }
  protected describe(): string {
    return `adjust(${this.type}, ${this.minor}, ${JSON.stringify(this.remark)})`;
  }

  protected async act(m: Model, r: Real, at: Instant) {
    const url = `/admin/credits/${r.tenantId}/adjust`;
    const payload: Payload = { type: this.type, amount: toMajor(this.minor, m.spec), remark: this.remark };
    const response = await sendNew({
      m,
      r,
      url,
      payload,
      variants: [
        { url, payload: { ...payload, type: this.type === 'credit' ? 'debit' : 'credit' } },
        { url, payload: { ...payload, remark: `${this.remark} (edited)` } },
        { url, payload: { ...payload, amount: toMajor(this.minor + 1n, m.spec) } },
      ],
    });
    if (this.type === 'debit' && this.minor > m.balance) return void expectError(response, 422, 'insufficient_balance');
    if (this.type === 'credit' && overLimit(m, this.minor)) return void expectError(response, 422, 'unprocessable');
    expect(response.statusCode, response.body).toBe(201);
    const view = response.json<{ data: CreditTransactionView }>().data;
    const tx = post(m, {
      id: view.id,
      type: this.type,
      source: 'manual_adjust',
      amount: this.minor,
      sourceId: null,
      remark: this.remark,
      at,
    });
    expectTransactionView(view, tx, m, r);
  }
}

interface LineSpec {
  quantity: number;
  /** unit_price = units / 10^decimals, in major units. */
  priceUnits: bigint;
  priceDecimals: number;
  /** A rate of its own, in millionths; else the tenant's. */
  taxRateMillionths: bigint | undefined;
}

class CreateRecordCommand extends LedgerCommand {
  constructor(
    readonly lines: LineSpec[],
    readonly description: string,
  ) {
    super();
  }
  check(): boolean {
    return true;
  }
  protected describe(): string {
    return `createRecord(${this.lines
      .map(
        (line) =>
          `${line.quantity}×${decimalText(line.priceUnits, line.priceDecimals)}${
            line.taxRateMillionths === undefined ? '' : `@${decimalText(line.taxRateMillionths, 6)}`
          }`,
      )
      .join(', ')})`;
  }

  protected async act(m: Model, r: Real) {
    const url = `/admin/records/${r.tenantId}`;
    const payload: Payload = {
      type: 'one_time',
      description: this.description,
      lines: this.lines.map((line, index) => ({
        description: `Line ${index + 1}`,
        resource_type: 'one_time',
        quantity: line.quantity,
        unit_price: Number(decimalText(line.priceUnits, line.priceDecimals)),
        ...(line.taxRateMillionths === undefined ? {} : { tax_rate: Number(decimalText(line.taxRateMillionths, 6)) }),
      })),
      finalize: true,
    };
    const response = await sendNew({
      m,
      r,
      url,
      payload,
      variants: [
        { url, payload: { ...payload, description: `${this.description} (edited)` } },
        { url, payload: { ...payload, finalize: false } },
      ],
    });
    expect(response.statusCode, response.body).toBe(201);

    // The model's pricing: per line, amount = half-up(quantity × unit price) to the minor unit,
    // tax = half-up(amount × rate); the record sums them.
    const priced = this.lines.map((line) => {
      const amount = roundHalfUp(
        BigInt(line.quantity) * line.priceUnits * pow10(m.spec.decimals),
        pow10(line.priceDecimals),
      );
      const tax = roundHalfUp(amount * (line.taxRateMillionths ?? m.spec.taxRateMillionths), rateScale);
      return { amount, tax };
    });
    const amount = priced.reduce((sum, line) => sum + line.amount, 0n);
    const tax = priced.reduce((sum, line) => sum + line.tax, 0n);
    m.invoiceSeq += 1;
    const view = response.json<{ data: RecordDetailView }>().data;
    const record: ModelRecord = {
      id: view.record_id,
      invoiceNumber: `INV-${invoiceYear}-${String(m.invoiceSeq).padStart(3, '0')}`,
      total: amount + tax,
      paid: 0n,
      status: 'pending',
    };
    m.records.push(record);
    expectRecordView(view, record, m);
    expect({
      currency: view.currency,
      amount: toMinor(view.amount, m.spec),
      tax_amount: toMinor(view.tax_amount, m.spec),
      lines: view.line_items.map((line) => ({
        amount: toMinor(line.amount, m.spec),
        tax: toMinor(line.tax_amount, m.spec),
      })),
    }).toEqual({ currency: m.spec.currency, amount, tax_amount: tax, lines: priced });
  }
}

type PayMode =
  | { kind: 'full'; withEmptyBody: boolean }
  | { kind: 'part'; seed: number }
  | { kind: 'affordable'; seed: number }
  | { kind: 'exact' }
  | { kind: 'over'; extra: number }
  | { kind: 'too_precise' };

class PayCommand extends LedgerCommand {
  constructor(
    readonly recordPick: number,
    readonly mode: PayMode,
  ) {
    super();
  }
  check(m: Readonly<Model>): boolean {
    return m.records.length > 0;
  }
  protected describe(): string {
    return `pay(#${this.recordPick}, ${JSON.stringify(this.mode)})`;
  }

  protected async act(m: Model, r: Real, at: Instant) {
    const record = pick(m.records, this.recordPick);
    const url = `/admin/records/${r.tenantId}/${record.id}/pay-from-balance`;
    const outstanding = record.total - record.paid;
    const payable = record.status === 'pending' || record.status === 'failed';
    // What is asked for, in minor units (undefined: everything still owed), or a number that
    // cannot be a minor-unit amount.
    let requested: bigint | undefined;
    let payload: Payload | undefined;
    switch (this.mode.kind) {
      case 'full':
        payload = this.mode.withEmptyBody ? {} : undefined;
        break;
      case 'part':
        requested = outstanding > 0n ? 1n + (BigInt(this.mode.seed) % outstanding) : 1n;
        break;
      case 'affordable': {
        // Part of what is owed, within the balance when the balance covers anything.
        const cap = m.balance > 0n && m.balance < outstanding ? m.balance : outstanding;
        requested = cap > 0n ? 1n + (BigInt(this.mode.seed) % cap) : 1n;
        break;
      }
      case 'exact':
        requested = outstanding > 0n ? outstanding : 1n;
        break;
      case 'over':
        requested = outstanding + 1n + BigInt(this.mode.extra);
        break;
      case 'too_precise':
        payload = { amount: m.spec.decimals === 0 ? 0.5 : 0.005 };
        break;
    }
    if (requested !== undefined) payload = { amount: toMajor(requested, m.spec) };
    const response = await sendNew({
      m,
      r,
      url,
      payload,
      variants: [
        payload?.amount === undefined
          ? { url, payload: { amount: toMajor(1n, m.spec) } }
          : { url, payload: { amount: toMajor((requested ?? 0n) + 1n, m.spec) } },
        { url: `/admin/records/${r.tenantId}/${record.id}/mark-paid`, payload: undefined },
      ],
    });
    if (!payable) return void expectError(response, 409, 'conflict');
    if (this.mode.kind === 'too_precise') return void expectError(response, 400, 'validation_error');
    const amount = requested ?? outstanding;
    if (requested !== undefined && requested > outstanding) return void expectError(response, 400, 'validation_error');
    if (amount > m.balance) return void expectError(response, 422, 'insufficient_balance');
    expect(response.statusCode, response.body).toBe(200);
    if (amount > 0n) {
      const tx = post(m, {
        id: null,
        type: 'debit',
        source: 'invoice_payment',
        amount,
        sourceId: record.id,
        remark: `Payment of ${record.invoiceNumber}`,
        at,
      });
      await learnTransactionId(m, r, tx);
    }
    record.paid += amount;
    if (record.paid === record.total) record.status = 'paid';
    expectRecordView(response.json<{ data: RecordDetailView }>().data, record, m);
  }
}

class RefundCommand extends LedgerCommand {
  constructor(
    readonly recordPick: number,
    readonly reason: string | undefined,
  ) {
    super();
  }
  check(m: Readonly<Model>): boolean {
    return m.records.length > 0;
  }
  protected describe(): string {
    return `refund(#${this.recordPick}${this.reason === undefined ? '' : `, ${JSON.stringify(this.reason)}`})`;
  }

  protected async act(m: Model, r: Real, at: Instant) {
    const record = pick(m.records, this.recordPick);
    const url = `/admin/records/${r.tenantId}/${record.id}/refund`;
    const payload = this.reason === undefined ? undefined : { reason: this.reason };
    const response = await sendNew({
      m,
      r,
      url,
      payload,
      variants: [
        { url, payload: { reason: `${this.reason ?? ''} (edited)` } },
        { url: `/admin/records/${r.tenantId}/${record.id}/mark-paid`, payload },
      ],
    });
    if (record.status !== 'paid') return void expectError(response, 409, 'conflict');
    if (overLimit(m, record.total)) return void expectError(response, 422, 'unprocessable');
    expect(response.statusCode, response.body).toBe(200);
    record.status = 'refunded';
    if (record.total > 0n) {
      const tx = post(m, {
        id: null,
        type: 'credit',
        source: 'refund',
        amount: record.total,
        sourceId: record.id,
        remark: this.reason ?? `Refund of ${record.invoiceNumber}`,
        at,
      });
      await learnTransactionId(m, r, tx);
    }
    expectRecordView(response.json<{ data: RecordDetailView }>().data, record, m);
  }
}

/** Paid outside the service: the status moves, the ledger does not. */
class MarkPaidCommand extends LedgerCommand {
  constructor(readonly recordPick: number) {
    super();
  }
  check(m: Readonly<Model>): boolean {
    return m.records.length > 0;
  }
  protected describe(): string {
    return `markPaid(#${this.recordPick})`;
  }

  protected async act(m: Model, r: Real) {
    const record = pick(m.records, this.recordPick);
    const url = `/admin/records/${r.tenantId}/${record.id}/mark-paid`;
    const response = await sendNew({
      m,
      r,
      url,
      variants: [
        { url, payload: { reason: 'wire transfer' } },
        { url: `/admin/records/${r.tenantId}/${record.id}/refund`, payload: undefined },
      ],
    });
    if (record.status !== 'pending' && record.status !== 'failed') return void expectError(response, 409, 'conflict');
    expect(response.statusCode, response.body).toBe(200);
    record.status = 'paid';
    expectRecordView(response.json<{ data: RecordDetailView }>().data, record, m);
  }
}

/** A payment attempt failed (pending → failed), or is tried again (failed → pending); no money moves. */
class FailOrRetryCommand extends LedgerCommand {
  constructor(
    readonly action: 'mark-failed' | 'retry',
    readonly recordPick: number,
  ) {
    super();
  }
  check(m: Readonly<Model>): boolean {
    return m.records.length > 0;
  }
  protected describe(): string {
    return `${this.action}(#${this.recordPick})`;
  }

  protected async act(m: Model, r: Real) {
    const record = pick(m.records, this.recordPick);
    const url = `/admin/records/${r.tenantId}/${record.id}/${this.action}`;
    const response = await sendNew({
      m,
      r,
      url,
      payload: { reason: 'card declined' },
      variants: [
        { url, payload: undefined },
        {
          url: `/admin/records/${r.tenantId}/${record.id}/${this.action === 'retry' ? 'mark-failed' : 'retry'}`,
          payload: { reason: 'card declined' },
        },
      ],
    });
    const from = this.action === 'retry' ? 'failed' : 'pending';
    if (record.status !== from) return void expectError(response, 409, 'conflict');
    expect(response.statusCode, response.body).toBe(200);
    record.status = this.action === 'retry' ? 'pending' : 'failed';
    expectRecordView(response.json<{ data: RecordDetailView }>().data, record, m);
  }
}

/** The same key and the same request: the first response, byte for byte, and nothing moves. */
class ReplayCommand extends LedgerCommand {
  constructor(readonly requestPick: number) {
    super();
  }
  check(m: Readonly<Model>): boolean {
    return m.requests.length > 0;
  }
  protected describe(): string {
    return `replay(#${this.requestPick})`;
  }

  protected async act(m: Model, r: Real) {
    const sent = pick(m.requests, this.requestPick);
    const response = await inject(r, sent.url, sent.payload, sent.key);
    expect(response.statusCode, response.body).toBe(sent.status);
    expect(response.body).toBe(sent.body);
    expect(response.headers['idempotent-replayed']).toBe('true');
  }
}

/** The same key with another body or route: 422, and nothing moves. */
class MismatchCommand extends LedgerCommand {
  constructor(
    readonly requestPick: number,
    readonly variantPick: number,
  ) {
    super();
  }
  check(m: Readonly<Model>): boolean {
    return m.requests.length > 0;
  }
  protected describe(): string {
    return `mismatch(#${this.requestPick}, variant ${this.variantPick})`;
  }

  protected async act(m: Model, r: Real) {
    const sent = pick(m.requests, this.requestPick);
    const variant = pick(sent.variants, this.variantPick);
    const response = await inject(r, variant.url, variant.payload, sent.key);
    expectError(response, 422, 'unprocessable');
  }
}

class CheckBooksCommand extends LedgerCommand {
  constructor(
    readonly pageSize: number,
    readonly source: string | undefined,
  ) {
    super();
  }
  check(): boolean {
    return true;
  }
  protected describe(): string {
    return `checkBooks(page_size ${this.pageSize}${this.source === undefined ? '' : `, ${this.source}`})`;
  }

  protected async act(m: Model, r: Real) {
    await expectEverything(m, r, this.pageSize, this.source);
  }
}

// ---------------------------------------------------------------------------------------------
// Arbitraries

const remarkArb = fc.oneof(
  fc.constantFrom('Welcome credit', 'Correction', '退款 — 春季促销', 'Ünïcödé ✓', ' padded '),
  fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 40 }),
);

/**
 * Amounts in minor units: mostly the size of a record (so payments and overdrafts both happen),
 * sometimes large, now and then the largest amount the API takes.
 */
const minorArb = fc.oneof(
  { weight: 6, arbitrary: fc.bigInt({ min: 1n, max: 200_000n }) },
  { weight: 3, arbitrary: fc.bigInt({ min: 1n, max: 10_000_000_000n }) },
  { weight: 1, arbitrary: fc.constantFrom(1n, maxMinorAmount - 1n, maxMinorAmount) },
);

/**
 * Unit prices of up to 100 000 minor units with 0 to 3 digits beyond the minor unit, and the
 * usual half-up traps (1.005, 2.675, 0.125, …) as they are written.
 */
const priceArb = (spec: TenantSpec): fc.Arbitrary<Pick<LineSpec, 'priceUnits' | 'priceDecimals'>> =>
  fc.oneof(
    {
      weight: 4,
      arbitrary: fc
        .tuple(fc.bigInt({ min: 0n, max: 100_000n }), fc.integer({ min: 0, max: 3 }))
        .map(([units, extra]) => ({
          priceUnits: units * pow10(extra) + (units % 7n),
          priceDecimals: spec.decimals + extra,
        })),
    },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        { priceUnits: 5n, priceDecimals: 3 },
        { priceUnits: 15n, priceDecimals: 3 },
        { priceUnits: 1005n, priceDecimals: 3 },
        { priceUnits: 2675n, priceDecimals: 3 },
        { priceUnits: 125n, priceDecimals: 3 },
        { priceUnits: 49_999n, priceDecimals: 7 },
        { priceUnits: 5n, priceDecimals: 1 },
        { priceUnits: 0n, priceDecimals: 0 },
        { priceUnits: 99n, priceDecimals: 0 },
      ),
    },
  );

const lineArb = (spec: TenantSpec): fc.Arbitrary<LineSpec> =>
  fc
    .record({
      quantity: fc.oneof(
        { weight: 4, arbitrary: fc.integer({ min: 0, max: 5 }) },
        { weight: 1, arbitrary: fc.integer({ min: 0, max: 10_000 }) },
      ),
      price: priceArb(spec),
      taxRateMillionths: fc.option(fc.constantFrom(0n, 5_000n, 90_000n, 130_000n), { nil: undefined, freq: 4 }),
    })
    .map(({ quantity, price, taxRateMillionths }) => ({ quantity, ...price, taxRateMillionths }));

const sourceArb = fc.option(fc.constantFrom('promo', 'top_up', 'manual_adjust', 'invoice_payment', 'refund'), {
  nil: undefined,
});

const payModeArb: fc.Arbitrary<PayMode> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('full' as const), withEmptyBody: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('part' as const), seed: fc.nat() }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('affordable' as const), seed: fc.nat() }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'exact' as const }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('over' as const), extra: fc.nat(100) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'too_precise' as const }) },
);

/** One command in four runs at the same instant as the one before it (a copy: generated values are shared). */
const ticking = (command: fc.Arbitrary<LedgerCommand>): fc.Arbitrary<LedgerCommand> =>
  fc
    .tuple(command, fc.integer({ min: 0, max: 3 }))
    .map(([made, dice]) =>
      Object.assign(Object.create(Object.getPrototypeOf(made) as object) as LedgerCommand, made, { tick: dice > 0 }),
    );

const commandArbs = (spec: TenantSpec): fc.Arbitrary<LedgerCommand>[] => [
  fc
    .tuple(fc.constantFrom('promo' as const, 'top-up' as const), minorArb, fc.option(remarkArb, { nil: undefined }))
    .chain(([path, minor, remark]) =>
      fc
        .option(fc.stringMatching(/^pay_[a-z0-9]{1,12}$/), { nil: undefined })
        .map((sourceId) => new GrantCommand(path, minor, remark, sourceId)),
    ),
  fc
    .tuple(fc.constantFrom('credit' as const, 'debit' as const, 'debit' as const), minorArb, remarkArb)
    .map(([type, minor, remark]) => new AdjustCommand(type, minor, remark)),
  fc
    .tuple(
      fc.array(lineArb(spec), { minLength: 1, maxLength: 4 }),
      fc.constantFrom('Setup fee', 'Consulting', '专业服务'),
    )
    .map(([lines, description]) => new CreateRecordCommand(lines, description)),
  fc.tuple(fc.nat(), payModeArb).map(([recordPick, mode]) => new PayCommand(recordPick, mode)),
  fc.tuple(fc.nat(), payModeArb).map(([recordPick, mode]) => new PayCommand(recordPick, mode)),
  fc
    .tuple(fc.nat(), fc.option(remarkArb, { nil: undefined }))
    .map(([recordPick, reason]) => new RefundCommand(recordPick, reason)),
  fc
    .tuple(fc.nat(), fc.option(remarkArb, { nil: undefined }))
    .map(([recordPick, reason]) => new RefundCommand(recordPick, reason)),
  fc.nat().map((recordPick) => new MarkPaidCommand(recordPick)),
  fc
    .tuple(fc.constantFrom('mark-failed' as const, 'retry' as const), fc.nat())
    .map(([action, recordPick]) => new FailOrRetryCommand(action, recordPick)),
  fc.nat().map((requestPick) => new ReplayCommand(requestPick)),
  fc.tuple(fc.nat(), fc.nat()).map(([requestPick, variantPick]) => new MismatchCommand(requestPick, variantPick)),
  fc
    .tuple(fc.integer({ min: 1, max: 12 }), sourceArb)
    .map(([pageSize, source]) => new CheckBooksCommand(pageSize, source)),
];

// ---------------------------------------------------------------------------------------------

let tenantSeq = 0;

const modelRun = (spec: TenantSpec, seed: number) =>
  fc.assert(
    fc.asyncProperty(
      fc.commands(commandArbs(spec).map(ticking), { maxCommands: 30, size: 'max' }),
      async (commands) => {
        t.clock.set(runStart);
        const tenantId = `tnt_model_${++tenantSeq}`;
        await givenTenant(t, tenantId, { currency: spec.currency, tax_rate: spec.taxRate });
        const real: Real = {
          t,
          tenantId,
          admin: await t.as.platformAdmin(),
          viewer: await t.as.tenant(tenantId, 'tenant_viewer'),
        };
        const model: Model = { spec, balance: 0n, transactions: [], records: [], requests: [], invoiceSeq: 0 };
        await fc.asyncModelRun(() => ({ model, real }), commands);
        await expectEverything(model, real, 7);
      },
    ),
    { numRuns: 25, seed },
  );

describe('credit ledger against a model', () => {
  it('keeps a CNY tenant (2 decimals, tax 0.06) in step with the model', () => modelRun(cny, 20260301), 120_000);
  it('keeps a JPY tenant (0 decimals, tax 0.1) in step with the model', () => modelRun(jpy, 20260302), 120_000);
});
