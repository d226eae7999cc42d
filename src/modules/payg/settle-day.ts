import { Decimal } from 'decimal.js';
import type { Temporal } from 'temporal-polyfill';
import { startOfDay } from '../../core/calendar.js';
import { clockAt } from '../../core/clock.js';
import { toMajorText, majorToMinor } from '../../core/money.js';
import { planDeductions, usableInOrder, type PayingInstrument } from '../../core/payg-deduction.js';
import type { Db } from '../../db/database.js';
import type { TenantScope } from '../auth/principal.js';
import { writeRecord } from '../billing-records/create-record.js';
import { findCreditAccount } from '../credit-ledger/repository.js';
import { postCreditTransaction } from '../credit-ledger/post-credit-transaction.js';
import type { TenantRow } from '../tenants/repository.js';
import { accountIdOf } from './instruments.js';

// Exact products of a count and a 10-decimal price.
const Exact = Decimal.clone({ precision: 60 });

export const settlementActor = 'payg-settlement';

/** The tenant's instruments as they stand now, cash included. */
const payingInstruments = async (trx: Db, scope: TenantScope): Promise<PayingInstrument[]> => {
  const rows = await trx
    .selectFrom('payg_instruments as i')
    .innerJoin('ledger_accounts as a', (join) =>
      join.onRef('a.tenant_id', '=', 'i.tenant_id').onRef('a.id', '=', 'i.account_id'),
    )
    .select(['i.id', 'i.kind', 'i.valid_from', 'i.valid_to', 'i.product_keys', 'a.balance'])
    .where('i.tenant_id', '=', scope.tenantId)
    .execute();
  const cash = await findCreditAccount(trx, scope);
  return [
    ...rows.map((row) => ({
      id: row.id,
      kind: row.kind,
      balance: row.balance,
      validFrom: row.valid_from,
      validTo: row.valid_to,
      productKeys: row.product_keys,
    })),
    { id: 'cash', kind: 'cash', balance: cash?.balance ?? 0n, validFrom: null, validTo: null, productKeys: null },
  ];
};

/**
 * Settles one day of a tenant's pay-as-you-go consumption, once: the day's marker row is the
 * guard (the caller holds the tenant row lock, so a concurrent runner waits and then finds it).
 * Per (app, product): the count, its price (payable, rounded half-up per line), then deductions
 * in order — coupons, stored-value cards, cash, cloud marketplace — each a ledger debit; what is
 * left is owed and goes on one pending `payg` record of the day. Everything is dated at the
 * midnight that ends the day.
 */
export const settleDay = async (trx: Db, tenant: TenantRow, day: Temporal.PlainDate): Promise<boolean> => {
  const scope = { tenantId: tenant.id };
  const settledDay = day.toString();
  const done = await trx
    .selectFrom('payg_settlements')
    .select('settled_day')
    .where('tenant_id', '=', tenant.id)
    .where('settled_day', '=', settledDay)
    .executeTakeFirst();
  if (done !== undefined) return false;
  const dayStart = startOfDay(day, tenant.time_zone);
  const dayEnd = startOfDay(day.add({ days: 1 }), tenant.time_zone);
  const clock = clockAt(dayEnd);

  const consumption = await trx
    .selectFrom('usage_daily as u')
    .innerJoin('payg_products as p', 'p.billing_key', 'u.resource_type')
    .select(['u.app_id', 'u.resource_type as billing_key', 'u.quantity', 'p.unit_price', 'p.display_name'])
    .where('u.tenant_id', '=', tenant.id)
    .where('u.usage_date', '=', settledDay)
    .where('u.quantity', '>', 0n)
    .orderBy('u.app_id')
    .orderBy('u.resource_type')
    .execute();

  const owedLines: { description: string; billingKey: string; owed: bigint }[] = [];
  const lines = [];
  const instruments = await payingInstruments(trx, scope);
  for (const item of consumption) {
    const origin = new Exact(item.quantity.toString()).times(item.unit_price);
    const payable = majorToMinor(origin.toFixed(), tenant.currency, Decimal.ROUND_HALF_UP);
    const ordered = usableInOrder(instruments, item.billing_key, dayStart, dayEnd);
    const plan = planDeductions(payable, ordered);
    const paid = { coupon: 0n, stored_card: 0n, cash: 0n, cloud_marketplace: 0n };
    const deductions = [];
    let owed = plan.owed;
    for (const allocation of plan.allocations) {
      const posted = await postCreditTransaction(trx, clock, scope, {
        type: 'debit',
        amount: allocation.amount,
        source: 'payg_deduction',
        sourceId: `${item.app_id}/${item.billing_key}/${settledDay}`,
        remark: `${item.display_name} on ${settledDay} (${item.app_id})`,
        currency: tenant.currency,
        ...(allocation.kind === 'cash' ? {} : { accountId: accountIdOf(allocation.instrumentId) }),
      });
      // Only cash can be spent by others meanwhile (an invoice payment): then that part is owed.
      if (!posted.ok) {
        owed += allocation.amount;
        continue;
      }
      paid[allocation.kind] += allocation.amount;
      deductions.push({
        instrumentId: allocation.instrumentId,
        amount: allocation.amount,
        transactionId: posted.value.id,
      });
      const instrument = instruments.find((candidate) => candidate.id === allocation.instrumentId);
      if (instrument !== undefined) instrument.balance -= allocation.amount;
    }
    lines.push({ item, origin: origin.toFixed(), payable, paid, owed, deductions });
    if (owed > 0n) {
      owedLines.push({
        description: `${item.display_name} on ${settledDay} (${item.app_id})`,
        billingKey: item.billing_key,
        owed,
      });
    }
  }

  let recordId: string | null = null;
  if (owedLines.length > 0) {
    const written = await writeRecord(
      trx,
      clock,
      scope,
      {
        appId: null,
        type: 'payg',
        description: `Pay-as-you-go ${settledDay}, owed after deductions`,
        currency: tenant.currency,
        // Pay-as-you-go prices are what instruments pay: tax included, none added on the owed part.
        lines: owedLines.map((line) => ({
          description: line.description,
          resourceType: line.billingKey,
          quantity: 1n,
          unitPrice: toMajorText(line.owed, tenant.currency),
          taxRate: '0',
        })),
        finalize: true,
      },
      settlementActor,
    );
    if (!written.ok) throw written.error;
    recordId = written.value.recordId;
  }
  await trx
    .insertInto('payg_settlements')
    .values({
      tenant_id: tenant.id,
      settled_day: settledDay,
      lines: lines.length,
      record_id: recordId,
      settled_at: dayEnd,
    })
    .execute();
  for (const { item, origin, payable, paid, owed, deductions } of lines) {
    await trx
      .insertInto('payg_settlement_lines')
      .values({
        tenant_id: tenant.id,
        settled_day: settledDay,
        app_id: item.app_id,
        billing_key: item.billing_key,
        consumption: item.quantity,
        unit_price: item.unit_price,
        origin_amount: origin,
        billing_result: payable,
        coupon_amount: paid.coupon,
        stored_card_amount: paid.stored_card,
        cash_amount: paid.cash,
        cloud_marketplace_amount: paid.cloud_marketplace,
        owe_amount: owed,
        currency: tenant.currency,
        settled_at: dayEnd,
      })
      .execute();
    if (deductions.length > 0) {
      await trx
        .insertInto('payg_deductions')
        .values(
          deductions.map((deduction, index) => ({
            tenant_id: tenant.id,
            settled_day: settledDay,
            app_id: item.app_id,
            billing_key: item.billing_key,
            seq: index + 1,
            instrument_id: deduction.instrumentId,
            amount: deduction.amount,
            transaction_id: deduction.transactionId,
          })),
        )
        .execute();
    }
  }
  return true;
};
