import type { RecordStatus } from '../../db/schema.js';
import type { EventType } from '../events/event-types.js';
import type { NewEvent } from '../events/record-event.js';
import type { LineRow, NewRecordWithLines, RecordRow } from './repository.js';
import { toRecordView } from './view.js';

/** The event of a status move, if clients are told of it (a failed record going back to pending is not). */
const moveTypes: Partial<Record<RecordStatus, EventType>> = {
  paid: 'billing_record.paid',
  failed: 'billing_record.payment_failed',
  refunded: 'billing_record.refunded',
};

const moveType = (from: RecordStatus | null | undefined, to: RecordStatus): EventType | undefined =>
  to === 'pending' ? (from === 'draft' ? 'billing_record.finalized' : undefined) : moveTypes[to];

/** Whether clients are told of this status move (so its event needs the record's lines read). */
export const isToldMove = (move: { from_status?: RecordStatus | null | undefined; to_status: RecordStatus }): boolean =>
  moveType(move.from_status, move.to_status) !== undefined;

/** Only what a record's view reads of its lines: held lines (not written yet) render the same as read ones. */
type ViewLine = Omit<LineRow, 'tenant_id' | 'record_id'>;

/** The event of a status move to `record` (as the move leaves it), with the record as the API shows it. */
export const recordMoveEvent = (
  record: RecordRow,
  lines: readonly ViewLine[],
  move: { from_status?: RecordStatus | null | undefined; to_status: RecordStatus; occurred_at: Date },
): NewEvent | undefined => {
  const type = moveType(move.from_status, move.to_status);
  if (type === undefined) return undefined;
  const data = toRecordView({ ...record, lines: lines as LineRow[] });
  return { type, appId: record.app_id, at: move.occurred_at, data };
};

/** The events of a record written with its first history (finalised on creation: `finalized`). */
export const newRecordEvents = (tenantId: string, written: NewRecordWithLines): NewEvent[] => {
  const record = {
    amount_paid: 0n,
    due_at: null,
    overdue_at: null,
    ...written.record,
    tenant_id: tenantId,
  } as RecordRow;
  return written.events.flatMap((move) => recordMoveEvent(record, written.lines as ViewLine[], move) ?? []);
};
