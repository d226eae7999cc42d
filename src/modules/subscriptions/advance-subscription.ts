import { clockAt } from '../../core/clock.js';
import { sendTenantOverdueReminders } from '../billing-records/send-overdue-reminders.js';
import type { DbTransaction } from '../../db/database.js';
import type { TenantScope } from '../../core/principal.js';
import type { PlanLookup } from '../plans/plan-lookup.js';
import type { CreditBalances } from './credit-balances.js';
import { findTenant, type TenantRow } from '../tenants/repository.js';
import { collectPayment } from './collect-payment.js';
import { closeDueMetering, meterEndedPeriod } from './meter-periods.js';
import type { SubscriptionContext } from './issue-invoice.js';
import { afterCollection, dueStep, endedFields, type DueStep, type DueStepKind } from './lifecycle.js';
import { pinnedTerms } from './plan-terms.js';
import { liveStatuses } from '../../db/schema.js';
import { lockLiveSubscription, type SubscriptionRow } from './repository.js';
import { sendTrialReminderBatch } from './send-trial-reminders.js';
import { settleIfPaid } from './settle-open-invoice.js';
import { startPaidPeriod } from './start-period.js';
import { directWrites, type SubscriptionWrites } from './subscription-writes.js';
import type { MeteringReads } from '../metering/metering-reads.js';
import { transition } from './transition.js';

/** Who the billing run's steps are recorded as, also when a request catches a subscription up. */
export const billingRunActor = 'billing-run';

/** More steps than any subscription can owe (a monthly one untouched for 80 years): a loop guard. */
export const maxStepsPerRun = 1000;

export interface AdvanceOptions {
  actor?: string;
  /** The subscription's tenant when the caller has read it already (a billing run reads a batch's at once). */
  tenant?: TenantRow | undefined;
  plans?: PlanLookup;
  balances?: CreditBalances;
  writes?: SubscriptionWrites;
  metering?: MeteringReads;
  /**
   * Steps to take at most, the rest left due: a billing run's batch takes one step of each of its
   * subscriptions per round and writes what it holds between rounds.
   */
  stepLimit?: number;
}

/**
 * Does everything a locked subscription owes up to `asOf`, oldest first, each step dated at its
 * own instant: a run as of T is the same whenever it happens, and a second run finds nothing to do.
 */
export const advanceSubscription = async (
  trx: DbTransaction,
  locked: SubscriptionRow,
  asOf: Date,
  { actor = billingRunActor, tenant: known, writes = directWrites, stepLimit, ...shared }: AdvanceOptions = {},
): Promise<{ sub: SubscriptionRow; steps: DueStepKind[] }> => {
  const scope = { tenantId: locked.tenant_id };
  const tenant = known ?? (await findTenant(trx, scope));
  if (tenant === undefined) throw new Error(`tenant ${locked.tenant_id} of subscription ${locked.id} vanished`);
  const ctx: SubscriptionContext = { trx, scope, tenant, actor, writes, ...shared };
  let sub = await settleIfPaid({ trx, scope, sub: locked, actor, writes });
  const done: DueStepKind[] = [];
  for (let step = dueStep(sub, asOf); step !== undefined; step = dueStep(sub, asOf)) {
    if (done.length === stepLimit) break;
    if (done.length >= maxStepsPerRun) throw new Error(`subscription ${sub.id} owes more than ${maxStepsPerRun} steps`);
    sub = await applyStep(ctx, sub, step);
    done.push(step.kind);
  }
  return { sub, steps: done };
};

/**
 * The tenant's live subscription, locked and brought up to `now` first: a request never acts on
 * a period the billing run has not got to yet. Undefined when none is live (any more). The
 * tenant's reminders due by now are written too, in the order the billing run writes them: the
 * trial's before its steps, overdue records (those the steps just issued among them) after.
 */
export const lockUpToDateSubscription = async (
  trx: DbTransaction,
  scope: TenantScope,
  now: Date,
): Promise<SubscriptionRow | undefined> => {
  const locked = await lockLiveSubscription(trx, scope);
  if (locked !== undefined) await sendTrialReminderBatch(trx, { asOf: now, limit: 1, tenantIds: [scope.tenantId] });
  const advanced = locked === undefined ? undefined : (await advanceSubscription(trx, locked, now)).sub;
  await sendTenantOverdueReminders(trx, scope.tenantId, now);
  return advanced !== undefined && (liveStatuses as readonly string[]).includes(advanced.status) ? advanced : undefined;
};

const applyStep = async (ctx: SubscriptionContext, sub: SubscriptionRow, step: DueStep): Promise<SubscriptionRow> => {
  const { trx, scope, tenant, actor, writes } = ctx;
  const at = step.at;
  switch (step.kind) {
    case 'usage_close': {
      const { patch, recordId } = await closeDueMetering(ctx, sub, at);
      return transition({ trx, scope, sub, patch, event: { kind: 'usage_invoiced', actor, recordId }, at, writes });
    }
    case 'payment_retry': {
      const recordId = sub.open_record_id;
      if (recordId === null) throw new Error(`past-due subscription ${sub.id} has no open invoice`);
      const collected = await collectPayment({ ctx, clock: clockAt(at), sub, recordId });
      const patch = afterCollection({ sub, paid: collected.paid, recordId, at, timeZone: tenant.time_zone });
      const reason = collected.paid ? null : collected.reason;
      return transition({
        trx,
        scope,
        sub,
        patch,
        event: { kind: 'payment_retried', actor, recordId, reason },
        at,
        writes,
      });
    }
    case 'grace_expiry':
      return transition({
        trx,
        scope,
        sub,
        patch: { status: 'suspended', next_payment_attempt_at: null, grace_ends_at: null },
        event: { kind: 'suspended', actor, recordId: sub.open_record_id, reason: 'grace period over, invoice unpaid' },
        at,
        writes,
      });
    case 'trial_end':
    case 'period_end':
      return endPeriod(ctx, sub, step);
  }
};

/** The end of a trial or a period: the subscription ends, or its next period starts with any scheduled change. */
const endPeriod = async (ctx: SubscriptionContext, ended: SubscriptionRow, step: DueStep): Promise<SubscriptionRow> => {
  const { trx, scope, actor, plans, writes } = ctx;
  const at = step.at;
  const ending =
    ended.status === 'past_due' || ended.status === 'suspended'
      ? { status: 'canceled' as const, reason: 'invoice unpaid at period end' }
      : ended.cancel_at_period_end
        ? { status: 'canceled' as const, reason: 'canceled at period end' }
        : !ended.auto_renew
          ? { status: 'expired' as const, reason: 'not renewed: auto_renew is off' }
          : undefined;
  const metering =
    step.kind === 'period_end'
      ? await meterEndedPeriod(ctx, ended, ended.current_period_end, ending !== undefined)
      : {};
  const sub = { ...ended, ...metering };
  if (ending !== undefined) {
    const event = { kind: ending.status, actor, reason: ending.reason, recordId: sub.open_record_id };
    return transition({
      trx,
      scope,
      sub: ended,
      patch: { ...metering, ...endedFields(ending.status, at) },
      event,
      at,
      writes,
    });
  }
  const terms =
    sub.scheduled_plan_id !== null && sub.scheduled_plan_version !== null && sub.scheduled_billing_cycle !== null
      ? await pinnedTerms({
          db: trx,
          planId: sub.scheduled_plan_id,
          versionNumber: sub.scheduled_plan_version,
          cycle: sub.scheduled_billing_cycle,
          plans,
        })
      : await pinnedTerms({
          db: trx,
          planId: sub.plan_id,
          versionNumber: sub.plan_version,
          cycle: sub.billing_cycle,
          plans,
        });
  // A new cycle starts its own calendar at the boundary; otherwise periods keep counting from the anchor.
  const newCalendar = step.kind === 'trial_end' || terms.cycle !== sub.billing_cycle;
  const period = newCalendar
    ? { terms, anchor: sub.current_period_end, index: 0 }
    : { terms, anchor: sub.billing_anchor, index: sub.period_index + 1 };
  const kind = step.kind === 'trial_end' ? 'trial_ended' : 'renewed';
  return startPaidPeriod({ ctx, sub: ended, period, event: { kind }, at, carried: metering });
};
