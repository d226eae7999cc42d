import type { Db } from '../../db/database.js';
import type { TenantScope } from '../auth/principal.js';
import { findCreditAccount } from '../credit-ledger/repository.js';
import { tenantCreditAccount } from '../credit-ledger/sources.js';

/**
 * Where collection reads a tenant's credit balance (undefined: no account yet). The balance is
 * only a first guess either way: the posting checks it again under the account's lock, and a
 * concurrent debit that spent it meanwhile makes the payment method pay instead.
 */
export interface CreditBalances {
  balance(db: Db, scope: TenantScope): Promise<bigint | undefined>;
  /** Tells the reader that this transaction posted to the tenant's balance. */
  posted(scope: TenantScope): void;
}

export const ledgerBalances: CreditBalances = {
  balance: async (db, scope) => (await findCreditAccount(db, scope))?.balance,
  posted: () => undefined,
};

/**
 * A billing run's batch: every tenant's balance read in one statement up front; a tenant's is
 * read again after the batch posted to it (a subscription with several steps pays more than once).
 */
export const batchBalances = async (db: Db, tenantIds: readonly string[]): Promise<CreditBalances> => {
  const known = new Map<string, bigint | undefined>(tenantIds.map((id) => [id, undefined]));
  if (tenantIds.length > 0) {
    const rows = await db
      .selectFrom('ledger_accounts')
      .select(['tenant_id', 'balance'])
      .where('tenant_id', 'in', tenantIds)
      .where('id', '=', tenantCreditAccount)
      .execute();
    for (const row of rows) known.set(row.tenant_id, row.balance);
  }
  return {
    balance: async (db, scope) =>
      known.has(scope.tenantId) ? known.get(scope.tenantId) : ledgerBalances.balance(db, scope),
    posted: (scope) => {
      known.delete(scope.tenantId);
    },
  };
};
