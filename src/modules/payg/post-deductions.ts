import type { DbTransaction } from '../../db/database.js';
import type { TenantScope } from '../../core/principal.js';
import { creditTransactionEvents } from '../credit-ledger/credit-events.js';
import { postManyToLedger, type Posting } from '../credit-ledger/repository.js';
import { recordEvents } from '../events/record-event.js';

/** One `payg_deduction` debit out of a tenant-side account (cash or an instrument's). */
export interface DeductionPosting {
  transactionId: string;
  /** Minor units, > 0. */
  amount: bigint;
  sourceId: string;
  remark: string;
  /** The tenant-side account debited: `cash` or `instrument:<id>`. */
  accountId: string;
}

/** Deductions of one tenant to post together, dated `at`, in its currency. */
export interface DeductionBatch {
  trx: DbTransaction;
  scope: TenantScope;
  currency: string;
  at: Date;
  postings: readonly DeductionPosting[];
}

/**
 * Posts every deduction through ledger_post, in the order given, in one statement: the same
 * function, locks and balance-after chain as one call per posting, one round trip. Each
 * posting's balance after it, or null where ledger_post refused it (nothing written for that one:
 * an overdraft).
 */
export const postDeductions = async ({
  trx,
  scope,
  currency,
  at,
  postings,
}: DeductionBatch): Promise<(bigint | null)[]> => {
  const ledgerPostings = postings.map((posting): Posting => ({
    ...posting,
    type: 'debit',
    source: 'payg_deduction',
    currency,
    at,
  }));
  const balances = await postManyToLedger(
    trx,
    ledgerPostings.map((posting) => ({ ...posting, tenantId: scope.tenantId })),
  );
  // Deductions from the credit balance are its transactions: each is told of (instruments' are not).
  await recordEvents(
    trx,
    scope,
    ledgerPostings.flatMap((posting, index) =>
      creditTransactionEvents(scope.tenantId, posting, balances[index] ?? null),
    ),
  );
  return balances;
};
