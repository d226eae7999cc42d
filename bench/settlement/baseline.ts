import type pg from 'pg';
import { performance } from 'node:perf_hooks';
import { yearIn } from '../../src/core/calendar.js';
import { toMajorText } from '../../src/core/money.js';
import { tenantCreditAccount } from '../../src/modules/credit-ledger/sources.js';
import { accountIdOf } from '../../src/modules/payg/instruments.js';
import { settlementActor } from '../../src/modules/payg/settle-day.js';
import { postAll, type Posting } from '../lib/ledger.js';
import { insertRows } from '../lib/sql.js';
import { baselineTenantsPerTransaction, settledDay } from './config.js';
import { lineDescription, type ExpectedDay } from './expected.js';

/** The baseline: the rows settlement writes for the day, computed beforehand from the spec and inserted directly. */

/** Time spent on each part of the baseline, in ms. */
export interface BaselinePhases {
  ledgerPostMs: number;
  insertMs: number;
  commitMs: number;
}

export const writeBaseline = async (client: pg.ClientBase, days: ExpectedDay[]): Promise<BaselinePhases> => {
  const phases: BaselinePhases = { ledgerPostMs: 0, insertMs: 0, commitMs: 0 };
  for (let start = 0; start < days.length; start += baselineTenantsPerTransaction) {
    const chunk = days.slice(start, start + baselineTenantsPerTransaction);
    const withRecord = chunk.filter((d) => d.record !== null);
    await client.query('begin');
    const posting = performance.now();
    await postAll(
      client,
      chunk.flatMap(({ tenant, lines }) =>
        lines.flatMap((line) =>
          line.deductions.map((d): Posting => ({
            tenantId: tenant.id,
            transactionId: d.transactionId,
            type: 'debit',
            amount: d.amount,
            source: 'payg_deduction',
            sourceId: `${line.appId}/${line.billingKey}/${settledDay}`,
            remark: lineDescription(line),
            at: tenant.dayEnd,
            currency: tenant.currency,
            account: d.instrumentId === 'cash' ? tenantCreditAccount : accountIdOf(d.instrumentId),
          })),
        ),
      ),
    );
    phases.ledgerPostMs += performance.now() - posting;
    const inserting = performance.now();
    await insertRows(
      client,
      'billing_records',
      [
        'tenant_id',
        'id',
        'app_id',
        'type',
        'status',
        'currency',
        'description',
        'amount',
        'tax_amount',
        'total_amount',
        'invoice_number',
        'search_text',
        'created_at',
        'finalized_at',
        // Due on receipt, as settlement's own records are at payment terms 0.
        'due_at',
        'updated_at',
      ],
      withRecord.map(({ tenant, record }) => [
        tenant.id,
        record!.id,
        null,
        'payg',
        'pending',
        tenant.currency,
        record!.description,
        record!.owed,
        0n,
        record!.owed,
        record!.invoiceNumber,
        record!.searchText,
        tenant.dayEnd,
        tenant.dayEnd,
        tenant.dayEnd,
        tenant.dayEnd,
      ]),
    );
    await insertRows(
      client,
      'billing_record_lines',
      [
        'tenant_id',
        'record_id',
        'line_no',
        'description',
        'resource_type',
        'quantity',
        'unit_price',
        'amount',
        'tax_rate',
        'tax_amount',
      ],
      withRecord.flatMap(({ tenant, record, lines }) =>
        lines
          .filter((line) => line.owed > 0n)
          .map((line, index) => [
            tenant.id,
            record!.id,
            index + 1,
            lineDescription(line),
            line.billingKey,
            1n,
            toMajorText(line.owed, tenant.currency),
            line.owed,
            '0',
            0n,
          ]),
      ),
    );
    await insertRows(
      client,
      'billing_record_events',
      ['tenant_id', 'record_id', 'seq', 'from_status', 'to_status', 'actor', 'reason', 'occurred_at'],
      withRecord.flatMap(({ tenant, record }) => [
        [tenant.id, record!.id, 1, null, 'draft', settlementActor, null, tenant.dayEnd],
        [tenant.id, record!.id, 2, 'draft', 'pending', settlementActor, null, tenant.dayEnd],
      ]),
    );
    await insertRows(
      client,
      'invoice_sequences',
      ['tenant_id', 'year', 'last_seq'],
      withRecord.map(({ tenant }) => [tenant.id, yearIn(tenant.dayEnd, tenant.timeZone), 1]),
    );
    await insertRows(
      client,
      'payg_settlements',
      ['tenant_id', 'settled_day', 'lines', 'record_id', 'settled_at'],
      chunk.map(({ tenant, lines, record }) => [
        tenant.id,
        settledDay,
        lines.length,
        record?.id ?? null,
        tenant.dayEnd,
      ]),
    );
    await insertRows(
      client,
      'payg_settlement_lines',
      [
        'tenant_id',
        'settled_day',
        'app_id',
        'billing_key',
        'consumption',
        'unit_price',
        'origin_amount',
        'billing_result',
        'coupon_amount',
        'stored_card_amount',
        'cash_amount',
        'cloud_marketplace_amount',
        'owe_amount',
        'currency',
        'settled_at',
      ],
      chunk.flatMap(({ tenant, lines }) =>
        lines.map((line) => [
          tenant.id,
          settledDay,
          line.appId,
          line.billingKey,
          line.quantity,
          line.unitPrice,
          line.origin,
          line.payable,
          line.paid.coupon,
          line.paid.stored_card,
          line.paid.cash,
          line.paid.cloud_marketplace,
          line.owed,
          tenant.currency,
          tenant.dayEnd,
        ]),
      ),
    );
    await insertRows(
      client,
      'payg_deductions',
      ['tenant_id', 'settled_day', 'app_id', 'billing_key', 'seq', 'instrument_id', 'amount', 'transaction_id'],
      chunk.flatMap(({ tenant, lines }) =>
        lines.flatMap((line) =>
          line.deductions.map((d, index) => [
            tenant.id,
            settledDay,
            line.appId,
            line.billingKey,
            index + 1,
            d.instrumentId,
            d.amount,
            d.transactionId,
          ]),
        ),
      ),
    );
    phases.insertMs += performance.now() - inserting;
    const committing = performance.now();
    await client.query('commit');
    phases.commitMs += performance.now() - committing;
  }
  return phases;
};
