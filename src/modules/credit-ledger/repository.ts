import { sql, type Selectable } from 'kysely';
import type { PageRequest } from '../../core/pagination.js';
import type { Db } from '../../db/database.js';
import { fetchPage } from '../../db/paginate.js';
import type { LedgerAccountsTable, LedgerTransactionsTable, LedgerTransactionType } from '../../db/schema.js';
import type { TenantScope } from '../auth/principal.js';
import { counterAccountFor, tenantCreditAccount, type CreditSource } from './sources.js';

export type CreditTransactionRow = Selectable<LedgerTransactionsTable> & { balance_after: bigint };
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

/** Posts in one round trip (see ledger_post); the tenant's new balance, or null when it would overdraw. */
export const postToLedger = async (db: Db, scope: TenantScope, posting: Posting): Promise<bigint | null> => {
  const { rows } = await sql<{ balance: bigint | null }>`
    select ledger_post(${scope.tenantId}, ${posting.transactionId}, ${posting.type}, ${posting.amount}::bigint,
      ${posting.source}, ${posting.sourceId}, ${posting.remark}, ${posting.at}::timestamptz, ${posting.currency},
      ${posting.accountId ?? tenantCreditAccount}, ${counterAccountFor(posting.source)}) as balance`.execute(db);
  return rows[0]?.balance ?? null;
};

export const findCreditAccount = (db: Db, scope: TenantScope): Promise<LedgerAccountRow | undefined> =>
  db
    .selectFrom('ledger_accounts')
    .selectAll()
    .where('tenant_id', '=', scope.tenantId)
    .where('id', '=', tenantCreditAccount)
    .executeTakeFirst();

const transactionsWithBalance = (db: Db, scope: TenantScope) =>
  db
    .selectFrom('ledger_transactions as t')
    .innerJoin('ledger_entries as e', (join) =>
      join
        .onRef('e.tenant_id', '=', 't.tenant_id')
        .onRef('e.transaction_id', '=', 't.id')
        .on('e.account_id', '=', tenantCreditAccount),
    )
    .where('t.tenant_id', '=', scope.tenantId);

/** The tenant's credit transactions, newest first, ties by id. */
export const listCreditTransactions = (
  db: Db,
  scope: TenantScope,
  source: CreditSource | undefined,
  page: PageRequest,
): Promise<{ rows: CreditTransactionRow[]; total: number }> => {
  let query = transactionsWithBalance(db, scope);
  if (source !== undefined) query = query.where('t.source', '=', source);
  return fetchPage(
    query,
    (q) => q.selectAll('t').select('e.balance_after').orderBy('t.created_at', 'desc').orderBy('t.id', 'desc'),
    page,
  );
};
