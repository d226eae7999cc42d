import type { Clock } from '../../core/clock.js';
import { isValidRate, maxRateDecimals } from '../../core/decimal.js';
import { invalidParameter, notFound } from '../../core/errors.js';
import { newId } from '../../core/ids.js';
import { priceLine, sumLines } from '../../core/invoice-math.js';
import { decimalOf, maxMinorAmount } from '../../core/money.js';
import { fail, ok, type Result } from '../../core/result.js';
import type { Db } from '../../db/database.js';
import { findApp } from '../apps/repository.js';
import type { TenantScope } from '../auth/principal.js';
import { findTenant } from '../tenants/repository.js';
import { finalizeRecord } from './finalize-record.js';
import { appendEvent, insertRecord } from './repository.js';
import type { CreateRecordInput } from './schemas.js';
import { buildSearchText } from './search-text.js';

const maxUnitPriceDecimals = 10;

/**
 * Prices every line (rounded half-up per line), writes the draft with its lines and a first
 * history entry, and finalises it at once when asked. Nothing is written if any line is invalid.
 */
export const createRecord = async (
  trx: Db,
  clock: Clock,
  scope: TenantScope,
  input: CreateRecordInput,
  actor: string,
): Promise<Result<{ recordId: string }>> => {
  const tenant = await findTenant(trx, scope);
  if (tenant === undefined) return fail(notFound('tenant'));
  if (input.app_id !== undefined && (await findApp(trx, scope, input.app_id)) === undefined) {
    return fail(invalidParameter('body', 'app_id', 'names no app of this tenant'));
  }

  const lines = [];
  for (const [index, line] of input.lines.entries()) {
    const unitPrice = decimalOf(line.unit_price);
    if (unitPrice.decimalPlaces() > maxUnitPriceDecimals) {
      return fail(
        invalidParameter('body', `lines.${index}.unit_price`, `has more than ${maxUnitPriceDecimals} decimals`),
      );
    }
    if (line.tax_rate !== undefined && !isValidRate(line.tax_rate)) {
      return fail(
        invalidParameter(
          'body',
          `lines.${index}.tax_rate`,
          `must be in [0, 1) with at most ${maxRateDecimals} decimals`,
        ),
      );
    }
    const taxRate = line.tax_rate === undefined ? tenant.tax_rate : String(line.tax_rate);
    const pricing = { quantity: BigInt(line.quantity), unitPrice: unitPrice.toFixed(), taxRate };
    lines.push({ ...pricing, ...priceLine(pricing, tenant.currency), line });
  }
  const totals = sumLines(lines);
  if (totals.totalAmount > maxMinorAmount) {
    return fail(invalidParameter('body', 'lines', 'add up to more than the largest amount an invoice can carry'));
  }

  const now = clock.now();
  const id = newId('record');
  await insertRecord(
    trx,
    scope,
    {
      id,
      app_id: input.app_id ?? null,
      type: input.type,
      status: 'draft',
      currency: tenant.currency,
      description: input.description,
      amount: totals.amount,
      tax_amount: totals.taxAmount,
      total_amount: totals.totalAmount,
      invoice_number: null,
      search_text: buildSearchText([id, input.description, ...input.lines.map((line) => line.description)]),
      created_at: now,
      finalized_at: null,
      updated_at: now,
    },
    lines.map(({ line, quantity, unitPrice, taxRate, amount, taxAmount }, index) => ({
      line_no: index + 1,
      description: line.description,
      resource_type: line.resource_type,
      quantity,
      unit_price: unitPrice,
      amount,
      tax_rate: taxRate,
      tax_amount: taxAmount,
    })),
  );
  await appendEvent(trx, scope, id, { from_status: null, to_status: 'draft', actor, reason: null, occurred_at: now });
  if (input.finalize === true) {
    const finalized = await finalizeRecord(trx, clock, scope, id, actor);
    if (!finalized.ok) return finalized;
  }
  return ok({ recordId: id });
};
