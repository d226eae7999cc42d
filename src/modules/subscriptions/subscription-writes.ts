import type { Db } from '../../db/database.js';
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

/**
 * Where a subscription's lifecycle writes go: straight to the database (`directWrites`), or held
 * by a billing run's batch and written as one multi-row statement per table when the batch writes
 * (reads see held writes only after that: the batch takes one step per subscription between writes).
 */
export interface SubscriptionWrites extends RecordWrites {
  /** A locked subscription (as the caller holds it) changed by `patch`; returns the row as changed. */
  updateSubscription(
    db: Db,
    scope: TenantScope,
    sub: SubscriptionRow,
    patch: SubscriptionPatch,
    event: NewSubscriptionEvent,
  ): Promise<SubscriptionRow>;
  insertPeriod(db: Db, scope: TenantScope, period: NewPeriod): Promise<void>;
  insertMetered(db: Db, scope: TenantScope, rows: readonly NewMeteredBilling[]): Promise<void>;
  markInvoiced(db: Db, scope: TenantScope, invoiced: readonly InvoicedMetering[]): Promise<void>;
}

const owned = <T extends object>(scope: TenantScope, rows: readonly T[]) =>
  rows.map((row) => ({ ...row, tenant_id: scope.tenantId }));

export const directWrites: SubscriptionWrites = {
  ...directRecordWrites,
  updateSubscription: (db, scope, sub, patch, event) => updateSubscriptionWithEvent(db, scope, sub.id, patch, event),
  insertPeriod: (db, scope, period) => insertPeriods(db, owned(scope, [period])),
  insertMetered: (db, scope, rows) => insertMeteredBillings(db, owned(scope, rows)),
  markInvoiced: (db, scope, invoiced) =>
    markInvoiced(
      db,
      invoiced.map((row) => ({ scope, invoiced: row })),
    ),
};
