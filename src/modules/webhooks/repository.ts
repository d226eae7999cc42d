import { sql, type ExpressionBuilder, type Insertable, type Selectable, type Updateable } from 'kysely';
import type { PageRequest } from '../../core/pagination.js';
import type { Db, DbTransaction } from '../../db/database.js';
import { fetchPage } from '../../db/paginate.js';
import type {
  Database,
  WebhookDeliveriesTable,
  WebhookDeliveryAttemptsTable,
  WebhookEndpointsTable,
} from '../../db/schema.js';

export type EndpointRow = Selectable<WebhookEndpointsTable>;
export type DeliveryRow = Selectable<WebhookDeliveriesTable>;
export type AttemptRow = Selectable<WebhookDeliveryAttemptsTable>;

/** Whose endpoints: a tenant's, or the platform-wide ones (`tenantId: null`), which receive every tenant's events. */
export interface EndpointOwner {
  tenantId: string | null;
}

const ownedBy = (owner: EndpointOwner) => (eb: ExpressionBuilder<Database, 'webhook_endpoints'>) =>
  owner.tenantId === null ? eb('tenant_id', 'is', null) : eb('tenant_id', '=', owner.tenantId);

export const insertEndpoint = (db: Db, row: Insertable<WebhookEndpointsTable>): Promise<EndpointRow> =>
  db.insertInto('webhook_endpoints').values(row).returningAll().executeTakeFirstOrThrow();

/** An endpoint of this owner that has not been deleted. */
export const findEndpoint = (db: Db, owner: EndpointOwner, endpointId: string): Promise<EndpointRow | undefined> =>
  db
    .selectFrom('webhook_endpoints')
    .selectAll()
    .where(ownedBy(owner))
    .where('id', '=', endpointId)
    .where('deleted_at', 'is', null)
    .executeTakeFirst();

export const lockEndpoint = (
  trx: DbTransaction,
  owner: EndpointOwner,
  endpointId: string,
): Promise<EndpointRow | undefined> =>
  trx
    .selectFrom('webhook_endpoints')
    .selectAll()
    .where(ownedBy(owner))
    .where('id', '=', endpointId)
    .where('deleted_at', 'is', null)
    .forUpdate()
    .executeTakeFirst();

export const updateEndpoint = (
  db: Db,
  endpointId: string,
  patch: Omit<Updateable<WebhookEndpointsTable>, 'id' | 'tenant_id' | 'created_at'>,
): Promise<EndpointRow> =>
  db.updateTable('webhook_endpoints').set(patch).where('id', '=', endpointId).returningAll().executeTakeFirstOrThrow();

/** The owner's endpoints, newest first, ties by id. */
export const listEndpoints = (db: Db, owner: EndpointOwner, page: PageRequest) =>
  fetchPage(
    db.selectFrom('webhook_endpoints').where(ownedBy(owner)).where('deleted_at', 'is', null),
    (query) => query.selectAll().orderBy('created_at', 'desc').orderBy('id', 'desc'),
    page,
  );

export interface DeliveryFilter {
  status?: DeliveryRow['status'] | undefined;
  eventId?: string | undefined;
}

/** An endpoint's deliveries, newest event first (event ids carry their time), each with its attempts. */
export const listDeliveries = async (db: Db, endpointId: string, filter: DeliveryFilter, page: PageRequest) => {
  let query = db.selectFrom('webhook_deliveries').where('endpoint_id', '=', endpointId);
  if (filter.status !== undefined) query = query.where('status', '=', filter.status);
  if (filter.eventId !== undefined) query = query.where('event_id', '=', filter.eventId);
  const { rows, total } = await fetchPage(
    query,
    (selected) => selected.selectAll().orderBy('event_id', 'desc').orderBy('id', 'desc'),
    page,
  );
  return { rows, total, attempts: await attemptsOf(db, rows) };
};

export const findDelivery = (db: Db, endpointId: string, deliveryId: string): Promise<DeliveryRow | undefined> =>
  db
    .selectFrom('webhook_deliveries')
    .selectAll()
    .where('endpoint_id', '=', endpointId)
    .where('id', '=', deliveryId)
    .executeTakeFirst();

/** The attempts of these deliveries, by delivery, oldest first. */
export const attemptsOf = async (db: Db, deliveries: readonly DeliveryRow[]): Promise<Map<string, AttemptRow[]>> => {
  const byDelivery = new Map<string, AttemptRow[]>(deliveries.map((row) => [row.id, []]));
  if (deliveries.length === 0) return byDelivery;
  const rows = await db
    .selectFrom('webhook_delivery_attempts')
    .selectAll()
    .where('delivery_id', 'in', [...byDelivery.keys()])
    .orderBy('delivery_id')
    .orderBy('attempt')
    .execute();
  for (const row of rows) byDelivery.get(row.delivery_id)?.push(row);
  return byDelivery;
};

/** A claimed delivery with what sending it takes: its endpoint's address and secrets, its event. */
export interface ClaimedDelivery {
  id: string;
  endpoint_id: string;
  tenant_id: string | null;
  event_id: string;
  event_type: string;
  ping: Record<string, unknown> | null;
  status: DeliveryRow['status'];
  /** This claim's attempt number. */
  attempts: number;
  first_attempted_at: Date;
  url: string;
  secret: string;
  previous_secret: string | null;
  previous_secret_expires_at: Date | null;
  event_created_at: Date | null;
  event_app_id: string | null;
  event_data: Record<string, unknown> | null;
}

interface Claim {
  now: Date;
  leaseUntil: Date;
}

/** Takes the next attempt number and a lease on the chosen deliveries, and reads what sending needs. */
const claimWhere = async (db: Db, { now, leaseUntil }: Claim, chosen: ReturnType<typeof sql>) =>
  (
    await sql<ClaimedDelivery>`
      with claimed as (
        update webhook_deliveries
           set attempts = attempts + 1, leased_until = ${leaseUntil},
               first_attempted_at = coalesce(first_attempted_at, ${now}), last_attempted_at = ${now}
         where id in (${chosen})
        returning *)
      select claimed.id, claimed.endpoint_id, claimed.tenant_id, claimed.event_id, claimed.event_type, claimed.ping,
             claimed.status, claimed.attempts, claimed.first_attempted_at, endpoint.url, endpoint.secret,
             endpoint.previous_secret, endpoint.previous_secret_expires_at, event.created_at as event_created_at,
             event.app_id as event_app_id, event.data as event_data
        from claimed
        join webhook_endpoints endpoint on endpoint.id = claimed.endpoint_id
        left join events event on event.tenant_id = claimed.tenant_id and event.id = claimed.event_id
       order by claimed.id`.execute(db)
  ).rows;

/**
 * Claims up to `limit` due deliveries of enabled endpoints. SKIP LOCKED lets any number of
 * workers claim at once without taking the same one; the lease keeps others off it until it
 * ends, so a worker that dies mid-delivery leaves it to be claimed again afterwards.
 */
export const claimDueDeliveries = (db: Db, claim: Claim & { limit: number }): Promise<ClaimedDelivery[]> =>
  claimWhere(
    db,
    claim,
    sql`select due.id from webhook_deliveries due
          join webhook_endpoints endpoint on endpoint.id = due.endpoint_id
         where due.status = 'pending'
           and (due.next_attempt_at is null or due.next_attempt_at <= ${claim.now})
           and (due.leased_until is null or due.leased_until <= ${claim.now})
           and endpoint.enabled and endpoint.deleted_at is null
         order by due.next_attempt_at nulls first, due.id
         limit ${claim.limit}
         for update of due skip locked`,
  );

/** Claims one delivery whatever its status (a resend), unless an attempt of it is in flight. */
export const claimDelivery = async (
  db: Db,
  claim: Claim & { endpointId: string; deliveryId: string },
): Promise<ClaimedDelivery | undefined> =>
  (
    await claimWhere(
      db,
      claim,
      sql`select one.id from webhook_deliveries one
           where one.id = ${claim.deliveryId} and one.endpoint_id = ${claim.endpointId}
             and (one.leased_until is null or one.leased_until <= ${claim.now})
           for update skip locked`,
    )
  )[0];

export const insertDelivery = (db: Db, row: Insertable<WebhookDeliveriesTable>): Promise<DeliveryRow> =>
  db.insertInto('webhook_deliveries').values(row).returningAll().executeTakeFirstOrThrow();

export const insertAttempt = async (trx: DbTransaction, row: Insertable<WebhookDeliveryAttemptsTable>) => {
  await trx.insertInto('webhook_delivery_attempts').values(row).execute();
};

/**
 * Records where a delivery stands after the attempt numbered `attempt`, and ends its lease; only
 * while that attempt is the latest claim (a slower process whose lease ran out does not undo a
 * later attempt's outcome). Says whether it did.
 */
export const settleDelivery = async (
  trx: DbTransaction,
  { id, attempt }: { id: string; attempt: number },
  state: Pick<DeliveryRow, 'status' | 'next_attempt_at'>,
): Promise<boolean> =>
  (
    await trx
      .updateTable('webhook_deliveries')
      .set({ ...state, leased_until: null })
      .where('id', '=', id)
      .where('attempts', '=', attempt)
      .executeTakeFirst()
  ).numUpdatedRows > 0n;

export const markEndpointSucceeded = async (trx: DbTransaction, endpointId: string): Promise<void> => {
  await trx
    .updateTable('webhook_endpoints')
    .set({ failing_since: null })
    .where('id', '=', endpointId)
    .where('failing_since', 'is not', null)
    .execute();
};

/** Notes a failure (the first since the last success starts the count); answers the endpoint as it now is. */
export const markEndpointFailed = (trx: DbTransaction, endpointId: string, at: Date): Promise<EndpointRow> =>
  trx
    .updateTable('webhook_endpoints')
    .set({ failing_since: sql<Date>`coalesce(failing_since, ${at})` })
    .where('id', '=', endpointId)
    .returningAll()
    .executeTakeFirstOrThrow();

/** When the next pending delivery of an enabled endpoint falls due, if any: the worker sleeps until then. */
export const nextDueAt = async (db: Db): Promise<Date | null | undefined> => {
  const row = await db
    .selectFrom('webhook_deliveries as due')
    .innerJoin('webhook_endpoints as endpoint', 'endpoint.id', 'due.endpoint_id')
    .select(sql<Date | null>`greatest(due.next_attempt_at, due.leased_until)`.as('at'))
    .where('due.status', '=', 'pending')
    .where('endpoint.enabled', '=', true)
    .where('endpoint.deleted_at', 'is', null)
    .orderBy(sql`greatest(due.next_attempt_at, due.leased_until) asc nulls first`)
    .limit(1)
    .executeTakeFirst();
  return row === undefined ? undefined : row.at;
};
