import type pg from 'pg';
import { counterAccountFor, type CreditSource } from '../../src/modules/credit-ledger/sources.js';
import { rowsPerStatement } from './sql.js';

/** The credit ledger written directly, and checked as its tests check it. */

export interface Posting {
  tenantId: string;
  transactionId: string;
  type: 'credit' | 'debit';
  amount: bigint;
  source: CreditSource;
  sourceId: string | null;
  remark: string;
  at: Date;
  currency: string;
  account: string;
}

const postingColumns = 11;

/** One ledger_post call per posting, in a single statement over a VALUES list; throws if any is refused. */
export const postAll = async (client: pg.ClientBase, postings: Posting[]): Promise<void> => {
  const perStatement = rowsPerStatement(postingColumns);
  for (let start = 0; start < postings.length; start += perStatement) {
    const chunk = postings.slice(start, start + perStatement);
    const parameters: unknown[] = [];
    const values = chunk.map((p) => {
      const n = parameters.length;
      parameters.push(
        p.tenantId,
        p.transactionId,
        p.type,
        p.amount,
        p.source,
        p.sourceId,
        p.remark,
        p.at,
        p.currency,
        p.account,
        counterAccountFor(p.source),
      );
      return `($${n + 1}::text, $${n + 2}::text, $${n + 3}::text, $${n + 4}::bigint, $${n + 5}::text, $${n + 6}::text,
               $${n + 7}::text, $${n + 8}::timestamptz, $${n + 9}::text, $${n + 10}::text, $${n + 11}::text)`;
    });
    const { rows } = await client.query<{ posted: number; refused: number }>(
      `select count(*)::int as posted, count(*) filter (where balance is null)::int as refused
         from (select ledger_post(v.t, v.id, v.type, v.amount, v.source, v.source_id, v.remark, v.at, v.currency,
                                  v.account, v.counter) as balance
                 from (values ${values.join(', ')})
                      v (t, id, type, amount, source, source_id, remark, at, currency, account, counter)) posted`,
      parameters,
    );
    if (rows[0]?.posted !== chunk.length || rows[0]?.refused !== 0) {
      throw new Error(`ledger_post: ${JSON.stringify(rows[0])} of ${chunk.length} postings`);
    }
  }
};

export interface LedgerFaults {
  /** Transactions whose entries do not sum to zero or are not two. */
  unbalanced: number;
  /** Entries whose version or balance-after does not follow the account's previous entry. */
  chainBreaks: number;
  /** Accounts whose cached head is not their last entry, or below zero where they may not be. */
  staleHeads: number;
  /** Entries without their transaction. */
  orphans: number;
}

/** What the ledger's triggers and keys guarantee, counted over the whole ledger: each must be 0. */
export const ledgerFaults = async (client: pg.ClientBase): Promise<LedgerFaults> => {
  const { rows } = await client.query<LedgerFaults>(`
    select (select count(*) from (select 1 from ledger_entries group by tenant_id, transaction_id
                                  having sum(amount) <> 0 or count(*) <> 2) x)::int as "unbalanced",
           (select count(*) from (select account_version, amount, balance_after,
                                         row_number() over w as position, lag(balance_after, 1, 0::bigint) over w as previous
                                    from ledger_entries
                                  window w as (partition by tenant_id, account_id order by account_version)) c
             where account_version <> position or balance_after <> previous + amount)::int as "chainBreaks",
           (select count(*) from ledger_accounts a
              left join lateral (select account_version, balance_after from ledger_entries e
                                  where e.tenant_id = a.tenant_id and e.account_id = a.id
                                  order by account_version desc limit 1) h on true
             where a.version <> coalesce(h.account_version, 0) or a.balance <> coalesce(h.balance_after, 0)
                or (not a.allow_overdraft and a.balance < 0))::int as "staleHeads",
           (select count(*) from ledger_entries e
             where not exists (select 1 from ledger_transactions t
                                where t.tenant_id = e.tenant_id and t.id = e.transaction_id))::int as "orphans"`);
  return rows[0]!;
};

export const faultsIn = (faults: LedgerFaults): string[] =>
  Object.entries(faults)
    .filter(([, n]) => n !== 0)
    .map(([fault, n]) => `${fault} ${String(n)}`);
