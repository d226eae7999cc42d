import { notFound } from '../../core/errors.js';
import { fail, ok, type Result } from '../../core/result.js';
import { findRecord, type RecordWithLines } from '../billing-records/repository.js';
import type { TenantTransaction } from '../tenant-context.js';
import { findTenant } from '../tenants/repository.js';
import { lateEventWindowMs } from '../usage/usage-event.js';
import { advanceSubscription, lockUpToDateSubscription } from './advance-subscription.js';
import { watchWrites } from './watched-writes.js';

export interface UpcomingInvoice {
  periodStart: Date;
  periodEnd: Date;
  currency: string;
  /** What the period's end issues, as written and collected: the next period's fee, then the period's usage. */
  records: RecordWithLines[];
}

/**
 * What the end of the current period will invoice if usage stopped now, worked out by doing it:
 * the subscription is brought up to now, then advanced as the billing run would advance it up to
 * the close of this period's metering (its end plus the late-event window), every step at its own
 * instant — the renewal with any scheduled change (none when it cancels or expires), then the
 * usage invoice priced by the charge models; both are collected, the credit balance first. Run it
 * in a transaction the caller rolls back: it writes all of that. Steps due before the period ends
 * (a payment retry, an earlier period's usage close) run too, as they would, but what they issue
 * is not part of the answer; a past-due subscription still unpaid at the period end is canceled
 * there, so its answer is the usage alone.
 */
export const previewUpcomingInvoice = async ({
  trx,
  clock,
  scope,
}: TenantTransaction): Promise<Result<UpcomingInvoice>> => {
  const tenant = await findTenant(trx, scope);
  if (tenant === undefined) return fail(notFound('tenant'));
  const sub = await lockUpToDateSubscription(trx, scope, clock.now());
  if (sub === undefined) return fail(notFound('live subscription'));
  const { current_period_start: periodStart, current_period_end: periodEnd } = sub;
  const watched = watchWrites();
  const usageClose = new Date(periodEnd.getTime() + lateEventWindowMs);
  await advanceSubscription(trx, sub, usageClose, { tenant, writes: watched.writes });
  const renewalId = watched.periods.find(
    (period) => new Date(period.period_start).getTime() === periodEnd.getTime(),
  )?.record_id;
  const usageId = watched.invoiced.find(
    (row) => row.periodStart.getTime() === periodStart.getTime() && row.recordId !== null,
  )?.recordId;
  const records: RecordWithLines[] = [];
  for (const recordId of [renewalId, usageId]) {
    if (recordId === undefined || recordId === null) continue;
    const record = await findRecord(trx, scope, recordId);
    if (record === undefined) throw new Error(`record ${recordId} written by the preview is not there`);
    records.push(record);
  }
  return ok({ periodStart, periodEnd, currency: tenant.currency, records });
};
