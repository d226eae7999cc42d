import { sql } from 'kysely';
import type { Db } from '../../db/database.js';
import type { TenantScope } from '../auth/principal.js';
import { counterAccountFor } from '../credit-ledger/sources.js';

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

// Six parameters a posting: far below PostgreSQL's 65,535 per statement.
const postingsPerStatement = 10_000;

/**
 * Posts every deduction through ledger_post, in the order given, in one statement (per 10,000):
 * the same function, locks and balance-after chain as one call per posting, one round trip. Each
 * posting's balance after it, or null where ledger_post refused it (nothing written for that one:
 * an overdraft).
 */
export const postDeductions = async (
  trx: Db,
  scope: TenantScope,
  currency: string,
  at: Date,
  postings: DeductionPosting[],
): Promise<(bigint | null)[]> => {
  const balances: (bigint | null)[] = [];
  for (let start = 0; start < postings.length; start += postingsPerStatement) {
    const chunk = postings.slice(start, start + postingsPerStatement);
    const values = chunk.map(
      (posting, index) =>
        sql`(${index}::integer, ${posting.transactionId}::text, ${posting.amount}::bigint, ${posting.sourceId}::text,
             ${posting.remark}::text, ${posting.accountId}::text)`,
    );
    const { rows } = await sql<{ balance: bigint | null }>`
      select ledger_post(${scope.tenantId}::text, v.id, 'debit', v.amount, 'payg_deduction', v.source_id, v.remark,
               ${at}::timestamptz, ${currency}::text, v.account, ${counterAccountFor('payg_deduction')}::text) as balance
        from (values ${sql.join(values)}) v (n, id, amount, source_id, remark, account)
       order by v.n`.execute(trx);
    if (rows.length !== chunk.length)
      throw new Error(`ledger_post answered ${rows.length} of ${chunk.length} postings`);
    balances.push(...rows.map((row) => row.balance));
  }
  return balances;
};
