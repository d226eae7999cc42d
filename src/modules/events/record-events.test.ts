import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { maxMinorAmount, toMajorNumber } from '../../core/money.js';
import { eventsOf, eventTypesOf, onlyEvent } from '../../testing/billing-events.js';
import { givenApp, givenTenant } from '../../testing/fixtures.js';
import { createTestApp, testStart, type TestApp } from '../../testing/test-app.js';

let t: TestApp;
let keySeq = 0;
let tenantSeq = 0;

beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t.close());
beforeEach(() => t.clock.set(testStart));

const givenFreshTenant = async (): Promise<string> => {
  const tenantId = `tnt_record_events_${++tenantSeq}`;
  await givenTenant(t, tenantId);
  await givenApp(t, tenantId, `app_record_events_${tenantSeq}`);
  return tenantId;
};

const post = async (url: string, payload?: Record<string, unknown>) =>
  t.app.inject({
    method: 'POST',
    url,
    headers: { ...(await t.as.platformAdmin()), 'idempotency-key': `record-events-${++keySeq}` },
    ...(payload === undefined ? {} : { payload }),
  });

const expectOk = (response: LightMyRequestResponse, status = 200): Record<string, unknown> => {
  expect(response.statusCode, response.body).toBe(status);
  return response.json<{ data: Record<string, unknown> }>().data;
};

/** A record's detail answer without its detail-only fields: the record as the lists show it. */
const recordView = (detail: Record<string, unknown>) => {
  const { status_history: _history, finalized_at: _finalized, amount_paid: _paid, ...view } = detail;
  return view;
};

const createRecord = async (tenantId: string, finalize: boolean) =>
  expectOk(
    await post(`/admin/records/${tenantId}`, {
      app_id: `app_record_events_${tenantSeq}`,
      type: 'one_time',
      description: 'Setup fee',
      lines: [{ description: 'Setup', resource_type: 'setup', quantity: 2, unit_price: 50.25 }],
      finalize,
    }),
    201,
  );

const act = async (tenantId: string, recordId: string, action: string, payload?: Record<string, unknown>) =>
  post(`/admin/records/${tenantId}/${recordId}/${action}`, payload);

const creditTransactions = async (tenantId: string) => {
  const response = await t.app.inject({
    url: `/billing/credit-transactions/${tenantId}`,
    headers: await t.as.tenant(tenantId),
  });
  expect(response.statusCode, response.body).toBe(200);
  return response.json<{ items: Record<string, unknown>[] }>().items;
};

describe('billing record events', () => {
  it('finalize, payment failed, retry, paid, refunded: one event each with the record as the API answered', async () => {
    const tenantId = await givenFreshTenant();
    const draft = await createRecord(tenantId, false);
    const recordId = draft.record_id as string;
    expect(await eventsOf(t, tenantId)).toEqual([]);

    const steps: [string, string | undefined][] = [
      ['finalize', 'billing_record.finalized'],
      ['mark-failed', 'billing_record.payment_failed'],
      ['retry', undefined],
      ['mark-paid', 'billing_record.paid'],
      ['refund', 'billing_record.refunded'],
    ];
    for (const [action, type] of steps) {
      t.clock.advance(60_000);
      const before = await eventsOf(t, tenantId);
      const answered = recordView(expectOk(await act(tenantId, recordId, action)));
      if (type === undefined) {
        expect(await eventsOf(t, tenantId), `${action} tells nothing`).toEqual(before);
        continue;
      }
      const event = await onlyEvent(t, tenantId, type);
      expect(event.data, action).toEqual(answered);
      expect(event.app_id).toBe(answered.app_id);
      expect(event.created_at).toBe(t.clock.now().toISOString().replace('.000Z', 'Z'));
    }
    // The refund's credit is a credit transaction, told of with it.
    const [refundCredit] = await creditTransactions(tenantId);
    expect((await onlyEvent(t, tenantId, 'credit_transaction.created')).data).toEqual(refundCredit);
    expect(await eventTypesOf(t, tenantId)).toEqual([
      'billing_record.finalized',
      'billing_record.payment_failed',
      'billing_record.paid',
      'billing_record.refunded',
      'credit_transaction.created',
    ]);
  });

  it('a record finalised on creation is finalized once; a draft is nothing', async () => {
    const tenantId = await givenFreshTenant();
    await createRecord(tenantId, false);
    expect(await eventsOf(t, tenantId)).toEqual([]);
    const created = await createRecord(tenantId, true);
    const read = recordView(
      expectOk(
        await t.app.inject({
          url: `/billing/records/${tenantId}/${created.record_id as string}`,
          headers: await t.as.tenant(tenantId),
        }),
      ),
    );
    expect((await onlyEvent(t, tenantId, 'billing_record.finalized')).data).toEqual(read);
  });

  it('paying from the balance: the debit, then the record paid; a part payment is only the debit', async () => {
    const tenantId = await givenFreshTenant();
    expectOk(await post(`/admin/credits/${tenantId}/promo`, { amount: 500 }), 201);
    const recordId = (await createRecord(tenantId, true)).record_id as string;
    expectOk(await act(tenantId, recordId, 'pay-from-balance', { amount: 10 }));
    expect(await eventTypesOf(t, tenantId)).toEqual([
      'credit_transaction.created',
      'billing_record.finalized',
      'credit_transaction.created',
    ]);
    const paid = recordView(expectOk(await act(tenantId, recordId, 'pay-from-balance')));
    expect((await onlyEvent(t, tenantId, 'billing_record.paid')).data).toEqual(paid);
    const credits = await eventsOf(t, tenantId, 'credit_transaction.created');
    // Each credit event is the transaction as the list shows it (the list is newest first).
    expect(credits.map((event) => event.data)).toEqual((await creditTransactions(tenantId)).reverse());
    expect(credits.map((event) => event.data.balance)).toEqual([500, 490, 500 - 106.53]);
  });

  it('a refused payment, an illegal move and a refund whose credit is refused write no event', async () => {
    const tenantId = await givenFreshTenant();
    const recordId = (await createRecord(tenantId, true)).record_id as string;
    const before = await eventsOf(t, tenantId);
    const refusedPayment = await act(tenantId, recordId, 'pay-from-balance');
    expect(refusedPayment.statusCode, refusedPayment.body).toBe(422);
    const illegal = await act(tenantId, recordId, 'refund');
    expect(illegal.statusCode, illegal.body).toBe(409);
    expect(await eventsOf(t, tenantId)).toEqual(before);

    // The refund moves the record, then its credit would take the balance above the largest amount:
    // the action's Result fails and its savepoint takes the move and its event back.
    expectOk(await act(tenantId, recordId, 'mark-paid'));
    // The largest whole CNY amount a single posting may carry.
    const maxMajor = toMajorNumber(maxMinorAmount - (maxMinorAmount % 100n), 'CNY');
    expectOk(await post(`/admin/credits/${tenantId}/promo`, { amount: maxMajor }), 201);
    const paidEvents = await eventsOf(t, tenantId);
    const refund = await act(tenantId, recordId, 'refund');
    expect(refund.statusCode, refund.body).toBe(422);
    expect(await eventsOf(t, tenantId)).toEqual(paidEvents);
    const read = await t.app.inject({
      url: `/billing/records/${tenantId}/${recordId}`,
      headers: await t.as.tenant(tenantId),
    });
    expect(expectOk(read).status).toBe('paid');
  });
});
