import { performance } from 'node:perf_hooks';
import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { noRateLimits } from '../../config.js';
import { ManualClock } from '../../core/clock.js';
import { AppError } from '../../core/errors.js';
import { defaultPoolConfig, openDatabase, type DatabaseHandle, type Db } from '../../db/database.js';
import type { Api } from '../../http/api.js';
import { mintToken } from '../auth/tokens.js';
import { bearer, buildTestApi, platformAdminClaims, testSecret, testStart } from '../../testing/test-app.js';
import { createTestDatabase, type TestDatabase } from '../../testing/test-database.js';
import { postCreditTransaction, type CreditMovement } from './post-credit-transaction.js';

/*
 * Many writers on one ledger at once: through the HTTP app (idempotent writes, the app's pool) and
 * straight through postCreditTransaction on handles of their own. Every movement that succeeded is
 * counted here, on the client side, and the books must agree with it to the cent; the chains, the
 * zero sums and the cached heads are then checked in SQL over the whole database.
 */

type Kind = 'promo' | 'top_up' | 'adjust_credit' | 'adjust_debit' | 'direct_credit' | 'direct_debit' | 'pay' | 'refund';

/** How an HTTP operation is repeated with its own Idempotency-Key. */
type Replay = 'none' | 'concurrent' | 'after';

interface Op {
  n: number;
  kind: Kind;
  tenantId: string;
  /** Minor units (CNY cents); unused by pay and refund. */
  amount: bigint;
  recordId: string | undefined;
  replay: Replay;
}

interface HttpRequest {
  url: string;
  key: string;
  payload: Record<string, unknown>;
}

interface Sent {
  status: number;
  body: string;
  replayed: boolean;
}

interface Posting {
  tenantId: string;
  transactionId: string;
  balanceAfter: bigint;
}

interface Tally {
  /** Expected cash balance per tenant: the sum of the movements that succeeded. */
  expected: Map<string, bigint>;
  /** Ledger transactions that must exist per tenant (successful postings, pays and refunds). */
  postings: Map<string, number>;
  /** Postings whose transaction id and balance the caller was told. */
  told: Posting[];
  counts: Record<string, number>;
  /** Every first response, by Idempotency-Key, for the replays at the end. */
  originals: Map<string, { request: HttpRequest; sent: Sent }>;
  /** Anything a client should never see: 5xx, unexpected statuses, replays that differ, raw errors. */
  problems: string[];
}

const newTally = (): Tally => ({
  expected: new Map(),
  postings: new Map(),
  told: [],
  counts: {},
  originals: new Map(),
  problems: [],
});

const bump = (tally: Tally, what: string, by = 1) => {
  tally.counts[what] = (tally.counts[what] ?? 0) + by;
};

const move = (tally: Tally, tenantId: string, delta: bigint) => {
  tally.expected.set(tenantId, (tally.expected.get(tenantId) ?? 0n) + delta);
  tally.postings.set(tenantId, (tally.postings.get(tenantId) ?? 0) + 1);
};

/** Small seeded PRNG (mulberry32), so a failing run can be repeated exactly. */
const prng = (seed: number) => {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (min: number, max: number) => min + Math.floor(next() * (max - min + 1));
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!;
  return { next, int, pick };
};

const major = (minor: bigint): number => Number(minor) / 100;
const minor = (majorAmount: number): bigint => BigInt(Math.round(majorAmount * 100));

const weights: [Kind, number][] = [
  ['promo', 12],
  ['top_up', 12],
  ['adjust_credit', 6],
  ['adjust_debit', 20],
  ['direct_credit', 10],
  ['direct_debit', 12],
  ['pay', 16],
  ['refund', 12],
];
const totalWeight = weights.reduce((sum, [, w]) => sum + w, 0);

const planOps = (
  seed: number,
  count: number,
  tenants: readonly string[],
  recordsOf: (tenantId: string) => readonly string[],
): Op[] => {
  const random = prng(seed);
  return Array.from({ length: count }, (_, n) => {
    let roll = random.next() * totalWeight;
    let kind: Kind = 'promo';
    for (const [candidate, weight] of weights) {
      roll -= weight;
      if (roll < 0) {
        kind = candidate;
        break;
      }
    }
    const tenantId = random.pick(tenants);
    const records = recordsOf(tenantId);
    if ((kind === 'pay' || kind === 'refund') && records.length === 0) kind = 'promo';
    const debit = kind === 'adjust_debit' || kind === 'direct_debit';
    // One debit in twelve asks far more than any balance holds: a refusal every run.
    const amount =
      debit && random.next() < 1 / 12 ? 10_000_000n : BigInt(debit ? random.int(100, 8_000) : random.int(100, 5_000));
    const replayRoll = random.next();
    const replay: Replay = kind.startsWith('direct')
      ? 'none'
      : replayRoll < 0.12
        ? 'concurrent'
        : replayRoll < 0.24
          ? 'after'
          : 'none';
    return {
      n,
      kind,
      tenantId,
      amount,
      recordId: kind === 'pay' || kind === 'refund' ? random.pick(records) : undefined,
      replay,
    };
  });
};

const errorOf = (body: string): { type: string | undefined; message: string | undefined } => {
  try {
    const parsed = JSON.parse(body) as { error?: { type?: string }; message?: string };
    return { type: parsed.error?.type, message: parsed.message };
  } catch {
    return { type: undefined, message: undefined };
  }
};

const isInFlight = (sent: Sent): boolean =>
  sent.status === 409 && !sent.replayed && /still in progress/.test(errorOf(sent.body).message ?? '');

const describeError = (error: unknown): string =>
  error instanceof Error
    ? `${error.name}: ${error.message} (code ${String((error as { code?: unknown }).code)})`
    : String(error);

interface Harness {
  database: TestDatabase;
  app: Api;
  clock: ManualClock;
  admin: Record<string, string>;
  /** Handles for direct postings: their own pools on the server; the app's database on PGlite. */
  direct: Db[];
  extraHandles: DatabaseHandle[];
  /** Errors the app's error handler saw that were not AppErrors (they become 500 or 503). */
  thrown: string[];
  /** Totals of the billing records, by record id. */
  recordTotals: Map<string, bigint>;
  recordsByTenant: Map<string, string[]>;
  closed: boolean;
}

const openHarness = async (directHandles: number, directPoolMax: number): Promise<Harness> => {
  const database = await createTestDatabase();
  const clock = new ManualClock(testStart);
  const thrown: string[] = [];
  // Sixteen workers as one platform admin, hundreds of writes in one frozen minute: this is
  // about the ledger under contention, and the limiter would refuse most of them.
  const app = await buildTestApi(database, clock, { rateLimits: noRateLimits });
  app.addHook('onError', async (_request, _reply, error) => {
    if (!(error instanceof AppError)) thrown.push(describeError(error));
  });
  await app.ready();
  const extraHandles: DatabaseHandle[] = [];
  if (database.url !== undefined) {
    for (let i = 0; i < directHandles; i += 1) {
      extraHandles.push(
        await openDatabase({ kind: 'server', url: database.url, pool: { ...defaultPoolConfig, max: directPoolMax } }),
      );
    }
  }
  return {
    database,
    app,
    clock,
    admin: bearer(await mintToken(testSecret, platformAdminClaims, clock)),
    direct: extraHandles.length > 0 ? extraHandles.map((handle) => handle.db) : [database.db],
    extraHandles,
    thrown,
    recordTotals: new Map(),
    recordsByTenant: new Map(),
    closed: false,
  };
};

/** Closes every pool (so the server's backends end and flush their statistics), keeping the database. */
const closeConnections = async (h: Harness): Promise<void> => {
  if (h.closed) return;
  h.closed = true;
  await h.app.close();
  for (const handle of h.extraHandles) await handle.close();
  await h.database.close();
};

const closeHarness = async (h: Harness | undefined): Promise<void> => {
  if (h === undefined) return;
  await closeConnections(h);
  await h.database.destroy();
};

let setupKeys = 0;
const setupPost = async (h: Harness, url: string, payload: Record<string, unknown>) => {
  const response = await h.app.inject({
    method: 'POST',
    url,
    headers: { ...h.admin, 'idempotency-key': `setup-${++setupKeys}` },
    payload,
  });
  if (response.statusCode >= 300) throw new Error(`setup ${url}: ${response.statusCode} ${response.body}`);
  return response.json<{ data: Record<string, unknown> }>().data;
};

/** Tenants in CNY, each with `records` finalised (pending) billing records of assorted totals. */
const givenTenants = async (h: Harness, tenantIds: readonly string[], records: number, seed: number) => {
  const random = prng(seed);
  for (const tenantId of tenantIds) {
    await setupPost(h, '/admin/tenants', {
      tenant_id: tenantId,
      name: `Tenant ${tenantId}`,
      admin_user_id: `usr_admin_of_${tenantId}`,
      currency: 'CNY',
      tax_rate: 0.06,
    });
    const ids: string[] = [];
    for (let i = 0; i < records; i += 1) {
      const data = await setupPost(h, `/admin/records/${tenantId}`, {
        type: 'one_time',
        description: `Concurrency record ${i}`,
        lines: [
          { description: 'Service', resource_type: 'one_time', quantity: 1, unit_price: random.int(500, 6_000) / 100 },
        ],
        finalize: true,
      });
      ids.push(data.record_id as string);
    }
    h.recordsByTenant.set(tenantId, ids);
  }
  const rows = await h.database.db.selectFrom('billing_records').select(['id', 'total_amount', 'status']).execute();
  for (const row of rows) h.recordTotals.set(row.id, row.total_amount);
};

const httpRequestOf = (op: Op, keyPrefix: string): HttpRequest => {
  const key = `${keyPrefix}-${op.n}`;
  const credits = `/admin/credits/${op.tenantId}`;
  switch (op.kind) {
    case 'promo':
      return { url: `${credits}/promo`, key, payload: { amount: major(op.amount), remark: `promo ${op.n}` } };
    case 'top_up':
      return { url: `${credits}/top-up`, key, payload: { amount: major(op.amount), source_id: `pay_${op.n}` } };
    case 'adjust_credit':
    case 'adjust_debit':
      return {
        url: `${credits}/adjust`,
        key,
        payload: {
          type: op.kind === 'adjust_credit' ? 'credit' : 'debit',
          amount: major(op.amount),
          remark: `op ${op.n}`,
        },
      };
    case 'pay':
      return { url: `/admin/records/${op.tenantId}/${op.recordId}/pay-from-balance`, key, payload: {} };
    case 'refund':
      return { url: `/admin/records/${op.tenantId}/${op.recordId}/refund`, key, payload: { reason: `op ${op.n}` } };
    default:
      throw new Error(`${op.kind} does not go through HTTP`);
  }
};

const send = async (h: Harness, request: HttpRequest): Promise<Sent> => {
  const response = await h.app.inject({
    method: 'POST',
    url: request.url,
    headers: { ...h.admin, 'idempotency-key': request.key },
    payload: request.payload,
  });
  return {
    status: response.statusCode,
    body: response.body,
    replayed: response.headers['idempotent-replayed'] === 'true',
  };
};

/** Counts what a first (not replayed) response did to the books; anything unexpected is a problem. */
const account = (h: Harness, tally: Tally, op: Op, sent: Sent) => {
  const label = `op ${op.n} ${op.kind} ${op.tenantId}: ${sent.status} ${sent.body.slice(0, 300)}`;
  const error = errorOf(sent.body);
  if (sent.status >= 500) {
    tally.problems.push(`5xx ${label}`);
    return;
  }
  if (op.kind === 'pay' || op.kind === 'refund') {
    const total = h.recordTotals.get(op.recordId!)!;
    if (sent.status === 200) {
      const data = JSON.parse(sent.body) as { data: { status: string; amount_paid: number } };
      const expectedStatus = op.kind === 'pay' ? 'paid' : 'refunded';
      if (data.data.status !== expectedStatus || minor(data.data.amount_paid) !== total) {
        tally.problems.push(`wrong record state ${label}`);
      }
      move(tally, op.tenantId, op.kind === 'pay' ? -total : total);
      bump(tally, `${op.kind} ok`);
    } else if (sent.status === 409 && error.type === 'conflict') {
      bump(tally, `${op.kind} refused (record status)`);
    } else if (op.kind === 'pay' && sent.status === 422 && error.type === 'insufficient_balance') {
      bump(tally, 'pay refused (insufficient balance)');
    } else {
      tally.problems.push(`unexpected ${label}`);
    }
    return;
  }
  const debit = op.kind === 'adjust_debit';
  if (sent.status === 201) {
    const data = (JSON.parse(sent.body) as { data: { id: string; balance: number; amount: number } }).data;
    if (minor(data.amount) !== op.amount) tally.problems.push(`wrong amount ${label}`);
    move(tally, op.tenantId, debit ? -op.amount : op.amount);
    tally.told.push({ tenantId: op.tenantId, transactionId: data.id, balanceAfter: minor(data.balance) });
    bump(tally, `${debit ? 'debit' : 'credit'} ok`);
  } else if (debit && sent.status === 422 && error.type === 'insufficient_balance') {
    bump(tally, 'debit refused (insufficient balance)');
  } else {
    tally.problems.push(`unexpected ${label}`);
  }
};

const sameAs = (tally: Tally, what: string, original: Sent, replay: Sent) => {
  if (!replay.replayed || replay.status !== original.status || replay.body !== original.body) {
    tally.problems.push(
      `${what}: replay differs: ${original.status} ${original.body.slice(0, 200)} then ${replay.status} replayed=${String(
        replay.replayed,
      )} ${replay.body.slice(0, 200)}`,
    );
  }
};

const directMovement = (op: Op): CreditMovement => {
  const credit = op.kind === 'direct_credit';
  const sources = credit ? (['proration', 'manual_adjust'] as const) : (['payg_deduction', 'manual_adjust'] as const);
  return {
    type: credit ? 'credit' : 'debit',
    amount: op.amount,
    source: sources[op.n % 2]!,
    sourceId: `direct_${op.n}`,
    remark: `direct ${op.n}`,
    currency: 'CNY',
  };
};

const runOp = async ({
  h,
  tally,
  op,
  keyPrefix,
  worker,
}: {
  h: Harness;
  tally: Tally;
  op: Op;
  keyPrefix: string;
  worker: number;
}): Promise<void> => {
  if (op.kind === 'direct_credit' || op.kind === 'direct_debit') {
    const db = h.direct[worker % h.direct.length]!;
    const movement = directMovement(op);
    try {
      const result = await db
        .transaction()
        .execute((trx) => postCreditTransaction(trx, h.clock, { tenantId: op.tenantId }, movement));
      if (result.ok) {
        move(tally, op.tenantId, movement.type === 'credit' ? op.amount : -op.amount);
        tally.told.push({
          tenantId: op.tenantId,
          transactionId: result.value.id,
          balanceAfter: result.value.balance_after,
        });
        bump(tally, `direct ${movement.type} ok`);
      } else if (movement.type === 'debit' && result.error.type === 'insufficient_balance') {
        bump(tally, 'direct debit refused (insufficient balance)');
      } else {
        tally.problems.push(`direct op ${op.n}: ${result.error.type} ${result.error.message}`);
      }
    } catch (error) {
      // No retry here on purpose: a deadlock or serialization failure would show as itself.
      tally.problems.push(`direct op ${op.n} threw ${describeError(error)}`);
    }
    return;
  }

  const request = httpRequestOf(op, keyPrefix);
  if (op.replay === 'concurrent') {
    const pair = await Promise.all([send(h, request), send(h, request)]);
    const firsts = pair.filter((sent) => !sent.replayed && !isInFlight(sent));
    if (firsts.length !== 1) {
      tally.problems.push(
        `op ${op.n}: ${firsts.length} first executions of one key: ${pair.map((s) => `${s.status} ${s.body.slice(0, 120)}`).join(' | ')}`,
      );
      for (const sent of firsts) account(h, tally, op, sent);
      return;
    }
    const first = firsts[0]!;
    account(h, tally, op, first);
    tally.originals.set(request.key, { request, sent: first });
    const other = pair.find((sent) => sent !== first)!;
    if (isInFlight(other)) bump(tally, 'concurrent replay: 409 in flight');
    else {
      sameAs(tally, `op ${op.n} concurrent`, first, other);
      bump(tally, 'concurrent replay: replayed');
    }
    return;
  }
  const first = await send(h, request);
  if (first.replayed || isInFlight(first)) {
    tally.problems.push(`op ${op.n}: fresh key answered as a replay: ${first.status} ${first.body.slice(0, 200)}`);
    return;
  }
  account(h, tally, op, first);
  tally.originals.set(request.key, { request, sent: first });
  if (op.replay === 'after') {
    sameAs(tally, `op ${op.n} after`, first, await send(h, request));
    bump(tally, 'sequential replay');
  }
};

/** `workers` workers take the next operation as soon as their last one answered. */
const runWorkload = async ({
  h,
  tally,
  ops,
  workers,
  keyPrefix,
}: {
  h: Harness;
  tally: Tally;
  ops: readonly Op[];
  workers: number;
  keyPrefix: string;
}) => {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: workers }, async (_, worker) => {
      for (;;) {
        const op = ops[next];
        next += 1;
        if (op === undefined) return;
        await runOp({ h, tally, op, keyPrefix, worker });
      }
    }),
  );
  const elapsedMs = performance.now() - started;
  // Every first response once more, one after another: each must come back as it was.
  for (const [key, { request, sent }] of tally.originals) {
    sameAs(tally, `final replay ${key}`, sent, await send(h, request));
  }
  bump(tally, 'final replays', tally.originals.size);
  return elapsedMs;
};

interface BookViolations {
  unbalanced: unknown[];
  chainBreaks: unknown[];
  staleHeads: unknown[];
  negativeCash: unknown[];
  mismatchedAmounts: unknown[];
}

/** The invariants of the whole ledger, over every tenant in the database. */
const checkBooks = async (db: Db): Promise<BookViolations> => {
  const unbalanced = await sql`
    select t.tenant_id, t.id, count(e.account_id)::int as entries, coalesce(sum(e.amount), 0)::text as total
      from ledger_transactions t
      left join ledger_entries e on e.tenant_id = t.tenant_id and e.transaction_id = t.id
     group by t.tenant_id, t.id
    having count(e.account_id) <> 2 or coalesce(sum(e.amount), 0) <> 0
     limit 20`.execute(db);
  const chainBreaks = await sql`
    with chain as (
      select tenant_id, account_id, account_version, amount, balance_after,
             row_number() over w as position,
             lag(balance_after, 1, 0::bigint) over w as previous_balance
        from ledger_entries
      window w as (partition by tenant_id, account_id order by account_version)
    )
    select tenant_id, account_id, account_version::text, position::text, amount::text,
           balance_after::text, previous_balance::text
      from chain
     where account_version <> position or balance_after <> previous_balance + amount
     limit 20`.execute(db);
  const staleHeads = await sql`
    select a.tenant_id, a.id, a.balance::text, a.version::text,
           head.account_version::text as head_version, head.balance_after::text as head_balance
      from ledger_accounts a
      left join lateral (
        select account_version, balance_after from ledger_entries e
         where e.tenant_id = a.tenant_id and e.account_id = a.id
         order by account_version desc limit 1) head on true
     where a.version <> coalesce(head.account_version, 0) or a.balance <> coalesce(head.balance_after, 0)
     limit 20`.execute(db);
  const negativeCash = await sql`
    select tenant_id, account_version::text, balance_after::text from ledger_entries
     where account_id = 'cash' and balance_after < 0 limit 20`.execute(db);
  const mismatchedAmounts = await sql`
    select t.tenant_id, t.id, t.type, t.amount::text, e.amount::text as cash_amount
      from ledger_transactions t
      left join ledger_entries e on e.tenant_id = t.tenant_id and e.transaction_id = t.id and e.account_id = 'cash'
     where e.amount is distinct from case when t.type = 'credit' then t.amount else -t.amount end
     limit 20`.execute(db);
  return {
    unbalanced: unbalanced.rows,
    chainBreaks: chainBreaks.rows,
    staleHeads: staleHeads.rows,
    negativeCash: negativeCash.rows,
    mismatchedAmounts: mismatchedAmounts.rows,
  };
};

const noViolations: BookViolations = {
  unbalanced: [],
  chainBreaks: [],
  staleHeads: [],
  negativeCash: [],
  mismatchedAmounts: [],
};

/** What the client counted against what the database holds, for the given tenants. */
const compareWithTally = async (db: Db, tally: Tally, tenantIds: readonly string[]) => {
  const accounts = await db
    .selectFrom('ledger_accounts')
    .select(['tenant_id', 'balance'])
    .where('id', '=', 'cash')
    .where('tenant_id', 'in', tenantIds)
    .execute();
  const counted = await db
    .selectFrom('ledger_transactions')
    .select(['tenant_id', (eb) => eb.fn.countAll<string>().as('n')])
    .where('tenant_id', 'in', tenantIds)
    .groupBy('tenant_id')
    .execute();
  const balances: Record<string, { database: string; client: string }> = {};
  const transactions: Record<string, { database: number; client: number }> = {};
  for (const tenantId of tenantIds) {
    const database = accounts.find((row) => row.tenant_id === tenantId)?.balance ?? 0n;
    const client = tally.expected.get(tenantId) ?? 0n;
    if (database !== client) balances[tenantId] = { database: String(database), client: String(client) };
    const databaseCount = Number(counted.find((row) => row.tenant_id === tenantId)?.n ?? 0);
    const clientCount = tally.postings.get(tenantId) ?? 0;
    if (databaseCount !== clientCount) transactions[tenantId] = { database: databaseCount, client: clientCount };
  }
  // Each balance a caller was told is the one its entry holds in the chain.
  const toldWrong: string[] = [];
  const told = new Map(tally.told.map((p) => [`${p.tenantId}/${p.transactionId}`, p.balanceAfter]));
  const entries = await db
    .selectFrom('ledger_entries')
    .select(['tenant_id', 'transaction_id', 'balance_after'])
    .where('account_id', '=', 'cash')
    .where('tenant_id', 'in', tenantIds)
    .execute();
  const seen = new Set<string>();
  for (const entry of entries) {
    const key = `${entry.tenant_id}/${entry.transaction_id}`;
    const balance = told.get(key);
    if (balance === undefined) continue;
    seen.add(key);
    if (balance !== entry.balance_after) toldWrong.push(`${key}: told ${balance}, chain ${entry.balance_after}`);
  }
  for (const key of told.keys()) if (!seen.has(key)) toldWrong.push(`${key}: told, but no entry`);
  return { balances, transactions, toldWrong };
};

/** Every record paid at most once, refunded at most once, and its ledger movements match its status. */
const checkRecords = async (db: Db, tenantIds: readonly string[]) => {
  const { rows } = await sql<{
    id: string;
    status: string;
    total: string;
    paid: string;
    payments: string;
    refunds: string;
  }>`
    select r.id, r.status, r.total_amount::text as total, r.amount_paid::text as paid,
           (select count(*) from ledger_transactions t where t.tenant_id = r.tenant_id and t.source = 'invoice_payment'
              and t.source_id = r.id and t.amount = r.total_amount)::text as payments,
           (select count(*) from ledger_transactions t where t.tenant_id = r.tenant_id and t.source = 'refund'
              and t.source_id = r.id and t.amount = r.total_amount)::text as refunds
      from billing_records r
     where r.tenant_id in (${sql.join(tenantIds)})`.execute(db);
  const expected: Record<string, [string, string, (r: { total: string }) => string]> = {
    pending: ['0', '0', () => '0'],
    paid: ['1', '0', (r) => r.total],
    refunded: ['1', '1', (r) => r.total],
  };
  const wrong = rows.filter((r) => {
    const want = expected[r.status];
    return want === undefined || r.payments !== want[0] || r.refunds !== want[1] || r.paid !== want[2](r);
  });
  const byStatus: Record<string, number> = {};
  for (const r of rows) byStatus[r.status] = (byStatus[r.status] ?? 0) + 1;
  return { wrong, byStatus };
};

const summary = (label: string, tally: Tally, elapsedMs: number, ops: number) =>
  console.log(
    `${label}: ${ops} operations in ${(elapsedMs / 1000).toFixed(2)} s (${((ops * 1000) / elapsedMs).toFixed(0)} ops/s); ${Object.entries(
      tally.counts,
    )
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([what, n]) => `${what} ${n}`)
      .join(', ')}`,
  );

const expectCleanRun = (h: Harness, tally: Tally) => {
  expect(tally.problems).toEqual([]);
  expect(h.thrown).toEqual([]);
};

const hotTenant = 'tnt_hot';
const manyTenants = Array.from({ length: 20 }, (_, i) => `tnt_many_${String(i).padStart(2, '0')}`);

describe.skipIf(!process.env.DATABASE_URL)('credit ledger under concurrent writers (server)', () => {
  let h: Harness;

  beforeAll(async () => {
    // The app's pool of 10 plus two handles of 4 for the direct postings: 18 server connections.
    h = await openHarness(2, 4);
    await givenTenants(h, [hotTenant], 40, 1);
    await givenTenants(h, manyTenants, 3, 2);
  });

  afterAll(() => closeHarness(h));

  it('one hot tenant: 400 operations from 16 workers keep one straight chain', { timeout: 60_000 }, async () => {
    const tally = newTally();
    const ops = planOps(11, 400, [hotTenant], (t) => h.recordsByTenant.get(t) ?? []);
    const elapsed = await runWorkload({ h, tally, ops, workers: 16, keyPrefix: 'hot' });
    summary('hot tenant', tally, elapsed, ops.length);
    expectCleanRun(h, tally);
    expect(tally.counts['debit refused (insufficient balance)'] ?? 0).toBeGreaterThan(0);
    expect(tally.counts['pay ok'] ?? 0).toBeGreaterThan(0);
    expect(tally.counts['refund ok'] ?? 0).toBeGreaterThan(0);
    expect(await compareWithTally(h.database.db, tally, [hotTenant])).toEqual({
      balances: {},
      transactions: {},
      toldWrong: [],
    });
    const records = await checkRecords(h.database.db, [hotTenant]);
    console.log(`hot tenant records by status: ${JSON.stringify(records.byStatus)}`);
    expect(records.wrong).toEqual([]);
    expect(await checkBooks(h.database.db)).toEqual(noViolations);
  });

  it('20 tenants at once: 400 operations from 16 workers, each tenant to the cent', { timeout: 60_000 }, async () => {
    const tally = newTally();
    const ops = planOps(22, 400, manyTenants, (t) => h.recordsByTenant.get(t) ?? []);
    const elapsed = await runWorkload({ h, tally, ops, workers: 16, keyPrefix: 'many' });
    summary('20 tenants', tally, elapsed, ops.length);
    expectCleanRun(h, tally);
    expect(await compareWithTally(h.database.db, tally, manyTenants)).toEqual({
      balances: {},
      transactions: {},
      toldWrong: [],
    });
    expect((await checkRecords(h.database.db, manyTenants)).wrong).toEqual([]);
    expect(await checkBooks(h.database.db)).toEqual(noViolations);
  });

  it('a retry of a request still in flight gets 409, and after it the first answer', async () => {
    // Hold the hot tenant's cash account from outside, so the first request stops inside its transaction.
    const blocker = new pg.Client({ connectionString: h.database.url });
    await blocker.connect();
    try {
      await blocker.query('begin');
      await blocker.query(`select 1 from ledger_accounts where tenant_id = $1 and id = 'cash' for update`, [hotTenant]);
      const request: HttpRequest = {
        url: `/admin/credits/${hotTenant}/promo`,
        key: 'in-flight-1',
        payload: { amount: 12.34, remark: 'in flight' },
      };
      const first = send(h, request);
      let waiting = 0;
      for (let i = 0; i < 100 && waiting === 0; i += 1) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        const { rows } = await blocker.query<{ n: number }>(
          `select count(*)::int as n from pg_stat_activity
            where datname = current_database() and wait_event_type = 'Lock' and pid <> pg_backend_pid()`,
        );
        waiting = rows[0]?.n ?? 0;
      }
      expect(waiting).toBeGreaterThan(0);
      const retried = await send(h, request);
      expect(retried.status).toBe(409);
      expect(isInFlight(retried)).toBe(true);
      const other = await send(h, { ...request, payload: { amount: 99, remark: 'another body, same key' } });
      expect(other.status).toBe(409);
      await blocker.query('commit');
      const original = await first;
      expect(original.status, original.body).toBe(201);
      expect(original.replayed).toBe(false);
      const replay = await send(h, request);
      expect(replay).toEqual({ ...original, replayed: true });
      const misuse = await send(h, { ...request, payload: { amount: 99, remark: 'another body, same key' } });
      expect(misuse.status).toBe(422);
    } finally {
      await blocker.end();
    }
    expect(h.thrown).toEqual([]);
  });

  it('no deadlock happened on the server (pg_stat_database, after every pool closed)', async () => {
    const name = new URL(h.database.url!).pathname.slice(1);
    await closeConnections(h);
    const admin = new pg.Client({ connectionString: process.env.DATABASE_URL });
    await admin.connect();
    try {
      // A backend reports its statistics as it exits; give the last ones a moment.
      let stats: { deadlocks: string; conflicts: string; rollbacks: string } | undefined;
      for (let i = 0; i < 3; i += 1) {
        await new Promise((resolve) => setTimeout(resolve, 300));
        const { rows } = await admin.query<{ deadlocks: string; conflicts: string; rollbacks: string }>(
          `select deadlocks::text, conflicts::text, xact_rollback::text as rollbacks
             from pg_stat_database where datname = $1`,
          [name],
        );
        stats = rows[0];
      }
      console.log(`server statistics of the test database: ${JSON.stringify(stats)}`);
      expect(stats?.deadlocks).toBe('0');
    } finally {
      await admin.end();
    }
  });
});

describe('credit ledger under concurrent writers (light, server or PGlite)', () => {
  let h: Harness;
  const tenants = ['tnt_light_a', 'tnt_light_b', 'tnt_light_c'];

  beforeAll(async () => {
    h = await openHarness(1, 2);
    await givenTenants(h, tenants, 4, 3);
  });

  afterAll(() => closeHarness(h));

  it('keeps the books straight with a few writers', async () => {
    const tally = newTally();
    const hot = planOps(33, 60, [tenants[0]!], (t) => h.recordsByTenant.get(t) ?? []);
    const spread = planOps(44, 45, tenants, (t) => h.recordsByTenant.get(t) ?? []).map((op) => ({
      ...op,
      n: op.n + hot.length,
    }));
    const elapsed = await runWorkload({ h, tally, ops: [...hot, ...spread], workers: 4, keyPrefix: 'light' });
    summary(`light (${h.database.kind})`, tally, elapsed, hot.length + spread.length);
    expectCleanRun(h, tally);
    expect(await compareWithTally(h.database.db, tally, tenants)).toEqual({
      balances: {},
      transactions: {},
      toldWrong: [],
    });
    expect((await checkRecords(h.database.db, tenants)).wrong).toEqual([]);
    expect(await checkBooks(h.database.db)).toEqual(noViolations);
  });
});
