import type { Clock } from '../../src/core/clock.js';
import type { DatabaseHandle } from '../../src/db/database.js';
import type { Api } from '../../src/http/api.js';
import { postCreditTransaction, type CreditMovement } from '../../src/modules/credit-ledger/post-credit-transaction.js';
import { run, warmUp, type RunStats } from '../lib/closed-loop.js';
import { fmt } from '../lib/table.js';

/** Closed-loop credit postings on one path, over the spread tenants or the hot one. */

export type Path = 'service' | 'http';
export type Spread = 'spread' | 'hot';

export const hotTenant = 'tnt_bench_hot';
export const spreadTenants = 100;
export const tenantIds = Array.from({ length: spreadTenants }, (_, i) => `tnt_bench_${String(i).padStart(3, '0')}`);
const warmUpCapMs = 1_000;

export interface LedgerResult {
  path: Path;
  spread: Spread;
  clients: number;
  /** Committed postings per second (refusals and errors excluded). */
  tps: number;
  postings: number;
  refused: number;
  errors: number;
  errorSamples: string[];
  stats: RunStats;
}

export interface PostingRun {
  handle: DatabaseHandle;
  app: Api;
  clock: Clock;
  /** A platform admin's Authorization header. */
  admin: { authorization: string };
  path: Path;
  spread: Spread;
  clients: number;
  runSeconds: number;
}

/**
 * Two postings in three a promo credit of 1.00, one in three a manual debit of 1.00: in
 * db.transaction() (service) or POST /admin/credits/… with a fresh Idempotency-Key (http).
 */
export const measurePostings = async ({
  handle,
  app,
  clock,
  admin,
  path,
  spread,
  clients,
  runSeconds,
}: PostingRun): Promise<LedgerResult> => {
  let seq = 0;
  let refused = 0;
  let errors = 0;
  const errorSamples: string[] = [];
  const noteError = (what: string) => {
    errors += 1;
    if (errorSamples.length < 5) errorSamples.push(what);
  };
  const send = async (): Promise<void> => {
    seq += 1;
    const n = seq;
    const tenantId = spread === 'hot' ? hotTenant : tenantIds[n % spreadTenants]!;
    const debit = n % 3 === 0;
    if (path === 'service') {
      const movement: CreditMovement = debit
        ? {
            type: 'debit',
            amount: 100n,
            source: 'manual_adjust',
            sourceId: null,
            remark: 'bench debit',
            currency: 'CNY',
          }
        : { type: 'credit', amount: 100n, source: 'promo', sourceId: null, remark: 'bench credit', currency: 'CNY' };
      try {
        const result = await handle.db
          .transaction()
          .execute((trx) => postCreditTransaction(trx, clock, { tenantId }, movement));
        if (!result.ok) refused += 1;
      } catch (error) {
        noteError(`${(error as { code?: string }).code ?? ''} ${(error as Error).message}`);
      }
      return;
    }
    const response = await app.inject({
      method: 'POST',
      url: `/admin/credits/${tenantId}/${debit ? 'adjust' : 'promo'}`,
      headers: { ...admin, 'idempotency-key': `bench-${path}-${spread}-${clients}-${n}` },
      payload: debit ? { type: 'debit', amount: 1, remark: 'bench debit' } : { amount: 1, remark: 'bench' },
    });
    if (response.statusCode === 422) refused += 1;
    else if (response.statusCode !== 201) noteError(`${response.statusCode} ${response.body.slice(0, 200)}`);
  };
  await warmUp(send, 50, warmUpCapMs);
  refused = 0;
  errors = 0;
  errorSamples.length = 0;
  const stats = await run(send, Number.MAX_SAFE_INTEGER, clients, runSeconds * 1000);
  const postings = stats.requests - refused - errors;
  const result: LedgerResult = {
    path,
    spread,
    clients,
    tps: Number(((postings * 1000) / stats.elapsedMs).toFixed(1)),
    postings,
    refused,
    errors,
    errorSamples,
    stats,
  };
  console.log(
    `  ${path.padEnd(7)} ${spread.padEnd(6)} c${String(clients).padEnd(2)} ${fmt(result.tps).padStart(7)} tps` +
      `  p50 ${fmt(stats.p50Ms, 1)} p99 ${fmt(stats.p99Ms, 1)} ms` +
      (refused + errors > 0 ? `  refused ${refused} errors ${errors} ${errorSamples.join(' | ')}` : ''),
  );
  return result;
};
