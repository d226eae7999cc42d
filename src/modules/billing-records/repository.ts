import { sql, type Insertable, type Selectable } from 'kysely';
import type { PageRequest } from '../../core/pagination.js';
import type { Db, DbTransaction } from '../../db/database.js';
import { jsonRows } from '../../db/json-rows.js';
import { fetchPage } from '../../db/paginate.js';
import type {
  BillingRecordEventsTable,
  BillingRecordLinesTable,
  BillingRecordsTable,
  RecordStatus,
} from '../../db/schema.js';
import type { TenantScope } from '../../core/principal.js';
import { tenantOnClock } from '../../db/tenant-clock-filter.js';
import { countSpans, type DayRange, type InstantRange } from './count-spans.js';

export type RecordRow = Selectable<BillingRecordsTable>;
export type LineRow = Selectable<BillingRecordLinesTable>;
export type EventRow = Selectable<BillingRecordEventsTable>;
export type RecordWithLines = RecordRow & { lines: LineRow[] };

type NewRecord = Omit<Insertable<BillingRecordsTable>, 'tenant_id'>;
type NewLine = Omit<Insertable<BillingRecordLinesTable>, 'tenant_id' | 'record_id'>;
type NewEvent = Omit<Insertable<BillingRecordEventsTable>, 'tenant_id' | 'record_id' | 'seq'>;
export type NewRecordEvent = NewEvent;

export interface NewRecordWithLines {
  record: NewRecord;
  lines: NewLine[];
  /** Its first history entries (seq 1, 2, …). */
  events: NewEvent[];
}

/**
 * Writes records with their lines and first history entries in one statement: the lines and
 * events reference their record, which their foreign keys find at the statement's end.
 */
export const insertRecords = async (
  db: Db,
  items: readonly (NewRecordWithLines & { scope: TenantScope })[],
): Promise<void> => {
  if (items.length === 0) return;
  const owned = ({ scope, record }: (typeof items)[number]) => ({ tenant_id: scope.tenantId, record_id: record.id });
  const withRecords = db.with('record', (qc) =>
    qc
      .insertInto('billing_records')
      .values(items.map(({ scope, record }) => ({ ...record, tenant_id: scope.tenantId }))),
  );
  const lineRows = items.flatMap((item) => item.lines.map((line) => ({ ...line, ...owned(item) })));
  const eventRows = items.flatMap((item) =>
    item.events.map((event, index) => ({ ...event, ...owned(item), seq: index + 1 })),
  );
  if (eventRows.length === 0) {
    await withRecords.insertInto('billing_record_lines').values(lineRows).execute();
    return;
  }
  await withRecords
    .with('events', (qc) => qc.insertInto('billing_record_events').values(eventRows))
    .insertInto('billing_record_lines')
    .values(lineRows)
    .execute();
};

/** The history insert, next seq in the same statement; run it with the record row locked. */
const insertEvent = (scope: TenantScope, recordId: string, event: NewEvent) => sql<Record<string, unknown>>`
    insert into billing_record_events (tenant_id, record_id, seq, from_status, to_status, actor, reason, occurred_at)
    select ${scope.tenantId}, ${recordId}, coalesce(max(seq), 0) + 1, ${event.from_status ?? null}::text,
           ${event.to_status}, ${event.actor}, ${event.reason ?? null}::text, ${event.occurred_at}::timestamptz
      from billing_record_events
     where tenant_id = ${scope.tenantId} and record_id = ${recordId}`;

export const lockRecord = (trx: DbTransaction, scope: TenantScope, recordId: string): Promise<RecordRow | undefined> =>
  trx
    .selectFrom('billing_records')
    .selectAll()
    .where('tenant_id', '=', scope.tenantId)
    .where('id', '=', recordId)
    .forUpdate()
    .executeTakeFirst();

export type RecordPatch = Partial<
  Pick<
    NewRecord,
    'status' | 'invoice_number' | 'finalized_at' | 'due_at' | 'search_text' | 'amount_paid' | 'updated_at'
  >
>;

/** Records locked for the rest of the transaction, in key order (a billing run batch's open invoices). */
export const lockRecords = (
  trx: DbTransaction,
  refs: readonly { tenant_id: string; id: string }[],
): Promise<RecordRow[]> =>
  refs.length === 0
    ? Promise.resolve([])
    : trx
        .selectFrom('billing_records')
        .selectAll()
        .where('tenant_id', 'in', [...new Set(refs.map((ref) => ref.tenant_id))])
        .where(
          'id',
          'in',
          refs.map((ref) => ref.id),
        )
        .orderBy('tenant_id')
        .orderBy('id')
        .forUpdate()
        .execute();

/** A change to a locked record. */
export const updateRecord = (
  trx: DbTransaction,
  scope: TenantScope,
  recordId: string,
  patch: RecordPatch,
): Promise<RecordRow> =>
  trx
    .updateTable('billing_records')
    .set(patch)
    .where('tenant_id', '=', scope.tenantId)
    .where('id', '=', recordId)
    .returningAll()
    .executeTakeFirstOrThrow();

export interface RecordUpdateWithEvent {
  trx: DbTransaction;
  scope: TenantScope;
  recordId: string;
  patch: RecordPatch;
  event: NewEvent;
}

/** A status move of a locked record: the update and its history entry in one statement (one round trip). */
export const updateRecordWithEvent = ({
  trx,
  scope,
  recordId,
  patch,
  event,
}: RecordUpdateWithEvent): Promise<RecordRow> =>
  trx
    .with('event', () => sql<Record<string, unknown>>`(${insertEvent(scope, recordId, event)})`)
    .updateTable('billing_records')
    .set(patch)
    .where('tenant_id', '=', scope.tenantId)
    .where('id', '=', recordId)
    .returningAll()
    .executeTakeFirstOrThrow();

/**
 * The next invoice sequence of a tenant's year. The upsert locks the counter row until the
 * transaction ends, so concurrent finalisations queue and a rollback gives the number back.
 */
export const nextInvoiceSeq = async (trx: DbTransaction, scope: TenantScope, year: number): Promise<number> => {
  const row = await trx
    .insertInto('invoice_sequences')
    .values({ tenant_id: scope.tenantId, year, last_seq: 1 })
    .onConflict((conflict) =>
      conflict.columns(['tenant_id', 'year']).doUpdateSet({ last_seq: sql`invoice_sequences.last_seq + 1` }),
    )
    .returning('last_seq')
    .executeTakeFirstOrThrow();
  return row.last_seq;
};

/**
 * A billing run batch's invoice counters of these tenants and years, locked until the transaction
 * ends (in key order, as every batch takes them): the batch numbers from them in memory.
 */
export const lockInvoiceSequences = (
  trx: DbTransaction,
  tenantIds: readonly string[],
  years: readonly number[],
): Promise<{ tenant_id: string; year: number; last_seq: number }[]> =>
  tenantIds.length === 0
    ? Promise.resolve([])
    : trx
        .selectFrom('invoice_sequences')
        .select(['tenant_id', 'year', 'last_seq'])
        .where('tenant_id', 'in', tenantIds)
        .where('year', 'in', years)
        .orderBy('tenant_id')
        .orderBy('year')
        .forUpdate()
        .execute();

/** Writes counters the caller holds locked (`lockInvoiceSequences`) as numbered in memory. */
export const writeInvoiceSequences = async (
  trx: DbTransaction,
  rows: readonly { tenant_id: string; year: number; last_seq: number }[],
): Promise<void> => {
  if (rows.length === 0) return;
  await sql`
    update invoice_sequences s set last_seq = v.last_seq
      from jsonb_to_recordset(${jsonRows(rows)}::jsonb) as v (tenant_id text, year integer, last_seq integer)
     where s.tenant_id = v.tenant_id and s.year = v.year`.execute(trx);
};

/** The lines of these records, by record, in line order. */
export const linesOf = async (
  db: Db,
  scope: TenantScope,
  recordIds: readonly string[],
): Promise<Map<string, LineRow[]>> => {
  const byRecord = new Map<string, LineRow[]>(recordIds.map((id) => [id, []]));
  if (recordIds.length === 0) return byRecord;
  const lines = await db
    .selectFrom('billing_record_lines')
    .selectAll()
    .where('tenant_id', '=', scope.tenantId)
    .where('record_id', 'in', [...recordIds])
    .orderBy('record_id')
    .orderBy('line_no')
    .execute();
  for (const line of lines) byRecord.get(line.record_id)?.push(line);
  return byRecord;
};

export const findRecord = async (
  db: Db,
  scope: TenantScope,
  recordId: string,
): Promise<(RecordWithLines & { events: EventRow[] }) | undefined> => {
  const record = await db
    .selectFrom('billing_records')
    .selectAll()
    .where('tenant_id', '=', scope.tenantId)
    .where('id', '=', recordId)
    .executeTakeFirst();
  if (record === undefined) return undefined;
  const [lines, events] = await Promise.all([
    linesOf(db, scope, [recordId]),
    db
      .selectFrom('billing_record_events')
      .selectAll()
      .where('tenant_id', '=', scope.tenantId)
      .where('record_id', '=', recordId)
      .orderBy('seq')
      .execute(),
  ]);
  return { ...record, lines: lines.get(recordId) ?? [], events };
};

/** Filters in storage terms: instants, minor units, a lower-cased literal. */
export interface RecordFilter {
  appId?: string | undefined;
  status?: RecordStatus | undefined;
  createdFrom?: Date | undefined;
  createdBefore?: Date | undefined;
  minAmount?: bigint | undefined;
  maxAmount?: bigint | undefined;
  searchText?: string | undefined;
}

/** `%`, `_` and `\` match themselves: the text is a literal, not a LIKE pattern. */
const likeLiteral = (text: string): string => `%${text.replace(/[\\%_]/g, (char) => `\\${char}`)}%`;

/** Finalised records of the tenant matching the status, app and date filters (not amount or keyword). */
const recordsIn = (db: Db, scope: TenantScope, filter: RecordFilter) => {
  let query = db.selectFrom('billing_records').where('tenant_id', '=', scope.tenantId).where('status', '!=', 'draft');
  if (filter.appId !== undefined) query = query.where('app_id', '=', filter.appId);
  if (filter.status !== undefined) query = query.where('status', '=', filter.status);
  if (filter.createdFrom !== undefined) query = query.where('created_at', '>=', filter.createdFrom);
  if (filter.createdBefore !== undefined) query = query.where('created_at', '<', filter.createdBefore);
  return query;
};

/** Finalised records of the tenant matching every filter. */
const recordsMatching = (db: Db, scope: TenantScope, filter: RecordFilter) => {
  let query = recordsIn(db, scope, filter);
  if (filter.minAmount !== undefined) query = query.where('amount', '>=', filter.minAmount);
  if (filter.maxAmount !== undefined) query = query.where('amount', '<=', filter.maxAmount);
  if (filter.searchText !== undefined) query = query.where('search_text', 'like', likeLiteral(filter.searchText));
  return query;
};

/**
 * The exact number of finalised records matching the status, app and date filters, without
 * visiting them: the counter rows of the whole UTC months and days in the range (kept by triggers,
 * migration 0016) plus the records of the part-days at its ends, counted from the indexes.
 */
export const countRecordsIn = async (db: Db, scope: TenantScope, filter: RecordFilter): Promise<number> => {
  // Search never lists drafts; and the counters' '' is "no app", which no app filter means.
  const { status } = filter;
  if (status === 'draft' || filter.appId === '') return 0;
  const spans = countSpans(filter.createdFrom ?? null, filter.createdBefore ?? null);
  const counters = (span: 'day' | 'month', range: DayRange) => {
    let query = db
      .selectFrom('billing_record_counts')
      .select('n')
      .where('tenant_id', '=', scope.tenantId)
      .where('span', '=', span);
    if (range.from !== null) query = query.where('start', '>=', range.from);
    if (range.until !== null) query = query.where('start', '<', range.until);
    if (filter.appId !== undefined) query = query.where('app_id', '=', filter.appId);
    if (status !== undefined) query = query.where('status', '=', status);
    return query;
  };
  const counted = (range: InstantRange) => {
    let query = recordsIn(db, scope, filter).select(sql<bigint>`count(*)`.as('n'));
    if (range.from !== null) query = query.where('created_at', '>=', range.from);
    if (range.until !== null) query = query.where('created_at', '<', range.until);
    return query;
  };
  const parts = [
    ...spans.months.map((range) => counters('month', range)),
    ...spans.days.map((range) => counters('day', range)),
    ...spans.records.map(counted),
  ];
  const [first, ...rest] = parts;
  if (first === undefined) return 0;
  const row = await db
    .selectFrom(rest.reduce((union, part) => union.unionAll(part), first).as('parts'))
    .select(sql<bigint>`coalesce(sum(parts.n), 0)::bigint`.as('total'))
    .executeTakeFirstOrThrow();
  return Number(row.total);
};

/**
 * A keyword is checked on the rows the other filters leave, without its trigram index, when they
 * leave at most this many: a common word matches hundreds of thousands of records in that index
 * (~90 ms at 1M records), while reading 25,000 rows costs ~25 ms at worst.
 */
export const keywordScanLimit = 25_000;

/**
 * The exact total of a search. Status, app and date filters alone are summed from counters. With
 * an amount or a keyword the matching rows are counted, through the indexes; a keyword over few
 * enough rows (counted first) is checked on them rather than looked up in its trigram index.
 */
const countMatching = async (db: Db, scope: TenantScope, filter: RecordFilter): Promise<number> => {
  const ranged = filter.minAmount !== undefined || filter.maxAmount !== undefined;
  if (!ranged && filter.searchText === undefined) return countRecordsIn(db, scope, filter);
  if (filter.searchText !== undefined && (await countRecordsIn(db, scope, filter)) <= keywordScanLimit) {
    // offset 0 keeps the planner from pushing the keyword into the inner scan (and its trigram index).
    const inner = recordsMatching(db, scope, { ...filter, searchText: undefined })
      .select('search_text')
      .offset(0);
    const row = await db
      .selectFrom(inner.as('candidates'))
      .select(sql<bigint>`count(*)`.as('total'))
      .where('candidates.search_text', 'like', likeLiteral(filter.searchText))
      .executeTakeFirstOrThrow();
    return Number(row.total);
  }
  const row = await recordsMatching(db, scope, filter)
    .select(sql<bigint>`count(*)`.as('total'))
    .executeTakeFirstOrThrow();
  return Number(row.total);
};

/** Finalised records of the tenant matching every filter, newest first, ties by id, and their exact total. */
export const searchRecords = async (
  db: Db,
  scope: TenantScope,
  filter: RecordFilter,
  page: PageRequest,
): Promise<{ rows: RecordWithLines[]; total: number }> => {
  const { rows, total } = await fetchPage(
    recordsMatching(db, scope, filter),
    (q) => q.selectAll().orderBy('created_at', 'desc').orderBy('id', 'desc'),
    page,
    () => countMatching(db, scope, filter),
  );
  const lines = await linesOf(
    db,
    scope,
    rows.map((row) => row.id),
  );
  return { rows: rows.map((row) => ({ ...row, lines: lines.get(row.id) ?? [] })), total };
};

/** Which unpaid records past due to look at: all, or only some tenants' (a request catching its tenant up). */
export interface OverdueCandidates {
  asOf: Date;
  limit: number;
  /** Only these tenants' (a request catching its tenant up); else those on `testClockId`. */
  tenantIds?: readonly string[] | undefined;
  /** Whose when `tenantIds` is not given: this test clock's tenants, or (null, the default) real time's. */
  testClockId?: string | null | undefined;
}

/**
 * Up to `limit` finalised records still unpaid (pending or failed) after their due date and not yet
 * marked, locked (rows another transaction holds are skipped: it either pays them or leaves them
 * for the next look) and marked overdue as of `asOf`, in one statement. Returns them as marked.
 */
export const markOverdueRecords = async (
  trx: DbTransaction,
  { asOf, limit, tenantIds, testClockId = null }: OverdueCandidates,
): Promise<RecordRow[]> => {
  if (tenantIds !== undefined && tenantIds.length === 0) return [];
  const tenantFilter =
    tenantIds === undefined
      ? sql`and ${tenantOnClock(testClockId)}`
      : sql`and tenant_id in (${sql.join([...tenantIds])})`;
  const result = await sql<RecordRow>`
    with due as (
      select tenant_id, id from billing_records
       where overdue_at is null and status in ('pending', 'failed') and due_at < ${asOf} ${tenantFilter}
       order by due_at, tenant_id, id
       limit ${limit}
         for update skip locked
    )
    update billing_records r set overdue_at = ${asOf}, updated_at = ${asOf}
      from due
     where r.tenant_id = due.tenant_id and r.id = due.id
    returning r.*`.execute(trx);
  return result.rows;
};

/** The lines of records of several tenants, by `tenant_id|record_id`, in line order. */
export const linesOfRecords = async (
  db: Db,
  records: readonly { tenant_id: string; id: string }[],
): Promise<Map<string, LineRow[]>> => {
  const key = (tenantId: string, recordId: string) => `${tenantId}|${recordId}`;
  const byRecord = new Map<string, LineRow[]>(records.map((record) => [key(record.tenant_id, record.id), []]));
  if (records.length === 0) return byRecord;
  const lines = await db
    .selectFrom('billing_record_lines')
    .selectAll()
    .where('tenant_id', 'in', [...new Set(records.map((record) => record.tenant_id))])
    .where(
      'record_id',
      'in',
      records.map((record) => record.id),
    )
    .orderBy('tenant_id')
    .orderBy('record_id')
    .orderBy('line_no')
    .execute();
  for (const line of lines) byRecord.get(key(line.tenant_id, line.record_id))?.push(line);
  return byRecord;
};
