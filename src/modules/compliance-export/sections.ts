import { sql } from 'kysely';
import { resourceTypes, type ResourceType } from '../../core/resources.js';
import type { Db } from '../../db/database.js';
import type { TenantScope } from '../../core/principal.js';
import { accountStatement, findCreditAccount, statementColumns } from '../credit-ledger/repository.js';
import { tenantCreditAccount } from '../credit-ledger/sources.js';
import { toCreditBalanceView, toCreditTransactionView } from '../credit-ledger/view.js';
import { linesOf } from '../billing-records/repository.js';
import { toRecordView } from '../billing-records/view.js';
import type { Clock } from '../../core/clock.js';
import { listMeteredBillings } from '../metering/list-metered-billings.js';
import { toMeteredBillingView } from '../metering/view.js';
import { findCurrentSubscription } from '../subscriptions/repository.js';
import { toSubscriptionView } from '../subscriptions/view.js';
import type { TenantRow } from '../tenants/repository.js';
import { toAlertView } from '../usage-alerts/view.js';
import type { DayStats } from '../usage/get-usage-stats.js';
import { toDayStatsView } from '../usage/view.js';
import { exportFields, pick } from './seed-fields.js';

/** Rows read per query: memory stays bounded however much a tenant holds. */
const batchSize = 500;

export type ExportKind =
  | 'subscriptions'
  | 'billing_records'
  | 'credit_balance'
  | 'credit_transactions'
  | 'usage_stats'
  | 'usage_alerts'
  | 'metering_records';

/** One kind of a tenant's data as export items (objects with exactly the seed's fields), batch by batch. */
export type Section = (db: Db, clock: Clock, tenant: TenantRow) => AsyncGenerator<Record<string, unknown>>;

const scopeOf = (tenant: TenantRow): TenantScope => ({ tenantId: tenant.id });

/**
 * Batches by an ascending key: `fetch` reads up to `batchSize` items with keys after the one given.
 * The next batch is read while the consumer writes this one out (the database and the JSON
 * rendering overlap), so at most two batches are held.
 */
async function* batchesByKey<Item, Key>(
  first: Key,
  keyOf: (item: Item) => Key,
  fetch: (after: Key) => Promise<Item[]>,
): AsyncGenerator<Item[]> {
  const readAfter = (after: Key) => {
    const read = fetch(after);
    // Handled here too: a consumer that stops early never awaits the read ahead.
    read.catch(() => undefined);
    return read;
  };
  for (let next = readAfter(first); ;) {
    const items = await next;
    const last = items[items.length - 1];
    const more = items.length === batchSize && last !== undefined;
    if (more) next = readAfter(keyOf(last));
    if (items.length > 0) yield items;
    if (!more) return;
  }
}

const batchesById = <Item extends { id: string }>(fetch: (after: string) => Promise<Item[]>) =>
  batchesByKey('', (item: Item) => item.id, fetch);

async function* subscriptions(db: Db, _clock: Clock, tenant: TenantRow) {
  const batches = batchesById((after) =>
    db
      .selectFrom('subscriptions')
      .selectAll()
      .where('tenant_id', '=', tenant.id)
      .where('id', '>', after)
      .orderBy('id')
      .limit(batchSize)
      .execute(),
  );
  for await (const rows of batches)
    for (const row of rows) yield pick(toSubscriptionView(row), exportFields.subscription);
}

/** A batch of records with their lines, read together so the read-ahead covers both. */
const recordsWithLines = async (db: Db, tenant: TenantRow, after: string) => {
  const records = await db
    .selectFrom('billing_records')
    .selectAll()
    .where('tenant_id', '=', tenant.id)
    .where('id', '>', after)
    .orderBy('id')
    .limit(batchSize)
    .execute();
  const lines = await linesOf(
    db,
    scopeOf(tenant),
    records.map((record) => record.id),
  );
  return records.map((record) => ({ ...record, lines: lines.get(record.id) ?? [] }));
};

async function* billingRecords(db: Db, _clock: Clock, tenant: TenantRow) {
  for await (const records of batchesById((after) => recordsWithLines(db, tenant, after))) {
    for (const record of records) {
      const view = toRecordView(record);
      yield {
        ...pick(view, exportFields.billingRecord),
        line_items: view.line_items.map((line) => pick(line as Record<string, unknown>, exportFields.lineItem)),
      };
    }
  }
}

async function* creditBalance(db: Db, _clock: Clock, tenant: TenantRow) {
  yield pick(toCreditBalanceView(tenant, await findCreditAccount(db, scopeOf(tenant))), exportFields.creditBalance);
}

/** Oldest first in the order they were posted (the cash account's chain), so the balances run on. */
async function* creditTransactions(db: Db, _clock: Clock, tenant: TenantRow) {
  const batches = batchesByKey(
    0n,
    (row: { account_version: bigint }) => row.account_version,
    (after) =>
      accountStatement(db, scopeOf(tenant), tenantCreditAccount)
        .select([...statementColumns, 't.account_version'])
        .where('t.account_version', '>', after)
        .orderBy('t.account_version')
        .limit(batchSize)
        .execute(),
  );
  for await (const rows of batches) {
    for (const row of rows) yield pick(toCreditTransactionView(row, tenant.currency), exportFields.creditTransaction);
  }
}

/** Every day the tenant used anything, all apps added up, oldest first. */
async function* usageStats(db: Db, _clock: Clock, tenant: TenantRow) {
  const batches = batchesByKey(
    '0001-01-01',
    (date: string) => date,
    async (after) =>
      (
        await db
          .selectFrom('usage_daily')
          .select('usage_date')
          .distinct()
          .where('tenant_id', '=', tenant.id)
          .where('usage_date', '>', after)
          .orderBy('usage_date')
          .limit(batchSize)
          .execute()
      ).map((row) => row.usage_date),
  );
  for await (const days of batches) {
    // A batch is never empty: its first and last days bound the totals read for it.
    const totals = await db
      .selectFrom('usage_daily')
      .select(['usage_date', 'resource_type', sql<bigint>`sum(quantity)::bigint`.as('quantity')])
      .where('tenant_id', '=', tenant.id)
      .where('usage_date', '>=', days[0]!)
      .where('usage_date', '<=', days[days.length - 1]!)
      .groupBy(['usage_date', 'resource_type'])
      .execute();
    for (const date of days) {
      const day = { date, metrics: {}, ...Object.fromEntries(resourceTypes.map((type) => [type, 0n])) } as DayStats;
      for (const row of totals) if (row.usage_date === date) day[row.resource_type as ResourceType] = row.quantity;
      // The seed's item has no api_calls: API calls by either name are API requests there.
      yield pick(toDayStatsView({ ...day, api_requests: day.api_requests + day.api_calls }), exportFields.usageStats);
    }
  }
}

async function* usageAlerts(db: Db, _clock: Clock, tenant: TenantRow) {
  const alerts = await db
    .selectFrom('usage_alerts')
    .selectAll()
    .where('tenant_id', '=', tenant.id)
    .orderBy('id')
    .execute();
  for (const alert of alerts) yield pick(toAlertView(alert, { withSecret: false }), exportFields.usageAlert);
}

/** A few rows per period: the metering listing (the current period so far included) is read whole. */
async function* meteringRecords(db: Db, clock: Clock, tenant: TenantRow) {
  const listed = await listMeteredBillings({
    db,
    clock,
    scope: scopeOf(tenant),
    page: { page: 1, page_size: Number.MAX_SAFE_INTEGER },
    findCurrentSubscription,
  });
  if (!listed.ok) return;
  for (const row of listed.value.rows) yield pick(toMeteredBillingView(row), exportFields.meteringRecord);
}

/** The kinds of a tenant's export, in the order they are written. */
export const sections: [ExportKind, Section][] = [
  ['subscriptions', subscriptions],
  ['billing_records', billingRecords],
  ['credit_balance', creditBalance],
  ['credit_transactions', creditTransactions],
  ['usage_stats', usageStats],
  ['usage_alerts', usageAlerts],
  ['metering_records', meteringRecords],
];
