import type { Clock } from '../../core/clock.js';
import { AppError } from '../../core/errors.js';
import { newId } from '../../core/ids.js';
import { maxMinorAmount, toMajorNumber } from '../../core/money.js';
import { fail, ok, type Result } from '../../core/result.js';
import type { DbTransaction } from '../../db/database.js';
import type { LedgerTransactionType } from '../../db/schema.js';
import type { TenantScope } from '../../core/principal.js';
import { recordEvents } from '../events/record-event.js';
import { creditTransactionEvents, postedTransaction } from './credit-events.js';
import { postToLedger, type CreditTransactionRow, type Posting } from './repository.js';
import { creditSources, type CreditSource } from './sources.js';

export interface CreditMovement {
  type: LedgerTransactionType;
  /** Minor units, > 0. */
  amount: bigint;
  source: CreditSource;
  sourceId: string | null;
  remark: string;
  /** The tenant's currency: it fixes the ledger accounts' currency when they are first opened. */
  currency: string;
  /** A pay-as-you-go instrument's account instead of the credit balance. */
  accountId?: string;
}

/** The posting of a movement, dated by the clock; a movement its source cannot make is a bug. */
export const creditPosting = (clock: Clock, movement: CreditMovement): Posting => {
  if (!(creditSources[movement.source] as readonly LedgerTransactionType[]).includes(movement.type)) {
    throw new Error(`a ${movement.source} transaction cannot be a ${movement.type}`);
  }
  if (movement.amount <= 0n) throw new Error('a credit transaction moves a positive amount');
  return { transactionId: newId('creditTransaction'), ...movement, at: clock.now() };
};

/**
 * Moves value between the tenant's credit balance and the source's counter-account, as one
 * balanced transaction. Overdrawing the balance, or taking it above the largest amount the API
 * carries exactly (`maxMinorAmount`), is an expected failure, and nothing is written.
 */
export const postCreditTransaction = async (
  trx: DbTransaction,
  clock: Clock,
  scope: TenantScope,
  movement: CreditMovement,
): Promise<Result<CreditTransactionRow>> => {
  const posting = creditPosting(clock, movement);
  const balance = await postToLedger(trx, scope, posting);
  if (balance === null) {
    // ledger_post refuses a debit only for an overdraft, a credit only above the limit.
    return fail(
      movement.type === 'debit'
        ? new AppError(
            'insufficient_balance',
            `the credit balance cannot cover ${toMajorNumber(movement.amount, movement.currency)} ${movement.currency}`,
          )
        : new AppError(
            'unprocessable',
            `the credit balance cannot go above ${toMajorNumber(maxMinorAmount, movement.currency)} ${movement.currency}`,
          ),
    );
  }
  await recordEvents(trx, scope, creditTransactionEvents(scope.tenantId, posting, balance));
  // Everything the row holds is known here: reading it back would only hold the account locks longer.
  return ok(postedTransaction(scope.tenantId, posting, balance));
};
