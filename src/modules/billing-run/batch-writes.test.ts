import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postCreditTransaction, type CreditMovement } from '../credit-ledger/post-credit-transaction.js';
import { findCreditAccount } from '../credit-ledger/repository.js';
import { givenTenant } from '../../testing/fixtures.js';
import { createTestApp, type TestApp } from '../../testing/test-app.js';
import type { DbTransaction } from '../../db/database.js';
import { BatchWrites } from './batch-writes.js';

/*
 * A billing run batch's credit postings: held until the batch writes, checked by ledger_post then;
 * one refused there (the balance spent meanwhile) fails the whole batch and writes nothing.
 */

let t: TestApp;
const scope = { tenantId: 'tnt_batch_writes' };
const payment = (amount: bigint): CreditMovement => ({
  type: 'debit',
  amount,
  source: 'invoice_payment',
  sourceId: 'rec_batchwrites00001',
  remark: 'Payment of INV-2026-001',
  currency: 'CNY',
});

const balance = async () => (await findCreditAccount(t.database.db, scope))?.balance;

/** Runs `work` in a transaction that is then rolled back; anything `work` throws fails the test. */
const inRolledBackTransaction = async (work: (trx: DbTransaction) => Promise<void>) => {
  const rollBack = new Error('roll back');
  const outcome = await t.database.db
    .transaction()
    .execute(async (trx) => {
      await work(trx);
      throw rollBack;
    })
    .catch((error: unknown) => error);
  expect(outcome).toBe(rollBack);
};

beforeAll(async () => {
  t = await createTestApp();
  await givenTenant(t, scope.tenantId);
  const credited = await t.database.db.transaction().execute((trx) =>
    postCreditTransaction(trx, t.clock, scope, {
      ...payment(10_000n),
      type: 'credit',
      source: 'promo',
      sourceId: null,
      remark: 'welcome credit',
    }),
  );
  expect(credited.ok).toBe(true);
});
afterAll(() => t.close());

describe('BatchWrites credit postings', () => {
  it('are held until the batch writes, then posted through ledger_post', async () => {
    await inRolledBackTransaction(async (trx) => {
      const writes = new BatchWrites(true);
      expect((await writes.postCredit(trx, t.clock, scope, payment(8_000n))).ok).toBe(true);
      expect((await findCreditAccount(trx, scope))?.balance).toBe(10_000n);
      await writes.flush(trx);
      expect((await findCreditAccount(trx, scope))?.balance).toBe(2_000n);
    });
    expect(await balance()).toBe(10_000n);
  });

  it('fail the batch when the balance was spent meanwhile, and nothing of it is written', async () => {
    const run = t.database.db.transaction().execute(async (trx) => {
      const writes = new BatchWrites(true);
      expect((await writes.postCredit(trx, t.clock, scope, payment(8_000n))).ok).toBe(true);
      // Someone else spends most of the balance before the batch writes.
      expect((await postCreditTransaction(trx, t.clock, scope, payment(5_000n))).ok).toBe(true);
      await writes.flush(trx);
    });
    await expect(run).rejects.toThrow(/tnt_batch_writes was spent meanwhile/);
    expect(await balance()).toBe(10_000n);
  });

  it('go out at once in a batch of one, which can still fall back to the payment method', async () => {
    await inRolledBackTransaction(async (trx) => {
      const writes = new BatchWrites(false);
      expect((await writes.postCredit(trx, t.clock, scope, payment(8_000n))).ok).toBe(true);
      expect((await findCreditAccount(trx, scope))?.balance).toBe(2_000n);
      const refused = await writes.postCredit(trx, t.clock, scope, payment(5_000n));
      expect(refused.ok ? null : refused.error.type).toBe('insufficient_balance');
    });
    expect(await balance()).toBe(10_000n);
  });
});
