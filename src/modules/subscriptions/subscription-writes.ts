import type { DbTransaction } from '../../db/database.js';
import type { TenantScope } from '../../core/principal.js';
import { directRecordWrites, type RecordWrites } from '../billing-records/record-writes.js';
import {
  insertMeteredBillings,
  markInvoiced,
  type InvoicedMetering,
  type NewMeteredBilling,
} from '../metering/repository.js';
import {
  insertPeriods,
  updateSubscriptionWithEvent,
  type NewPeriod,
  type NewSubscriptionEvent,
  type SubscriptionPatch,
  type SubscriptionRow,
} from './repository.js';

/** A locked subscription (as the caller holds it) changed by `patch`, and the history entry of the change. */
export interface SubscriptionUpdate {
  trx: DbTransaction;
  scope: TenantScope;
  sub: SubscriptionRow;
  patch: SubscriptionPatch;
  event: NewSubscriptionEvent;
}

/**
 * Where a subscription's lifecycle writes go: straight to the database (`directWrites`), or held
 * by a billing run's batch and written as one multi-row statement per table when the batch writes
 * (reads see held writes only after that: the batch takes one step per subscription between writes).
 */
export interface SubscriptionWrites extends RecordWrites {
  /** Returns the row as changed. */
  updateSubscription(update: SubscriptionUpdate): Promise<SubscriptionRow>;
  insertPeriod(trx: DbTransaction, scope: TenantScope, period: NewPeriod): Promise<void>;
  insertMetered(trx: DbTransaction, scope: TenantScope, rows: readonly NewMeteredBilling[]): Promise<void>;
  markInvoiced(trx: DbTransaction, scope: TenantScope, invoiced: readonly InvoicedMetering[]): Promise<void>;
}

const owned = <T extends object>(scope: TenantScope, rows: readonly T[]) =>
  rows.map((row) => ({ ...row, tenant_id: scope.tenantId }));

export const directWrites: SubscriptionWrites = {
  ...directRecordWrites,
  updateSubscription: ({ trx, scope, sub, patch, event }) =>
    updateSubscriptionWithEvent({ trx, scope, subscriptionId: sub.id, patch, event }),
  insertPeriod: (trx, scope, period) => insertPeriods(trx, owned(scope, [period])),
  insertMetered: (trx, scope, rows) => insertMeteredBillings(trx, owned(scope, rows)),
  markInvoiced: (trx, scope, invoiced) =>
    markInvoiced(
      trx,
      invoiced.map((row) => ({ scope, invoiced: row })),
    ),
};
