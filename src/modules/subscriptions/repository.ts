import { sql, type Insertable, type Selectable, type Updateable } from 'kysely';
import type { Db, DbTransaction } from '../../db/database.js';
import { jsonRows } from '../../db/json-rows.js';
import {
  liveStatuses,
  type SubscriptionEventsTable,
  type SubscriptionPeriodsTable,
  type SubscriptionsTable,
} from '../../db/schema.js';
import type { TenantScope } from '../../core/principal.js';
import type { TenantRow } from '../tenants/repository.js';
import { tenantOnClock } from '../../db/tenant-clock-filter.js';

export type SubscriptionRow = Selectable<SubscriptionsTable>;
export type SubscriptionPatch = Omit<Updateable<SubscriptionsTable>, 'tenant_id' | 'id' | 'created_at'>;
type NewSubscription = Omit<Insertable<SubscriptionsTable>, 'tenant_id'>;
export type NewPeriod = Omit<Insertable<SubscriptionPeriodsTable>, 'tenant_id'>;
export type NewSubscriptionEvent = Omit<Insertable<SubscriptionEventsTable>, 'tenant_id' | 'seq'>;
type NewEvent = NewSubscriptionEvent;

/** The tenant's live subscription, or else its latest one: what "the tenant's subscription" means. */
export const findCurrentSubscription = (db: Db, scope: TenantScope): Promise<SubscriptionRow | undefined> =>
  db
    .selectFrom('subscriptions')
    .selectAll()
    .where('tenant_id', '=', scope.tenantId)
    .orderBy(sql`status in ('trialing', 'active', 'past_due', 'suspended')`, 'desc')
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .limit(1)
    .executeTakeFirst();

/** Locks the tenant's live subscription for the rest of the transaction. */
export const lockLiveSubscription = (trx: DbTransaction, scope: TenantScope): Promise<SubscriptionRow | undefined> =>
  trx
    .selectFrom('subscriptions')
    .selectAll()
    .where('tenant_id', '=', scope.tenantId)
    .where('status', 'in', liveStatuses)
    .forUpdate()
    .executeTakeFirst();

/** Whether the tenant ever had a trial: a tenant gets one trial, not one per subscription. */
export const hadTrial = async (db: Db, scope: TenantScope): Promise<boolean> =>
  (await db
    .selectFrom('subscriptions')
    .select('id')
    .where('tenant_id', '=', scope.tenantId)
    .where('trial_end_date', 'is not', null)
    .limit(1)
    .executeTakeFirst()) !== undefined;

export const insertSubscription = (db: Db, scope: TenantScope, row: NewSubscription): Promise<SubscriptionRow> =>
  db
    .insertInto('subscriptions')
    .values({ ...row, tenant_id: scope.tenantId })
    .returningAll()
    .executeTakeFirstOrThrow();

/** The live subscription whose open invoice this is, locked unless a billing run holds it (that run settles it). */
export const lockSubscriptionOwingRecord = (
  trx: DbTransaction,
  scope: TenantScope,
  recordId: string,
): Promise<SubscriptionRow | undefined> =>
  trx
    .selectFrom('subscriptions')
    .selectAll()
    .where('tenant_id', '=', scope.tenantId)
    .where('open_record_id', '=', recordId)
    .where('status', 'in', liveStatuses)
    .forUpdate()
    .skipLocked()
    .executeTakeFirst();

/** Records that periods were invoiced; the primary key refuses the same period twice. */
export const insertPeriods = async (db: Db, periods: readonly (NewPeriod & { tenant_id: string })[]): Promise<void> => {
  if (periods.length > 0) await db.insertInto('subscription_periods').values(periods).execute();
};

/** The history insert, next seq in the same statement. */
const insertEvent = (scope: TenantScope, event: NewEvent) => sql<Record<string, unknown>>`
    insert into subscription_events (tenant_id, subscription_id, seq, kind, from_status, to_status, plan_id,
                                     billing_cycle, record_id, actor, reason, occurred_at)
    select ${scope.tenantId}, ${event.subscription_id}, coalesce(max(seq), 0) + 1, ${event.kind},
           ${event.from_status ?? null}::text, ${event.to_status}, ${event.plan_id}, ${event.billing_cycle},
           ${event.record_id ?? null}::text, ${event.actor}, ${event.reason ?? null}::text,
           ${event.occurred_at}::timestamptz
      from subscription_events
     where tenant_id = ${scope.tenantId} and subscription_id = ${event.subscription_id}`;

/** Appends to the lifecycle history; call it with the subscription row locked. */
export const appendSubscriptionEvent = async (
  trx: DbTransaction,
  scope: TenantScope,
  event: NewEvent,
): Promise<void> => {
  await insertEvent(scope, event).execute(trx);
};

export interface SubscriptionUpdateWithEvent {
  trx: DbTransaction;
  scope: TenantScope;
  subscriptionId: string;
  patch: SubscriptionPatch;
  event: NewEvent;
}

/**
 * Updates a locked subscription and appends the event to its history in one statement (one round
 * trip: the billing run does this for every step). The event describes the row as updated.
 */
export const updateSubscriptionWithEvent = ({
  trx,
  scope,
  subscriptionId,
  patch,
  event,
}: SubscriptionUpdateWithEvent): Promise<SubscriptionRow> =>
  trx
    .with('event', () => sql<Record<string, unknown>>`(${insertEvent(scope, event)})`)
    .updateTable('subscriptions')
    .set(patch)
    .where('tenant_id', '=', scope.tenantId)
    .where('id', '=', subscriptionId)
    .returningAll()
    .executeTakeFirstOrThrow();

/** Every column a subscription's lifecycle may change: all but its key and creation. */
// prettier-ignore
const mutableColumns = [
  'plan_id', 'plan_version', 'admin_user_id', 'status', 'billing_cycle', 'amount', 'currency',
  'billing_anchor', 'period_index', 'current_period_start', 'current_period_end', 'trial_end_date',
  'grace_period_days', 'auto_renew', 'cancel_at_period_end', 'payment_method', 'scheduled_plan_id',
  'scheduled_plan_version', 'scheduled_billing_cycle', 'open_record_id', 'past_due_since', 'grace_ends_at',
  'next_payment_attempt_at', 'payment_attempts', 'ended_at', 'next_run_at', 'metering_closes_at', 'updated_at',
] as const satisfies readonly (keyof SubscriptionRow)[];

/**
 * Locked subscriptions written as the caller holds them, with their new history entries (in
 * order, numbered after each one's last), in one statement: a billing run's batch at once.
 */
export const writeSubscriptions = async (
  trx: DbTransaction,
  items: readonly { row: SubscriptionRow; events: readonly NewEvent[] }[],
): Promise<void> => {
  if (items.length === 0) return;
  const events = items.flatMap(({ row, events }) =>
    events.map((event, index) => ({ ...event, tenant_id: row.tenant_id, seq: index + 1 })),
  );
  const columns = sql.raw(mutableColumns.join(', '));
  const values = sql.raw(mutableColumns.map((column) => `v.${column}`).join(', '));
  const result = await sql`
    with events as (
      insert into subscription_events (tenant_id, subscription_id, seq, kind, from_status, to_status, plan_id,
                                       billing_cycle, record_id, actor, reason, occurred_at)
      select e.tenant_id, e.subscription_id,
             coalesce((select max(seq) from subscription_events x
                        where x.tenant_id = e.tenant_id and x.subscription_id = e.subscription_id), 0) + e.seq,
             e.kind, e.from_status, e.to_status, e.plan_id, e.billing_cycle, e.record_id, e.actor, e.reason,
             e.occurred_at
        from jsonb_populate_recordset(null::subscription_events, ${jsonRows(events)}::jsonb) e
    )
    update subscriptions s set (${columns}) = (${values})
      from jsonb_populate_recordset(null::subscriptions, ${jsonRows(items.map(({ row }) => row))}::jsonb) v
     where s.tenant_id = v.tenant_id and s.id = v.id`.execute(trx);
  if (result.numAffectedRows !== BigInt(items.length)) {
    throw new Error(`wrote ${result.numAffectedRows} of ${items.length} subscriptions`);
  }
};

/**
 * Up to `limit` subscriptions with billing work due at `asOf`, earliest first, locked; rows another
 * runner holds are skipped, so several runners share the work and none waits. `skip` lists rows
 * this run gave up on.
 */
export const lockDueSubscriptions = ({
  trx,
  asOf,
  testClockId,
  skip,
  limit,
}: {
  trx: DbTransaction;
  asOf: Date;
  /** Only tenants of this test clock; null: only tenants on real time. */
  testClockId: string | null;
  skip: readonly { tenantId: string; id: string }[];
  limit: number;
}): Promise<SubscriptionRow[]> => {
  let query = trx
    .selectFrom('subscriptions')
    .selectAll()
    .where('next_run_at', '<=', asOf)
    .where(tenantOnClock(testClockId));
  for (const row of skip) {
    query = query.where((eb) => eb.or([eb('tenant_id', '!=', row.tenantId), eb('id', '!=', row.id)]));
  }
  return query
    .orderBy('next_run_at')
    .orderBy('tenant_id')
    .orderBy('id')
    .limit(limit)
    .forUpdate()
    .skipLocked()
    .execute();
};

/** How many subscriptions are due at `asOf` (unlocked: a progress estimate, not a promise). */
export const countDueSubscriptions = async (db: Db, asOf: Date, testClockId: string | null): Promise<number> => {
  const row = await db
    .selectFrom('subscriptions')
    .select((eb) => eb.fn.countAll<string | number | bigint>().as('count'))
    .where('next_run_at', '<=', asOf)
    .where(tenantOnClock(testClockId))
    .executeTakeFirst();
  return Number(row?.count ?? 0);
};

/** The earliest instant after `after` at which a subscription of the clock's tenants is due, if any. */
export const nextRunOnClock = async (db: Db, testClockId: string, after: Date): Promise<Date | undefined> => {
  const row = await db
    .selectFrom('subscriptions')
    .select((eb) => eb.fn.min('next_run_at').as('next'))
    .where('next_run_at', '>', after)
    .where(tenantOnClock(testClockId))
    .executeTakeFirst();
  return row?.next ?? undefined;
};

/** Several subscriptions' tenants in one read, by id. */
export const findTenantsOf = async (db: Db, tenantIds: readonly string[]): Promise<Map<string, TenantRow>> => {
  if (tenantIds.length === 0) return new Map();
  const rows = await db.selectFrom('tenants').selectAll().where('id', 'in', tenantIds).execute();
  return new Map(rows.map((row) => [row.id, row]));
};

/** Which trials to look at for their reminder: all, or only some tenants' (a request catching its tenant up). */
export interface TrialReminderCandidates {
  asOf: Date;
  limit: number;
  /** Only these tenants' (a request catching its tenant up); else those on `testClockId`. */
  tenantIds?: readonly string[] | undefined;
  /** Whose when `tenantIds` is not given: this test clock's tenants, or (null, the default) real time's. */
  testClockId?: string | null | undefined;
}

/**
 * Up to `limit` trialing subscriptions whose `trial_will_end` is due by `asOf` and not yet written,
 * locked (rows another transaction holds are skipped: that one writes it, or the next look does)
 * and marked written at its due time, in one statement. Returns them as marked.
 */
export const markTrialWillEndSent = async (
  trx: DbTransaction,
  { asOf, limit, tenantIds, testClockId = null }: TrialReminderCandidates,
): Promise<SubscriptionRow[]> => {
  if (tenantIds !== undefined && tenantIds.length === 0) return [];
  const tenantFilter =
    tenantIds === undefined
      ? sql`and ${tenantOnClock(testClockId)}`
      : sql`and tenant_id in (${sql.join([...tenantIds])})`;
  const result = await sql<SubscriptionRow>`
    with due as (
      select tenant_id, id from subscriptions
       where status = 'trialing' and trial_will_end_sent_at is null and trial_will_end_at <= ${asOf} ${tenantFilter}
       order by trial_will_end_at, tenant_id, id
       limit ${limit}
         for update skip locked
    )
    update subscriptions s set trial_will_end_sent_at = s.trial_will_end_at
      from due
     where s.tenant_id = due.tenant_id and s.id = due.id
    returning s.*`.execute(trx);
  return result.rows;
};
