import type { DbTransaction } from '../../db/database.js';
import { eventRow } from '../events/record-event.js';
import { insertEvents } from '../events/repository.js';
import { linesOfRecords, markOverdueRecords, type OverdueCandidates } from './repository.js';
import { toRecordView } from './view.js';

const byText = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * One batch of `billing_record.overdue`: up to `limit` records unpaid after their due date are
 * marked overdue as of `asOf` (each once: the mark is the marker) and their events written in one
 * statement, dated `asOf`, each with the record as the API now shows it. Records another
 * transaction holds are skipped, so concurrent callers write each event once. Returns how many.
 */
export const sendOverdueBatch = async (trx: DbTransaction, candidates: OverdueCandidates): Promise<number> => {
  const marked = await markOverdueRecords(trx, candidates);
  if (marked.length === 0) return 0;
  // In a fixed order (RETURNING has none): each tenant's records by due date.
  marked.sort(
    (a, b) =>
      byText(a.tenant_id, b.tenant_id) || (a.due_at?.getTime() ?? 0) - (b.due_at?.getTime() ?? 0) || byText(a.id, b.id),
  );
  const lines = await linesOfRecords(trx, marked);
  await insertEvents(
    trx,
    marked.map((record) =>
      eventRow(
        { tenantId: record.tenant_id },
        {
          type: 'billing_record.overdue',
          appId: record.app_id,
          at: candidates.asOf,
          data: toRecordView({ ...record, lines: lines.get(`${record.tenant_id}|${record.id}`) ?? [] }),
        },
      ),
    ),
  );
  return marked.length;
};

/** Every record of one tenant that is overdue at `asOf`, in its caller's transaction (the request path). */
export const sendTenantOverdueReminders = async (trx: DbTransaction, tenantId: string, asOf: Date): Promise<number> => {
  const limit = 100;
  let sent = 0;
  for (;;) {
    const batch = await sendOverdueBatch(trx, { asOf, limit, tenantIds: [tenantId] });
    sent += batch;
    if (batch < limit) return sent;
  }
};
