import type { Db } from '../../db/database.js';
import type { TenantScope } from '../../core/principal.js';
import { usageOverDays, usageOverSpans, type UsageSpan } from '../usage/repository.js';
import { findPendingMetering, type MeteredBillingRow } from './repository.js';

/** What closing a subscription's metered periods reads: read directly, or a billing run batch's at once. */
export interface MeteringReads {
  /** Its pending metered periods' rows, oldest period first, then by resource type. */
  pending(db: Db, scope: TenantScope, subscriptionId: string): Promise<MeteredBillingRow[]>;
  /** The tenant's usage of each resource over whole days [from, until). */
  usage(db: Db, scope: TenantScope, from: string, until: string): Promise<Map<string, bigint>>;
}

const spanOf = (tenantId: string, from: string, until: string): UsageSpan => ({ tenantId, from, until, appId: null });

export const directMeteringReads: MeteringReads = {
  pending: (db, scope, subscriptionId) => findPendingMetering(db, [{ tenant_id: scope.tenantId, id: subscriptionId }]),
  usage: (db, scope, from, until) => usageOverDays({ db, scope, from, until }),
};

/**
 * Reads for a batch of subscriptions about to close metering as of `asOf`, in two statements:
 * their pending rows, and the usage of every period due by then. Valid until the batch writes
 * metering (it reads again after); anything else is read directly.
 */
export const batchMeteringReads = async (
  db: Db,
  subs: readonly { tenant_id: string; id: string }[],
  asOf: Date,
): Promise<MeteringReads> => {
  const rows = await findPendingMetering(db, subs);
  const pending = new Map<string, MeteredBillingRow[]>(subs.map((sub) => [`${sub.tenant_id}|${sub.id}`, []]));
  for (const row of rows) pending.get(`${row.tenant_id}|${row.subscription_id}`)?.push(row);
  const spans = new Map<string, UsageSpan>();
  for (const row of rows.filter((row) => row.closes_at <= asOf)) {
    spans.set(
      `${row.tenant_id}|${row.usage_from}|${row.usage_until}`,
      spanOf(row.tenant_id, row.usage_from, row.usage_until),
    );
  }
  const totals = await usageOverSpans(db, [...spans.values()]);
  const usage = new Map([...spans.keys()].map((key, i) => [key, totals[i] ?? new Map<string, bigint>()]));
  return {
    pending: async (db, scope, subscriptionId) =>
      pending.get(`${scope.tenantId}|${subscriptionId}`) ?? directMeteringReads.pending(db, scope, subscriptionId),
    usage: async (db, scope, from, until) =>
      usage.get(`${scope.tenantId}|${from}|${until}`) ?? directMeteringReads.usage(db, scope, from, until),
  };
};
