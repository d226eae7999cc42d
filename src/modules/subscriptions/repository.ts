import { sql, type Insertable, type Selectable, type Updateable } from 'kysely';
import type { Db } from '../../db/database.js';
import type { SubscriptionEventsTable, SubscriptionPeriodsTable, SubscriptionsTable } from '../../db/schema.js';
import type { TenantScope } from '../auth/principal.js';
import type { TenantRow } from '../tenants/repository.js';

export type SubscriptionRow = Selectable<SubscriptionsTable>;
export type SubscriptionPatch = Omit<Updateable<SubscriptionsTable>, 'tenant_id' | 'id' | 'created_at'>;
type NewSubscription = Omit<Insertable<SubscriptionsTable>, 'tenant_id'>;
type NewPeriod = Omit<Insertable<SubscriptionPeriodsTable>, 'tenant_id'>;
type NewEvent = Omit<Insertable<SubscriptionEventsTable>, 'tenant_id' | 'seq'>;

export const liveStatuses = ['trialing', 'active', 'past_due', 'suspended'] as const;

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
export const lockLiveSubscription = (db: Db, scope: TenantScope): Promise<SubscriptionRow | undefined> =>
  db
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
  db: Db,
  scope: TenantScope,
  recordId: string,
): Promise<SubscriptionRow | undefined> =>
  db
    .selectFrom('subscriptions')
    .selectAll()
    .where('tenant_id', '=', scope.tenantId)
    .where('open_record_id', '=', recordId)
    .where('status', 'in', liveStatuses)
    .forUpdate()
    .skipLocked()
    .executeTakeFirst();

/** Records that a period was invoiced; the primary key refuses the same period twice. */
export const insertPeriod = async (db: Db, scope: TenantScope, period: NewPeriod): Promise<void> => {
  await db
    .insertInto('subscription_periods')
    .values({ ...period, tenant_id: scope.tenantId })
    .execute();
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
export const appendSubscriptionEvent = async (db: Db, scope: TenantScope, event: NewEvent): Promise<void> => {
  await insertEvent(scope, event).execute(db);
};

/**
 * Updates a locked subscription and appends the event to its history in one statement (one round
 * trip: the billing run does this for every step). The event describes the row as updated.
 */
export const updateSubscriptionWithEvent = (
  db: Db,
  scope: TenantScope,
  subscriptionId: string,
  patch: SubscriptionPatch,
  event: NewEvent,
): Promise<SubscriptionRow> =>
  db
    .with('event', () => sql<Record<string, unknown>>`(${insertEvent(scope, event)})`)
    .updateTable('subscriptions')
    .set(patch)
    .where('tenant_id', '=', scope.tenantId)
    .where('id', '=', subscriptionId)
    .returningAll()
    .executeTakeFirstOrThrow();

/**
 * Up to `limit` subscriptions with billing work due at `asOf`, earliest first, locked; rows another
 * runner holds are skipped, so several runners share the work and none waits. `skip` lists rows
 * this run gave up on.
 */
export const lockDueSubscriptions = (
  db: Db,
  asOf: Date,
  skip: readonly { tenantId: string; id: string }[],
  limit: number,
): Promise<SubscriptionRow[]> => {
  let query = db.selectFrom('subscriptions').selectAll().where('next_run_at', '<=', asOf);
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

/** Several subscriptions' tenants in one read, by id. */
export const findTenantsOf = async (db: Db, tenantIds: readonly string[]): Promise<Map<string, TenantRow>> => {
  if (tenantIds.length === 0) return new Map();
  const rows = await db.selectFrom('tenants').selectAll().where('id', 'in', tenantIds).execute();
  return new Map(rows.map((row) => [row.id, row]));
};
