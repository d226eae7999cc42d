import { isValidRate, maxRateDecimals } from '../../core/decimal.js';
import { AppError, invalidParameter, notFound } from '../../core/errors.js';
import { newId } from '../../core/ids.js';
import { priceLine, sumLines } from '../../core/invoice-math.js';
import { decimalOf, maxMinorAmount } from '../../core/money.js';
import { fail, ok, type Result } from '../../core/result.js';
import type { RecordStatus, RecordType } from '../../db/schema.js';
import { findApp } from '../apps/repository.js';
import type { TenantRequest, TenantTransaction } from '../tenant-context.js';
import { findTenant } from '../tenants/repository.js';
import { finalizedSearchText, numberInvoice, type InvoicingTerms } from './finalize-record.js';
import { directRecordWrites, type RecordWrites } from './record-writes.js';
import type { NewRecordEvent, RecordRow } from './repository.js';
import type { CreateRecordInput } from './schemas.js';
import { buildSearchText } from './search-text.js';

const maxUnitPriceDecimals = 10;

/** A record from the admin API: checks what the schema cannot, then writes it. Nothing is written if any line is invalid. */
export const createRecord = async ({
  trx,
  clock,
  scope,
  input,
  actor,
}: TenantRequest<CreateRecordInput>): Promise<Result<{ recordId: string }>> => {
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
  const written = await writeRecord({
    trx,
    clock,
    scope,
    draft: {
      appId: input.app_id ?? null,
      type: input.type,
      description: input.description,
      currency: tenant.currency,
      lines,
      finalize: input.finalize === true,
      tenant,
    },
    actor,
  });
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
  /** The tenant's time zone (its invoice year) and payment terms, when the caller has the tenant at hand; read otherwise. */
  tenant?: InvoicingTerms;
}

export interface WriteRecordArgs extends TenantTransaction {
  draft: RecordDraft;
  actor: string;
  /** Where the number comes from and the record goes (a billing run's batch holds them). */
  writes?: RecordWrites | undefined;
}

/**
 * Prices every line (rounded half-up per line) and writes the record with its lines, as a draft
 * or, when asked, finalised at once: numbered and pending from the start, its history showing
 * both steps (created as a draft, finalised) at the same instant. The record is dated by the clock.
 */
export const writeRecord = async ({
  trx,
  clock,
  scope,
  draft,
  actor,
  writes = directRecordWrites,
}: WriteRecordArgs): Promise<Result<{ recordId: string; record: RecordRow }>> => {
  const lines = draft.lines.map((line) => ({ ...line, ...priceLine(line, draft.currency) }));
  const totals = sumLines(lines);
  if (totals.totalAmount > maxMinorAmount) {
    return fail(new AppError('unprocessable', 'the lines add up to more than the largest amount an invoice can carry'));
  }

  const now = clock.now();
  const id = newId('record');
  const searchText = buildSearchText([id, draft.description, ...draft.lines.map((line) => line.description)]);
  const created: NewRecordEvent = { from_status: null, to_status: 'draft', actor, reason: null, occurred_at: now };
  let final = {
    status: 'draft' as RecordStatus,
    invoice_number: null as string | null,
    search_text: searchText,
    finalized_at: null as Date | null,
    due_at: null as Date | null,
  };
  const events = [created];
  if (draft.finalize) {
    const finalization = await numberInvoice({ trx, scope, now, tenant: draft.tenant, writes });
    if (!finalization.ok) return finalization;
    const { invoiceNumber, dueAt } = finalization.value;
    final = {
      status: 'pending',
      invoice_number: invoiceNumber,
      search_text: finalizedSearchText(invoiceNumber, searchText),
      finalized_at: now,
      due_at: dueAt,
    };
    events.push({ ...created, from_status: 'draft', to_status: 'pending' });
  }
  const record = {
    id,
    app_id: draft.appId,
    type: draft.type,
    currency: draft.currency,
    description: draft.description,
    amount: totals.amount,
    tax_amount: totals.taxAmount,
    total_amount: totals.totalAmount,
    ...final,
    created_at: now,
    updated_at: now,
  };
  await writes.insertRecord(trx, scope, {
    record,
    lines: lines.map((line, index) => ({
      line_no: index + 1,
      description: line.description,
      resource_type: line.resourceType,
      quantity: line.quantity,
      unit_price: line.unitPrice,
      amount: line.amount,
      tax_rate: line.taxRate,
      tax_amount: line.taxAmount,
    })),
    events,
  });
  // The row as written (amount_paid is its default), for a caller that goes on to collect it.
  return ok({ recordId: id, record: { ...record, tenant_id: scope.tenantId, amount_paid: 0n, overdue_at: null } });
};
