import { sql, type Selectable } from 'kysely';
import type { PageRequest } from '../../core/pagination.js';
import type { Db, DbTransaction } from '../../db/database.js';
import { jsonRows } from '../../db/json-rows.js';
import { fetchPage } from '../../db/paginate.js';
import type { LedgerAccountsTable, LedgerTransactionsTable, LedgerTransactionType } from '../../db/schema.js';
import type { TenantScope } from '../../core/principal.js';
import { counterAccountFor, tenantCreditAccount, type CreditSource } from './sources.js';

export type LedgerAccountRow = Selectable<LedgerAccountsTable>;

export interface Posting {
  transactionId: string;
  type: LedgerTransactionType;
  amount: bigint;
  source: CreditSource;
  sourceId: string | null;
  remark: string;
  at: Date;
  currency: string;
  /** The tenant-side account: the credit balance (`cash`) unless an instrument's. */
  accountId?: string;
}

/**
 * Posts several transactions through ledger_post, in the order given, in one statement: the same
 * function, locks and balance-after chains as one call each. Each one's new tenant-side balance,
 * or null where ledger_post refused it (an overdraft; nothing written for that one).
 */
export const postManyToLedger = async (
  trx: DbTransaction,
  postings: readonly (Posting & { tenantId: string })[],
): Promise<(bigint | null)[]> => {
  if (postings.length === 0) return [];
  const rows = postings.map((posting, i) => ({
    i,
    tenant_id: posting.tenantId,
    transaction_id: posting.transactionId,
    type: posting.type,
    amount: posting.amount,
    source: posting.source,
    source_id: posting.sourceId,
    remark: posting.remark,
    at: posting.at,
    currency: posting.currency,
    account_id: posting.accountId ?? tenantCreditAccount,
    counter_account: counterAccountFor(posting.source),
  }));
  const { rows: balances } = await sql<{ balance: bigint | null }>`
    select ledger_post(v.tenant_id, v.transaction_id, v.type, v.amount, v.source, v.source_id, v.remark, v.at,
                       v.currency, v.account_id, v.counter_account) as balance
      from (select * from jsonb_to_recordset(${jsonRows(rows)}::jsonb)
                   as x (i integer, tenant_id text, transaction_id text, type text, amount bigint, source text,
                         source_id text, remark text, at timestamptz, currency text, account_id text,
                         counter_account text)
             order by x.i) v`.execute(trx);
  if (balances.length !== postings.length)
    throw new Error(`ledger_post answered ${balances.length} of ${postings.length} postings`);
  return balances.map((row) => row.balance);
};

/** Posts in one round trip (see ledger_post); the tenant's new balance, or null when it would overdraw. */
export const postToLedger = async (
  trx: DbTransaction,
  scope: TenantScope,
  posting: Posting,
): Promise<bigint | null> => {
  // The hot path of every posting: parameters straight in, not a one-row batch.
  const { rows } = await sql<{ balance: bigint | null }>`
    select ledger_post(${scope.tenantId}, ${posting.transactionId}, ${posting.type}, ${posting.amount}::bigint,
      ${posting.source}, ${posting.sourceId}, ${posting.remark}, ${posting.at}::timestamptz, ${posting.currency},
      ${posting.accountId ?? tenantCreditAccount}, ${counterAccountFor(posting.source)}) as balance`.execute(trx);
  return rows[0]?.balance ?? null;
};

export const findCreditAccount = (db: Db, scope: TenantScope): Promise<LedgerAccountRow | undefined> =>
  db
    .selectFrom('ledger_accounts')
    .selectAll()
    .where('tenant_id', '=', scope.tenantId)
    .where('id', '=', tenantCreditAccount)
    .executeTakeFirst();

/** The columns a statement shows: the transaction and its entry's balance-after on the tenant account. */
export type CreditTransactionRow = Omit<Selectable<LedgerTransactionsTable>, 'account_id' | 'account_version'> & {
  balance_after: bigint;
};

/**
 * A tenant account's transactions with the balance each left it at, keyed by its place in the
 * account's chain (ledger_transactions_by_account, or _by_account_source with a source).
 */
export const accountStatement = (db: Db, scope: TenantScope, accountId: string) =>
  db
    .selectFrom('ledger_transactions as t')
    .innerJoin('ledger_entries as e', (join) =>
      join
        .onRef('e.tenant_id', '=', 't.tenant_id')
        .onRef('e.account_id', '=', 't.account_id')
        .onRef('e.account_version', '=', 't.account_version'),
    )
    .where('t.tenant_id', '=', scope.tenantId)
    .where('t.account_id', '=', accountId);

export const statementColumns = [
  't.tenant_id',
  't.id',
  't.type',
  't.amount',
  't.source',
  't.source_id',
  't.remark',
  't.created_at',
  'e.balance_after',
] as const;

/**
 * The tenant's credit transactions, newest first in the order they were posted (the cash
 * account's chain), so each row's balance follows from the next older one's on every page.
 */
export const listCreditTransactions = (
  db: Db,
  scope: TenantScope,
  source: CreditSource | undefined,
  page: PageRequest,
): Promise<{ rows: CreditTransactionRow[]; total: number }> => {
  let query = accountStatement(db, scope, tenantCreditAccount);
  if (source !== undefined) query = query.where('t.source', '=', source);
  return fetchPage(query, (q) => q.select(statementColumns).orderBy('t.account_version', 'desc'), page);
};
