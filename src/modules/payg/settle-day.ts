import { Decimal } from 'decimal.js';
import type { Insertable } from 'kysely';
import type { Temporal } from 'temporal-polyfill';
import { startOfDay } from '../../core/calendar.js';
import { clockAt } from '../../core/clock.js';
import { newId } from '../../core/ids.js';
import { toMajorText, majorToMinor } from '../../core/money.js';
import { planDeductions, usableInOrder, type PayingInstrument } from '../../core/payg-deduction.js';
import type { Db, DbTransaction } from '../../db/database.js';
import type { PaygDeductionsTable, PaygSettlementLinesTable, PaygSettlementsTable } from '../../db/schema.js';
import type { TenantScope } from '../../core/principal.js';
import { writeRecord } from '../billing-records/create-record.js';
import { postCreditTransaction } from '../credit-ledger/post-credit-transaction.js';
import { tenantCreditAccount } from '../credit-ledger/sources.js';
import type { TenantRow } from '../tenants/repository.js';
import { recordEvents } from '../events/record-event.js';
import { readBillingDetails } from './detail-list.js';
import { accountIdOf } from './instruments.js';
import { postDeductions, type DeductionPosting } from './post-deductions.js';

// Exact products of a count and a 10-decimal price.
const Exact = Decimal.clone({ precision: 60 });

export const settlementActor = 'payg-settlement';

/**
 * How a day's deductions reach the ledger: `together`, all in one statement, each as the plan
 * says (the plan is exact unless cash is spent by others meanwhile — then ledger_post refuses a
 * posting and settleDay throws {@link DeductionRefused}); `one-by-one`, a statement each, a
 * refused one owed and the next lines planned knowing it.
 */
export type PostingMode = 'together' | 'one-by-one';

/** A posting of the day was refused (cash spent by others meanwhile): roll back and settle the day one-by-one. */
export class DeductionRefused extends Error {
  constructor() {
    super('a pay-as-you-go deduction was refused: the balance changed meanwhile');
    this.name = 'DeductionRefused';
  }
}

/** The tenant's instruments and cash as they stand now, in one read. */
const payingInstruments = async (trx: Db, scope: TenantScope): Promise<PayingInstrument[]> => {
  const rows = await trx
    .selectFrom('ledger_accounts as a')
    .leftJoin('payg_instruments as i', (join) =>
      join.onRef('i.tenant_id', '=', 'a.tenant_id').onRef('i.account_id', '=', 'a.id'),
    )
    .select(['a.id as account_id', 'a.balance', 'i.id', 'i.kind', 'i.valid_from', 'i.valid_to', 'i.product_keys'])
    .where('a.tenant_id', '=', scope.tenantId)
    .where((eb) => eb.or([eb('a.id', '=', tenantCreditAccount), eb('i.id', 'is not', null)]))
    .execute();
  const instruments: PayingInstrument[] = [];
  let cash = 0n;
  for (const row of rows) {
    if (row.id === null || row.kind === null) {
      cash = row.balance;
      continue;
    }
    instruments.push({
      id: row.id,
      kind: row.kind,
      balance: row.balance,
      validFrom: row.valid_from,
      validTo: row.valid_to,
      productKeys: row.product_keys,
    });
  }
  // Deduction order does not depend on this list's order: usableInOrder sorts it completely.
  return [
    ...instruments,
    { id: 'cash', kind: 'cash', balance: cash, validFrom: null, validTo: null, productKeys: null },
  ];
};

// What one INSERT may carry: PostgreSQL takes at most 65,535 parameters a statement.
const maxParameters = 65_000;
const lineColumns = 15;
const deductionColumns = 8;

const chunksOf = <T>(rows: T[], size: number): T[][] => {
  const chunks: T[][] = [];
  for (let start = 0; start < rows.length; start += size) chunks.push(rows.slice(start, start + size));
  return chunks;
};

/**
 * The day's marker, lines and deductions: one statement (the marker and lines as CTEs; the
 * foreign keys are checked at its end), or, for a day too large for one, a statement per table
 * and chunk.
 */
const insertSettlement = async (
  trx: DbTransaction,
  marker: Insertable<PaygSettlementsTable>,
  lines: Insertable<PaygSettlementLinesTable>[],
  deductions: Insertable<PaygDeductionsTable>[],
): Promise<void> => {
  if (lines.length === 0) {
    await trx.insertInto('payg_settlements').values(marker).execute();
  } else if (lines.length * lineColumns + deductions.length * deductionColumns + lineColumns > maxParameters) {
    await trx.insertInto('payg_settlements').values(marker).execute();
    for (const chunk of chunksOf(lines, Math.floor(maxParameters / lineColumns))) {
      await trx.insertInto('payg_settlement_lines').values(chunk).execute();
    }
    for (const chunk of chunksOf(deductions, Math.floor(maxParameters / deductionColumns))) {
      await trx.insertInto('payg_deductions').values(chunk).execute();
    }
  } else if (deductions.length === 0) {
    await trx
      .with('marker', (db) => db.insertInto('payg_settlements').values(marker))
      .insertInto('payg_settlement_lines')
      .values(lines)
      .execute();
  } else {
    await trx
      .with('marker', (db) => db.insertInto('payg_settlements').values(marker))
      .with('lines', (db) => db.insertInto('payg_settlement_lines').values(lines))
      .insertInto('payg_deductions')
      .values(deductions)
      .execute();
  }
};

/**
 * Settles one day of a tenant's pay-as-you-go consumption. The caller holds the tenant row lock
 * and has found the day unsettled (the day after the last settled one); the day's marker row is
 * the guard all the same: a second settlement of the day fails on its key and writes nothing.
 * Per (app, product): the count, its price (payable, rounded half-up per line), then deductions
 * in order — coupons, stored-value cards, cash, cloud marketplace — each a ledger debit; what is
 * left is owed and goes on one pending `payg` record of the day. Everything is dated at the
 * midnight that ends the day.
 */
export const settleDay = async (
  trx: DbTransaction,
  tenant: TenantRow,
  day: Temporal.PlainDate,
  mode: PostingMode = 'together',
): Promise<void> => {
  const scope = { tenantId: tenant.id };
  const settledDay = day.toString();
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
  const postings: DeductionPosting[] = [];
  const instruments = consumption.length === 0 ? [] : await payingInstruments(trx, scope);
  for (const item of consumption) {
    const origin = new Exact(item.quantity.toString()).times(item.unit_price);
    const payable = majorToMinor(origin.toFixed(), tenant.currency, Decimal.ROUND_HALF_UP);
    const ordered = usableInOrder(instruments, item.billing_key, dayStart, dayEnd);
    const plan = planDeductions(payable, ordered);
    const paid = { coupon: 0n, stored_card: 0n, cash: 0n, cloud_marketplace: 0n };
    const deductions = [];
    let owed = plan.owed;
    const sourceId = `${item.app_id}/${item.billing_key}/${settledDay}`;
    const remark = `${item.display_name} on ${settledDay} (${item.app_id})`;
    for (const allocation of plan.allocations) {
      const accountId = allocation.kind === 'cash' ? tenantCreditAccount : accountIdOf(allocation.instrumentId);
      let transactionId: string;
      if (mode === 'together') {
        // Posted with the rest of the day below; a refusal there rolls the day back.
        transactionId = newId('creditTransaction');
        postings.push({ transactionId, amount: allocation.amount, sourceId, remark, accountId });
      } else {
        const posted = await postCreditTransaction(trx, clock, scope, {
          type: 'debit',
          amount: allocation.amount,
          source: 'payg_deduction',
          sourceId,
          remark,
          currency: tenant.currency,
          ...(allocation.kind === 'cash' ? {} : { accountId }),
        });
        // Only cash can be spent by others meanwhile (an invoice payment): then that part is owed.
        if (!posted.ok) {
          owed += allocation.amount;
          continue;
        }
        transactionId = posted.value.id;
      }
      paid[allocation.kind] += allocation.amount;
      deductions.push({ instrumentId: allocation.instrumentId, amount: allocation.amount, transactionId });
      const instrument = instruments.find((candidate) => candidate.id === allocation.instrumentId);
      if (instrument !== undefined) instrument.balance -= allocation.amount;
    }
    lines.push({ item, origin: origin.toFixed(), payable, paid, owed, deductions });
    if (owed > 0n) owedLines.push({ description: remark, billingKey: item.billing_key, owed });
  }
  if (postings.length > 0) {
    const balances = await postDeductions({ trx, scope, currency: tenant.currency, at: clock.now(), postings });
    if (balances.some((balance) => balance === null)) throw new DeductionRefused();
  }

  let recordId: string | null = null;
  if (owedLines.length > 0) {
    const written = await writeRecord({
      trx,
      clock,
      scope,
      draft: {
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
        tenant,
      },
      actor: settlementActor,
    });
    if (!written.ok) throw written.error;
    recordId = written.value.recordId;
  }
  await insertSettlement(
    trx,
    { tenant_id: tenant.id, settled_day: settledDay, lines: lines.length, record_id: recordId, settled_at: dayEnd },
    lines.map(({ item, origin, payable, paid, owed }) => ({
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
    })),
    lines.flatMap(({ item, deductions }) =>
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
    ),
  );
  // A day with consumption is told of, its lines as the detail list shows them; an empty day is not.
  if (lines.length > 0) {
    const details = await readBillingDetails(trx, { tenantId: tenant.id, appId: null }, day, day);
    await recordEvents(trx, scope, [
      { type: 'payg.day_settled', at: dayEnd, data: { settled_day: settledDay, record_id: recordId, lines: details } },
    ]);
  }
};
