import { Readable } from 'node:stream';
import type { Clock } from '../../core/clock.js';
import { toRfc3339 } from '../../core/clock.js';
import { notFound } from '../../core/errors.js';
import { newId } from '../../core/ids.js';
import { fail, ok, type Result } from '../../core/result.js';
import type { Db } from '../../db/database.js';
import { eventRow } from '../events/record-event.js';
import { insertEvents } from '../events/repository.js';
import type { TenantRow } from '../tenants/repository.js';
import { sections, type ExportKind } from './sections.js';

export interface ExportRequest {
  userId: string;
  tenantId: string | undefined;
  requestedBy: string;
}

type RowCounts = Record<ExportKind, number>;

/** Everything the user administers: every tenant whose admin the user is, or the one asked for. */
const tenantsOf = (db: Db, request: ExportRequest): Promise<TenantRow[]> => {
  let query = db.selectFrom('tenants').selectAll().where('admin_user_id', '=', request.userId);
  if (request.tenantId !== undefined) query = query.where('id', '=', request.tenantId);
  return query.orderBy('id').execute();
};

interface AuditEntry {
  exportId: string;
  request: ExportRequest;
  tenants: TenantRow[];
}

const writeAudit = ({
  db,
  clock,
  entry: { exportId, request, tenants },
  event,
  counts,
  error,
}: {
  db: Db;
  clock: Clock;
  entry: AuditEntry;
  event: 'started' | 'completed' | 'failed';
  counts: RowCounts | null;
  error: string | null;
}) =>
  db
    .insertInto('export_audit_log')
    .values({
      id: exportId,
      event,
      requested_by: request.requestedBy,
      user_id: request.userId,
      tenant_filter: request.tenantId ?? null,
      tenant_ids: tenants.map((tenant) => tenant.id),
      row_counts: counts === null ? null : JSON.stringify(counts),
      error,
      occurred_at: clock.now(),
    })
    .execute();

/**
 * The audit log's end of a completed export and, in the same transaction, each exported tenant's
 * `compliance_export.completed` event (naming only that tenant: the export may span several).
 */
const completeExport = (db: Db, clock: Clock, entry: AuditEntry, counts: RowCounts) =>
  db.transaction().execute(async (trx) => {
    await writeAudit({ db: trx, clock, entry, event: 'completed', counts, error: null });
    const at = clock.now();
    const completed = (tenantId: string) => ({
      id: entry.exportId,
      user_id: entry.request.userId,
      tenant_id: tenantId,
      completed_at: toRfc3339(at),
    });
    await insertEvents(
      trx,
      entry.tenants.map(({ id }) =>
        eventRow({ tenantId: id }, { type: 'compliance_export.completed', at, data: completed(id) }),
      ),
    );
  });

/**
 * The body, written as it is read: the envelope, then per tenant each kind in batches, so a
 * user with millions of rows is exported in bounded memory. The export's start and its end (with
 * the rows of each kind, or the error) go to the audit log.
 */
async function* exportBody(db: Db, clock: Clock, entry: AuditEntry): AsyncGenerator<string> {
  const { request, tenants } = entry;
  const counts = Object.fromEntries(sections.map(([kind]) => [kind, 0])) as RowCounts;
  let outcome: { event: 'completed' | 'failed'; error: string | null } = {
    event: 'failed',
    // What is left when the stream is destroyed (the client went away) before it ended.
    error: 'the stream was closed before the export ended',
  };
  try {
    yield `{"code":200,"message":"ok","data":{"user_id":${JSON.stringify(request.userId)},"generated_at":${JSON.stringify(toRfc3339(clock.now()))},"tenants":[`;
    for (const [index, tenant] of tenants.entries()) {
      yield `${index === 0 ? '' : ','}{"tenant_id":${JSON.stringify(tenant.id)}`;
      for (const [kind, section] of sections) {
        // One balance per tenant: an object, every other kind a list.
        const single = kind === 'credit_balance';
        yield `,"${kind}":${single ? '' : '['}`;
        let first = true;
        for await (const item of section(db, clock, tenant)) {
          yield `${first ? '' : ','}${JSON.stringify(item)}`;
          first = false;
          counts[kind] += 1;
        }
        if (!single) yield ']';
      }
      yield '}';
    }
    yield `]},"timestamp":${JSON.stringify(toRfc3339(clock.now()))}}`;
    outcome = { event: 'completed', error: null };
  } catch (error) {
    outcome = { event: 'failed', error: error instanceof Error ? error.message : String(error) };
    throw error;
  } finally {
    // Also when the consumer stops early: then neither the end nor the catch above runs.
    const { event, error } = outcome;
    if (event === 'completed') await completeExport(db, clock, entry, counts);
    else await writeAudit({ db, clock, entry, event, counts, error });
  }
}

/** Joins small pieces into writes of about 64 KiB: one socket write per row would cost more than the row. */
async function* inChunks(pieces: AsyncGenerator<string>, size = 64 * 1024): AsyncGenerator<string> {
  let buffer = '';
  for await (const piece of pieces) {
    buffer += piece;
    if (buffer.length >= size) {
      yield buffer;
      buffer = '';
    }
  }
  if (buffer !== '') yield buffer;
}

/** The compliance export of one user's billing data, as a stream; 404 when the user administers no (such) tenant. */
export const exportUserData = async (db: Db, clock: Clock, request: ExportRequest): Promise<Result<Readable>> => {
  const tenants = await tenantsOf(db, request);
  if (tenants.length === 0) {
    return fail(notFound(request.tenantId === undefined ? 'user' : 'user in that tenant'));
  }
  const entry = { exportId: newId('userDataExport'), request, tenants };
  await writeAudit({ db, clock, entry, event: 'started', counts: null, error: null });
  return ok(Readable.from(inChunks(exportBody(db, clock, entry))));
};
