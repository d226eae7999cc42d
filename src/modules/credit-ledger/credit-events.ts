import type { NewEvent } from '../events/record-event.js';
import type { CreditTransactionRow, Posting } from './repository.js';
import { tenantCreditAccount } from './sources.js';
import { toCreditTransactionView } from './view.js';

/** A posting ledger_post wrote, as the statement shows it; everything is known without reading it back. */
export const postedTransaction = (tenantId: string, posting: Posting, balance: bigint): CreditTransactionRow => ({
  tenant_id: tenantId,
  id: posting.transactionId,
  type: posting.type,
  amount: posting.amount,
  source: posting.source,
  source_id: posting.sourceId,
  remark: posting.remark,
  created_at: posting.at,
  balance_after: balance,
});

/**
 * The `credit_transaction.created` event of a posting that moved the credit balance; none for an
 * instrument's account (a coupon or card is not the credit balance the API's transactions list).
 */
export const creditTransactionEvents = (tenantId: string, posting: Posting, balance: bigint | null): NewEvent[] => {
  if (balance === null || (posting.accountId ?? tenantCreditAccount) !== tenantCreditAccount) return [];
  const data = toCreditTransactionView(postedTransaction(tenantId, posting, balance), posting.currency);
  return [{ type: 'credit_transaction.created', at: posting.at, data }];
};
