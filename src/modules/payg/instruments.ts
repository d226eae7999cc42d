import { sql, type Selectable } from 'kysely';
import type { Clock } from '../../core/clock.js';
import { toRfc3339 } from '../../core/clock.js';
import { AppError, invalidParameter, notFound } from '../../core/errors.js';
import { newId } from '../../core/ids.js';
import { describeAmountProblem, parseMajorAmount, toMajorNumber } from '../../core/money.js';
import { fail, ok, type Result } from '../../core/result.js';
import type { Db, DbTransaction } from '../../db/database.js';
import type { InstrumentKind, PaygInstrumentsTable } from '../../db/schema.js';
import type { TenantScope } from '../../core/principal.js';
import { postCreditTransaction } from '../credit-ledger/post-credit-transaction.js';
import { findTenant } from '../tenants/repository.js';

export type InstrumentRow = Selectable<PaygInstrumentsTable> & { balance: bigint; currency: string };

export interface IssueRequest {
  kind: InstrumentKind;
  amount: number;
  validFrom?: string | undefined;
  validTo?: string | undefined;
  productKeys?: string[] | undefined;
  customerIdentifier?: string | undefined;
}

const issueSources = {
  coupon: 'coupon_issue',
  stored_card: 'stored_card_issue',
  cloud_marketplace: 'cloud_marketplace_top_up',
} as const;
const idKinds = { coupon: 'coupon', stored_card: 'storedCard', cloud_marketplace: 'cloudMarketplace' } as const;

/** Each instrument is a ledger account of the tenant's; its balance moves only through postings. */
export const accountIdOf = (instrumentId: string): string => `instrument:${instrumentId}`;

/**
 * The tenant's cloud-marketplace balance, locked for the transaction, or undefined when it has none
 * yet. Top-ups of one tenant first queue on a lock of their own (transaction-scoped, keyed by the
 * tenant): with no row to lock, parallel first top-ups would each create one, and all but one
 * fail on payg_instruments_one_marketplace. The lock is taken before any ledger lock.
 */
const lockMarketplace = async (
  trx: DbTransaction,
  scope: TenantScope,
): Promise<Selectable<PaygInstrumentsTable> | undefined> => {
  await sql`select pg_advisory_xact_lock(hashtextextended(${`payg_instruments.cloud_marketplace/${scope.tenantId}`}, 0))`.execute(
    trx,
  );
  return trx
    .selectFrom('payg_instruments')
    .selectAll()
    .where('tenant_id', '=', scope.tenantId)
    .where('kind', '=', 'cloud_marketplace')
    .forUpdate()
    .executeTakeFirst();
};

/**
 * Issues a coupon or stored-value card, or tops up the tenant's one cloud-marketplace balance
 * (created on first top-up): a ledger credit into the instrument's account.
 */
export const issueInstrument = async (
  trx: DbTransaction,
  clock: Clock,
  scope: TenantScope,
  request: IssueRequest,
): Promise<Result<InstrumentRow>> => {
  const tenant = await findTenant(trx, scope);
  if (tenant === undefined) return fail(notFound('tenant'));
  const amount = parseMajorAmount(request.amount, tenant.currency);
  if (!amount.ok)
    return fail(invalidParameter('body', 'amount', describeAmountProblem(amount.problem, tenant.currency)));
  const validFrom = request.validFrom === undefined ? null : new Date(request.validFrom);
  const validTo = request.validTo === undefined ? null : new Date(request.validTo);
  if (validFrom !== null && validTo !== null && validTo <= validFrom) {
    return fail(invalidParameter('body', 'valid_to', 'must be after valid_from'));
  }
  if (request.productKeys !== undefined) {
    const known = await trx
      .selectFrom('payg_products')
      .select('billing_key')
      .where('billing_key', 'in', request.productKeys)
      .execute();
    const missing = request.productKeys.find((key) => !known.some((row) => row.billing_key === key));
    if (missing !== undefined) return fail(invalidParameter('body', 'product_keys', `names no product ${missing}`));
  }
  const now = clock.now();
  let instrument = request.kind === 'cloud_marketplace' ? await lockMarketplace(trx, scope) : undefined;
  const id = instrument?.id ?? newId(idKinds[request.kind]);
  const posted = await postCreditTransaction(trx, clock, scope, {
    type: 'credit',
    amount: amount.minor,
    source: issueSources[request.kind],
    sourceId: id,
    remark: `${request.kind.replace('_', ' ')} ${id}`,
    currency: tenant.currency,
    accountId: accountIdOf(id),
  });
  if (!posted.ok) return posted;
  if (instrument === undefined) {
    instrument = await trx
      .insertInto('payg_instruments')
      .values({
        tenant_id: scope.tenantId,
        id,
        kind: request.kind,
        account_id: accountIdOf(id),
        issued_amount: amount.minor,
        valid_from: validFrom,
        valid_to: validTo,
        product_keys: request.productKeys ?? null,
        customer_identifier: request.customerIdentifier ?? null,
        created_at: now,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
  } else {
    if (request.customerIdentifier !== undefined && request.customerIdentifier !== instrument.customer_identifier) {
      return fail(
        new AppError('conflict', `the tenant's cloud-marketplace balance belongs to ${instrument.customer_identifier}`),
      );
    }
    instrument = await trx
      .updateTable('payg_instruments')
      .set({ issued_amount: instrument.issued_amount + amount.minor })
      .where('tenant_id', '=', scope.tenantId)
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirstOrThrow();
  }
  return ok({ ...instrument, balance: posted.value.balance_after, currency: tenant.currency });
};

/** The tenant's instruments with their balances, by kind then expiry. */
export const listInstruments = async (db: Db, scope: TenantScope): Promise<InstrumentRow[]> =>
  db
    .selectFrom('payg_instruments as i')
    .innerJoin('ledger_accounts as a', (join) =>
      join.onRef('a.tenant_id', '=', 'i.tenant_id').onRef('a.id', '=', 'i.account_id'),
    )
    .selectAll('i')
    .select(['a.balance', 'a.currency'])
    .where('i.tenant_id', '=', scope.tenantId)
    .orderBy('i.kind')
    .orderBy('i.valid_to')
    .orderBy('i.id')
    .execute();

export const toInstrumentView = (row: InstrumentRow) => ({
  id: row.id,
  tenant_id: row.tenant_id,
  kind: row.kind,
  issued_amount: toMajorNumber(row.issued_amount, row.currency),
  balance: toMajorNumber(row.balance, row.currency),
  currency: row.currency,
  valid_from: row.valid_from === null ? null : toRfc3339(row.valid_from),
  valid_to: row.valid_to === null ? null : toRfc3339(row.valid_to),
  product_keys: row.product_keys,
  customer_identifier: row.customer_identifier,
  created_at: toRfc3339(row.created_at),
});
