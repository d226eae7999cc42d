import type { Clock } from '../../core/clock.js';
import { moveLockedRecord } from '../billing-records/move-record.js';
import { directRecordWrites } from '../billing-records/record-writes.js';
import { applyBalancePayment } from '../billing-records/pay-record-from-balance.js';
import type { RecordRow } from '../billing-records/repository.js';
import { ledgerBalances } from './credit-balances.js';
import type { SubscriptionContext } from './issue-invoice.js';
import { providerFor } from './payment-providers.js';
import type { SubscriptionRow } from './repository.js';
import { paidByReason } from './payment-reason.js';

export type Collection = { paid: true } | { paid: false; reason: string };

const expectOk = <T>(result: { ok: true; value: T } | { ok: false; error: Error }): T => {
  // Collection only moves records it has just checked and locked; a refusal here is a bug.
  if (!result.ok) throw result.error;
  return result.value;
};

/** An invoice of a subscription to collect, with the subscription as it stands, dated by the clock. */
export interface InvoiceCollection {
  ctx: SubscriptionContext;
  clock: Clock;
  sub: SubscriptionRow;
}

/**
 * Collects an invoice of a subscription: the credit balance first, as far as it goes, then the
 * subscription's payment method for the rest. A failed record is put back to pending first, so
 * a retry is a new attempt. Locks the record, then (inside postings) the ledger accounts.
 */
export const collectPayment = async ({
  recordId,
  ...collection
}: InvoiceCollection & { recordId: string }): Promise<Collection> => {
  const { trx, scope, writes = directRecordWrites } = collection.ctx;
  const record = await writes.lockRecord(trx, scope, recordId);
  if (record === undefined) throw new Error(`record ${recordId} of subscription ${collection.sub.id} does not exist`);
  return collectLockedRecord({ ...collection, record });
};

/**
 * The same for a record the caller holds locked, as it is now: one it has just written needs no
 * second read (no other transaction can see it yet).
 */
export const collectLockedRecord = async ({
  ctx,
  clock,
  sub,
  record: locked,
}: InvoiceCollection & { record: RecordRow }): Promise<Collection> => {
  const { trx, scope, actor, balances = ledgerBalances, writes = directRecordWrites } = ctx;
  let record = locked;
  if (record.status === 'paid') return { paid: true };
  if (record.status === 'refunded' || record.status === 'draft') {
    throw new Error(`record ${record.id} cannot be collected in status ${record.status}`);
  }
  if (record.status === 'failed') {
    record = expectOk(
      await moveLockedRecord({ trx, clock, scope, record, action: 'retry', actor, reason: 'payment retry', writes }),
    );
  }
  const balance = await balances.balance(trx, scope);
  const outstanding = record.total_amount - record.amount_paid;
  const fromBalance = balance === undefined || balance < outstanding ? (balance ?? 0n) : outstanding;
  if (fromBalance > 0n || outstanding === 0n) {
    const applied = await applyBalancePayment({ trx, clock, scope, record, amount: fromBalance, actor, writes });
    if (fromBalance > 0n) balances.posted(scope, applied.ok ? -fromBalance : undefined);
    // A concurrent debit may have spent the balance since it was read: then the method pays it all.
    if (!applied.ok && applied.error.type !== 'insufficient_balance') throw applied.error;
    if (applied.ok) record = applied.value;
    if (record.status === 'paid') return { paid: true };
  }
  const outcome = await providerFor(sub.payment_method).charge({
    tenantId: scope.tenantId,
    recordId: record.id,
    amount: record.total_amount - record.amount_paid,
    currency: record.currency,
  });
  switch (outcome.status) {
    case 'succeeded': {
      const reason = paidByReason(sub.payment_method, outcome.reference);
      expectOk(await moveLockedRecord({ trx, clock, scope, record, action: 'mark_paid', actor, reason, writes }));
      return { paid: true };
    }
    case 'declined':
      expectOk(
        await moveLockedRecord({
          trx,
          clock,
          scope,
          record,
          action: 'mark_failed',
          actor,
          reason: outcome.reason,
          writes,
        }),
      );
      return { paid: false, reason: outcome.reason };
    case 'awaiting_payment':
      return { paid: false, reason: 'awaiting an offline payment' };
  }
};
