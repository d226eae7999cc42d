import type { Clock } from '../../core/clock.js';
import { ok, type Result } from '../../core/result.js';
import type { DbTransaction } from '../../db/database.js';
import { creditTransactionEvents } from '../credit-ledger/credit-events.js';
import { creditPosting, type CreditMovement } from '../credit-ledger/post-credit-transaction.js';
import { postManyToLedger, type Posting } from '../credit-ledger/repository.js';
import type { TenantScope } from '../../core/principal.js';
import { eventRow, type NewEvent } from '../events/record-event.js';
import { insertEvents, type NewEventRow } from '../events/repository.js';
import { newRecordEvents, recordMoveEvent } from '../billing-records/record-events.js';
import { directRecordWrites, writeRecordUpdate, type RecordUpdate } from '../billing-records/record-writes.js';
import {
  insertRecords,
  lockInvoiceSequences,
  lockRecords,
  nextInvoiceSeq,
  writeInvoiceSequences,
  type NewRecordWithLines,
  type RecordRow,
} from '../billing-records/repository.js';
import {
  insertMeteredBillings,
  markInvoiced,
  type InvoicedMetering,
  type NewMeteredBilling,
} from '../metering/repository.js';
import {
  insertPeriods,
  writeSubscriptions,
  type NewPeriod,
  type NewSubscriptionEvent,
  type SubscriptionRow,
} from '../subscriptions/repository.js';
import type { SubscriptionUpdate, SubscriptionWrites } from '../subscriptions/subscription-writes.js';

interface Counter {
  tenantId: string;
  year: number;
  last: number;
  /** What the database row holds. */
  stored: number;
}

/**
 * A billing run batch's writes, held in memory and written by `flush` as one multi-row statement
 * per table instead of a few statements per subscription. Everything it holds is in the
 * batch's transaction: a rollback loses all of it, and the locks the batch took (its
 * subscriptions, their invoice counters) keep anyone else from seeing or changing those rows.
 * Records it holds are updated in memory (collected before they are ever written); invoice
 * numbers come from the counters locked up front, counted on in memory. The billing events of
 * its changes are held too, each rendered when its change is made, and written last.
 */
export class BatchWrites implements SubscriptionWrites {
  readonly #counters = new Map<string, Counter>();
  readonly #records = new Map<string, NewRecordWithLines & { scope: TenantScope }>();
  readonly #holdPostings: boolean;
  /** Credit postings held for the batch's writes; ledger_post checks each balance again then. */
  #postings: (Posting & { tenantId: string })[] = [];
  /** Records already written that the batch holds locked, as they are now. */
  readonly #locked = new Map<string, RecordRow>();
  #periods: (NewPeriod & { tenant_id: string })[] = [];
  #metered: (NewMeteredBilling & { tenant_id: string })[] = [];
  #invoiced: { scope: TenantScope; invoiced: InvoicedMetering }[] = [];
  readonly #subscriptions = new Map<string, { row: SubscriptionRow; events: NewSubscriptionEvent[] }>();
  /** Billing events of the held changes, each rendered (and its id made) when its change was. */
  #events: NewEventRow[] = [];
  /** The events of held credit postings, by transaction id, waiting for the balance each leaves. */
  readonly #creditEvents = new Map<string, NewEventRow>();

  /**
   * `holdPostings`: credit postings wait for the batch's writes, where one refused (a balance spent
   * meanwhile by someone else) fails the batch. A batch of one posts at once and can fall back.
   */
  constructor(holdPostings: boolean) {
    this.#holdPostings = holdPostings;
  }

  /** Locks the invoice counters of the batch's tenants for these years; other years are locked when first used. */
  async lockCounters(db: DbTransaction, tenantIds: readonly string[], years: readonly number[]): Promise<void> {
    for (const row of await lockInvoiceSequences(db, tenantIds, years)) {
      const counter = { tenantId: row.tenant_id, year: row.year, last: row.last_seq, stored: row.last_seq };
      this.#counters.set(`${row.tenant_id}|${row.year}`, counter);
    }
  }

  /** Locks records the batch is about to read (its subscriptions' open invoices) in one statement. */
  async lockRecords(db: DbTransaction, refs: readonly { tenant_id: string; id: string }[]): Promise<void> {
    const wanted = new Set(refs.map((ref) => `${ref.tenant_id}|${ref.id}`));
    for (const row of await lockRecords(db, refs)) {
      if (wanted.has(`${row.tenant_id}|${row.id}`)) this.#locked.set(row.id, row);
    }
  }

  async lockRecord(db: DbTransaction, scope: TenantScope, recordId: string): Promise<RecordRow | undefined> {
    const locked = this.#locked.get(recordId);
    if (locked?.tenant_id === scope.tenantId) return locked;
    const read = await directRecordWrites.lockRecord(db, scope, recordId);
    if (read !== undefined) this.#locked.set(recordId, read);
    return read;
  }

  async nextInvoiceSeq(db: DbTransaction, scope: TenantScope, year: number): Promise<number> {
    const key = `${scope.tenantId}|${year}`;
    const counter = this.#counters.get(key);
    if (counter !== undefined) return (counter.last += 1);
    const first = await nextInvoiceSeq(db, scope, year);
    this.#counters.set(key, { tenantId: scope.tenantId, year, last: first, stored: first });
    return first;
  }

  async insertRecord(db: DbTransaction, scope: TenantScope, written: NewRecordWithLines): Promise<void> {
    this.#records.set(written.record.id, { ...written, events: [...written.events], scope });
    await this.recordEvents(db, scope, newRecordEvents(scope.tenantId, written));
  }

  async updateRecord(update: RecordUpdate): Promise<RecordRow> {
    const { trx, scope, record, patch, event } = update;
    const held = this.#records.get(record.id);
    if (held === undefined) {
      const { updated, moved } = await writeRecordUpdate(update);
      this.#locked.set(updated.id, updated);
      if (moved !== undefined) await this.recordEvents(trx, scope, [moved]);
      return updated;
    }
    held.record = { ...held.record, ...patch };
    const updated = { ...record, ...patch } as RecordRow;
    if (event !== undefined) {
      held.events.push(event);
      const moved = recordMoveEvent(updated, held.lines, event);
      if (moved !== undefined) await this.recordEvents(trx, scope, [moved]);
    }
    return updated;
  }

  async recordEvents(_db: DbTransaction, scope: TenantScope, events: readonly NewEvent[]): Promise<void> {
    for (const event of events) this.#events.push(eventRow(scope, event));
  }

  async postCredit(
    db: DbTransaction,
    clock: Clock,
    scope: TenantScope,
    movement: CreditMovement,
  ): Promise<Result<unknown>> {
    if (!this.#holdPostings) return directRecordWrites.postCredit(db, clock, scope, movement);
    const posting = { ...creditPosting(clock, movement), tenantId: scope.tenantId };
    this.#postings.push(posting);
    // Its event takes its place (and id) among the batch's now; its data, with the balance after, comes at the write.
    for (const event of creditTransactionEvents(scope.tenantId, posting, 0n)) {
      const row = eventRow(scope, event);
      this.#events.push(row);
      this.#creditEvents.set(posting.transactionId, row);
    }
    return ok(undefined);
  }

  async updateSubscription({ sub, patch, event }: SubscriptionUpdate): Promise<SubscriptionRow> {
    const row = { ...sub, ...patch } as SubscriptionRow;
    const key = `${sub.tenant_id}|${sub.id}`;
    this.#subscriptions.set(key, { row, events: [...(this.#subscriptions.get(key)?.events ?? []), event] });
    return row;
  }

  async insertPeriod(_db: DbTransaction, scope: TenantScope, period: NewPeriod): Promise<void> {
    this.#periods.push({ ...period, tenant_id: scope.tenantId });
  }

  async insertMetered(_db: DbTransaction, scope: TenantScope, rows: readonly NewMeteredBilling[]): Promise<void> {
    this.#metered.push(...rows.map((row) => ({ ...row, tenant_id: scope.tenantId })));
  }

  async markInvoiced(_db: DbTransaction, scope: TenantScope, invoiced: readonly InvoicedMetering[]): Promise<void> {
    this.#invoiced.push(...invoiced.map((row) => ({ scope, invoiced: row })));
  }

  /**
   * Writes everything held, referenced rows first (records before the periods and subscriptions
   * that name them), then the credit postings: ledger_post checks each balance as it is then.
   */
  async flush(db: DbTransaction): Promise<void> {
    const counters = [...this.#counters.values()].filter((counter) => counter.last !== counter.stored);
    await writeInvoiceSequences(
      db,
      counters.map(({ tenantId, year, last }) => ({ tenant_id: tenantId, year, last_seq: last })),
    );
    for (const counter of counters) counter.stored = counter.last;
    await insertRecords(db, [...this.#records.values()]);
    this.#records.clear();
    await insertPeriods(db, this.#periods);
    this.#periods = [];
    await insertMeteredBillings(db, this.#metered);
    this.#metered = [];
    await markInvoiced(db, this.#invoiced);
    this.#invoiced = [];
    await writeSubscriptions(db, [...this.#subscriptions.values()]);
    this.#subscriptions.clear();
    // By tenant (a stable sort keeps each tenant's order): runners lock accounts in the same order.
    const postings = this.#postings.sort((a, b) => (a.tenantId < b.tenantId ? -1 : a.tenantId > b.tenantId ? 1 : 0));
    const balances = await postManyToLedger(db, postings);
    const refused = balances.findIndex((balance) => balance === null);
    if (refused >= 0) {
      throw new Error(`the credit balance of ${postings[refused]?.tenantId} was spent meanwhile: the batch goes again`);
    }
    for (const [index, posting] of postings.entries()) {
      const row = this.#creditEvents.get(posting.transactionId);
      const [event] = creditTransactionEvents(posting.tenantId, posting, balances[index] ?? null);
      if (row !== undefined && event !== undefined) row.data = JSON.stringify(event.data);
    }
    this.#postings = [];
    this.#creditEvents.clear();
    await insertEvents(db, this.#events);
    this.#events = [];
  }
}
