import type { Db } from '../../db/database.js';
import type { TenantScope } from '../../core/principal.js';
import { findCreditAccount } from '../credit-ledger/repository.js';
import { tenantCreditAccount } from '../credit-ledger/sources.js';

/**
 * Where collection reads a tenant's credit balance (undefined: no account yet). The balance is
 * only a first guess either way: the posting checks it again under the account's lock, and a
 * concurrent debit that spent it meanwhile makes the payment method pay instead.
 */
export interface CreditBalances {
  balance(db: Db, scope: TenantScope): Promise<bigint | undefined>;
  /**
   * Tells the reader that this transaction moved the tenant's balance by `delta` (minor units), or,
   * without one, that the balance it read is out of date (a posting was refused).
   */
  posted(scope: TenantScope, delta?: bigint): void;
}

export const ledgerBalances: CreditBalances = {
  balance: async (db, scope) => (await findCreditAccount(db, scope))?.balance,
  posted: () => undefined,
};

/**
 * A billing run's batch: every tenant's balance read in one statement up front, and counted on
 * in memory as the batch posts (its postings may be held until the batch writes).
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
    posted: (scope, delta) => {
      const balance = known.get(scope.tenantId);
      if (balance === undefined || delta === undefined) known.delete(scope.tenantId);
      else known.set(scope.tenantId, balance + delta);
    },
  };
};
