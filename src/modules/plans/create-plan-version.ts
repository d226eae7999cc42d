import type { Clock } from '../../core/clock.js';
import { notFound } from '../../core/errors.js';
import { fail, ok, type Result } from '../../core/result.js';
import type { Db } from '../../db/database.js';
import { checkPlanMetrics, validatePriceList } from './price-list.js';
import { findPlanDetails, findPlanForUpdate, insertPlanVersion, updatePlan, type PlanDetails } from './repository.js';
import type { PriceListInput } from './schemas.js';

/**
 * Prices change by adding a version, never by editing one: the new version is current + 1 and
 * becomes the plan's current version. The plan row is locked first, so concurrent calls queue
 * and each gets its own number. Earlier versions stay as they were, for whatever was billed from them.
 */
export const createPlanVersion = async (
  db: Db,
  clock: Clock,
  planId: string,
  input: PriceListInput,
): Promise<Result<PlanDetails>> => {
  const priceList = validatePriceList(input);
  if (!priceList.ok) return priceList;
  const { resources, ...prices } = priceList.value;
  const metrics = await checkPlanMetrics(db, resources);
  if (!metrics.ok) return metrics;
  return db.transaction().execute(async (trx) => {
    const plan = await findPlanForUpdate(trx, planId);
    if (plan === undefined) return fail(notFound('plan'));
    const now = clock.now();
    const number = plan.current_version + 1;
    await insertPlanVersion(trx, { plan_id: plan.id, version: number, ...prices, created_at: now }, resources);
    await updatePlan(trx, plan.id, { current_version: number, updated_at: now });
    const { details } = await findPlanDetails(trx, plan.id);
    if (details === undefined) throw new Error(`plan ${plan.id} lost its version ${number}`);
    return ok(details);
  });
};
