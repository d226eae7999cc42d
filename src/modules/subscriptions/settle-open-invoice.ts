import type { RecordRequest } from '../billing-records/record-request.js';
import { findTenant } from '../tenants/repository.js';
import { afterCollection } from './lifecycle.js';
import { lockSubscriptionOwingRecord, type SubscriptionRow } from './repository.js';
import { directWrites } from './subscription-writes.js';
import { transition, type LockedSubscription } from './transition.js';

const restore = async ({
  trx,
  scope,
  sub,
  recordId,
  actor,
  at,
  writes,
}: LockedSubscription & { recordId: string; actor: string; at: Date }) => {
  const tenant = await findTenant(trx, scope);
  if (tenant === undefined) throw new Error(`tenant ${scope.tenantId} of subscription ${sub.id} vanished`);
  const patch = afterCollection({ sub, paid: true, recordId, at, timeZone: tenant.time_zone });
  return transition({ trx, scope, sub, patch, event: { kind: 'payment_recovered', actor, recordId }, at, writes });
};

/**
 * After a record was paid (by an admin, from the balance): a past-due or suspended subscription
 * that owed it is active again. A billing run holding the subscription is not waited for: it
 * finds the record paid itself (`settleIfPaid`).
 */
export const restoreAfterPayment = async ({ trx, clock, scope, recordId, actor }: RecordRequest): Promise<void> => {
  const sub = await lockSubscriptionOwingRecord(trx, scope, recordId);
  if (sub === undefined) return;
  await restore({ trx, scope, sub, recordId, actor, at: clock.now() });
};

/** For the billing run: a locked subscription whose open invoice was paid meanwhile becomes active, dated at the payment. */
export const settleIfPaid = async ({
  trx,
  scope,
  sub,
  actor,
  writes = directWrites,
}: LockedSubscription & { actor: string }): Promise<SubscriptionRow> => {
  if (sub.open_record_id === null) return sub;
  const record = await writes.lockRecord(trx, scope, sub.open_record_id);
  if (record?.status !== 'paid') return sub;
  const at = record.updated_at > sub.updated_at ? record.updated_at : sub.updated_at;
  return restore({ trx, scope, sub, recordId: record.id, actor, at, writes });
};
