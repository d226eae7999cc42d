import type { Clock } from '../../core/clock.js';
import { isValidRate, maxRateDecimals } from '../../core/decimal.js';
import { AppError, invalidParameter, notFound } from '../../core/errors.js';
import { newId } from '../../core/ids.js';
import { priceLine, sumLines } from '../../core/invoice-math.js';
import { decimalOf, maxMinorAmount } from '../../core/money.js';
import { fail, ok, type Result } from '../../core/result.js';
import type { Db } from '../../db/database.js';
import type { RecordType } from '../../db/schema.js';
import { findApp } from '../apps/repository.js';
import type { TenantScope } from '../auth/principal.js';
import { findTenant } from '../tenants/repository.js';
import { finalizeRecord } from './finalize-record.js';
import { appendEvent, insertRecord } from './repository.js';
import type { CreateRecordInput } from './schemas.js';
import { buildSearchText } from './search-text.js';

const maxUnitPriceDecimals = 10;

/** A record from the admin API: checks what the schema cannot, then writes it. Nothing is written if any line is invalid. */
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

  const lines: RecordLineInput[] = [];
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
    lines.push({
      description: line.description,
      resourceType: line.resource_type,
      quantity: BigInt(line.quantity),
      unitPrice: unitPrice.toFixed(),
      taxRate: line.tax_rate === undefined ? tenant.tax_rate : String(line.tax_rate),
    });
  }
  const written = await writeRecord(
    trx,
    clock,
    scope,
    {
      appId: input.app_id ?? null,
      type: input.type,
      description: input.description,
      currency: tenant.currency,
      lines,
      finalize: input.finalize === true,
    },
    actor,
  );
  if (!written.ok && written.error.type === 'unprocessable') {
    return fail(invalidParameter('body', 'lines', 'add up to more than the largest amount an invoice can carry'));
  }
  return written;
};

/** A line in storage terms: exact decimal text for the unit price and the tax rate. */
export interface RecordLineInput {
  description: string;
  resourceType: string;
  quantity: bigint;
  unitPrice: string;
  taxRate: string;
}

export interface RecordDraft {
  appId: string | null;
  type: RecordType;
  description: string;
  currency: string;
  lines: RecordLineInput[];
  finalize: boolean;
}

/**
 * Prices every line (rounded half-up per line), writes the draft with its lines and a first
 * history entry, and finalises it at once when asked. The record is dated by the clock.
 */
export const writeRecord = async (
  trx: Db,
  clock: Clock,
  scope: TenantScope,
  draft: RecordDraft,
  actor: string,
): Promise<Result<{ recordId: string }>> => {
  const lines = draft.lines.map((line) => ({ ...line, ...priceLine(line, draft.currency) }));
  const totals = sumLines(lines);
  if (totals.totalAmount > maxMinorAmount) {
    return fail(new AppError('unprocessable', 'the lines add up to more than the largest amount an invoice can carry'));
  }

  const now = clock.now();
  const id = newId('record');
  await insertRecord(
    trx,
    scope,
    {
      id,
      app_id: draft.appId,
      type: draft.type,
      status: 'draft',
      currency: draft.currency,
      description: draft.description,
      amount: totals.amount,
      tax_amount: totals.taxAmount,
      total_amount: totals.totalAmount,
      invoice_number: null,
      search_text: buildSearchText([id, draft.description, ...draft.lines.map((line) => line.description)]),
      created_at: now,
      finalized_at: null,
      updated_at: now,
    },
    lines.map((line, index) => ({
      line_no: index + 1,
      description: line.description,
      resource_type: line.resourceType,
      quantity: line.quantity,
      unit_price: line.unitPrice,
      amount: line.amount,
      tax_rate: line.taxRate,
      tax_amount: line.taxAmount,
    })),
  );
  await appendEvent(trx, scope, id, { from_status: null, to_status: 'draft', actor, reason: null, occurred_at: now });
  if (draft.finalize) {
    const finalized = await finalizeRecord(trx, clock, scope, id, actor);
    if (!finalized.ok) return finalized;
  }
  return ok({ recordId: id });
};
