import type { BillingCycle } from '../../core/billing-calendar.js';
import { AppError, invalidParameter, notFound } from '../../core/errors.js';
import { fail, ok, type Result } from '../../core/result.js';
import type { Db } from '../../db/database.js';
import { directPlanLookup, type PlanLookup } from '../plans/plan-lookup.js';
import type { PlanRow, PlanVersionRow } from '../plans/repository.js';
import { findPlan, findPlanVersion } from '../plans/repository.js';
import type { TenantRow } from '../tenants/repository.js';

/** What a subscription is sold at: one plan version, one cycle, its price per cycle. */
export interface PlanTerms {
  plan: PlanRow;
  version: PlanVersionRow;
  cycle: BillingCycle;
  /** Minor units per cycle. */
  amount: bigint;
}

/** The price of a pinned version in a cycle; null when the version has no price for it. */
export const priceFor = (version: PlanVersionRow, cycle: BillingCycle): bigint | null =>
  cycle === 'monthly' ? version.monthly_price : version.yearly_price;

/**
 * The current version of a plan, for sale to this tenant in this cycle: the plan is active, bills
 * in the tenant's currency and has a price for the cycle. Each refusal names the body field.
 */
export const termsForSale = async (
  db: Db,
  tenant: TenantRow,
  planId: string,
  cycle: BillingCycle,
): Promise<Result<PlanTerms>> => {
  const plan = await findPlan(db, planId);
  if (plan === undefined) return fail(notFound(`plan ${planId}`));
  if (plan.status !== 'active') {
    return fail(new AppError('unprocessable', `plan ${planId} is archived and cannot be subscribed to`));
  }
  const version = await findPlanVersion(db, planId, plan.current_version);
  if (version === undefined) throw new Error(`plan ${planId} has no version ${plan.current_version}`);
  if (version.currency !== tenant.currency) {
    return fail(
      new AppError(
        'unprocessable',
        `plan ${planId} is priced in ${version.currency}, the tenant is billed in ${tenant.currency}`,
      ),
    );
  }
  const amount = priceFor(version, cycle);
  if (amount === null) {
    return fail(invalidParameter('body', 'billing_cycle', `plan ${planId} has no ${cycle} price`));
  }
  return ok({ plan, version, cycle, amount });
};

export interface PinnedTermsArgs {
  db: Db;
  planId: string;
  versionNumber: number;
  cycle: BillingCycle;
  /** Where plans are read; straight from the database when absent. */
  plans?: PlanLookup | undefined;
}

/** The terms a subscription is pinned to (or scheduled for), read back. */
export const pinnedTerms = async ({
  db,
  planId,
  versionNumber,
  cycle,
  plans = directPlanLookup,
}: PinnedTermsArgs): Promise<PlanTerms> => {
  const [plan, version] = await Promise.all([plans.plan(db, planId), plans.version(db, planId, versionNumber)]);
  const amount = version === undefined ? null : priceFor(version, cycle);
  // Foreign keys and the checks at sale keep these present; a missing one is a bug.
  if (plan === undefined || version === undefined || amount === null) {
    throw new Error(`plan ${planId} version ${versionNumber} has no ${cycle} price`);
  }
  return { plan, version, cycle, amount };
};

export const cycleLabel = (cycle: BillingCycle): string => (cycle === 'monthly' ? 'Monthly' : 'Yearly');
