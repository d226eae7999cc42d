import { toRfc3339 } from '../../core/clock.js';
import { toMajorNumber } from '../../core/money.js';
import type { EventRow, LineRow, RecordWithLines } from './repository.js';
import type { BillingRecordDetailView, BillingRecordView } from './schemas.js';

const instant = (value: Date | null): string | null => (value === null ? null : toRfc3339(value));

const toLineView = (line: LineRow, currency: string) => ({
  amount: toMajorNumber(line.amount, currency),
  description: line.description,
  quantity: Number(line.quantity),
  resource_type: line.resource_type,
  tax_amount: toMajorNumber(line.tax_amount, currency),
  tax_rate: Number(line.tax_rate),
  // Unit prices arrive as JSON numbers and are stored as their exact decimal text, so this
  // gives back the very number that was sent. Amounts use the minor-unit conversion instead.
  unit_price: Number(line.unit_price),
});

export const toRecordView = (record: RecordWithLines): BillingRecordView => ({
  amount: toMajorNumber(record.amount, record.currency),
  app_id: record.app_id,
  created_at: toRfc3339(record.created_at),
  currency: record.currency,
  description: record.description,
  invoice_number: record.invoice_number,
  line_items: record.lines.map((line) => toLineView(line, record.currency)),
  record_id: record.id,
  status: record.status,
  tenant_id: record.tenant_id,
  type: record.type,
  tax_amount: toMajorNumber(record.tax_amount, record.currency),
  total_amount: toMajorNumber(record.total_amount, record.currency),
  due_at: instant(record.due_at),
  overdue_at: instant(record.overdue_at),
});

export const toRecordDetailView = (record: RecordWithLines & { events: EventRow[] }): BillingRecordDetailView => ({
  ...toRecordView(record),
  finalized_at: instant(record.finalized_at),
  amount_paid: toMajorNumber(record.amount_paid, record.currency),
  status_history: record.events.map((event) => ({
    from_status: event.from_status,
    to_status: event.to_status,
    actor: event.actor,
    reason: event.reason,
    occurred_at: toRfc3339(event.occurred_at),
  })),
});
