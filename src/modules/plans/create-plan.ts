import type { Clock } from '../../core/clock.js';
import { AppError } from '../../core/errors.js';
import { fail, ok, type Result } from '../../core/result.js';
import type { Db } from '../../db/database.js';
import { checkPlanMetrics, validatePriceList } from './price-list.js';
import { insertPlan, insertPlanVersion, type PlanDetails } from './repository.js';
import type { CreatePlanInput } from './schemas.js';

/** Creates a plan and its version 1 in one transaction; a taken plan id is a conflict. */
export const createPlan = async (db: Db, clock: Clock, input: CreatePlanInput): Promise<Result<PlanDetails>> => {
  const priceList = validatePriceList(input);
  if (!priceList.ok) return priceList;
  const { resources, ...prices } = priceList.value;
  const metrics = await checkPlanMetrics(db, resources);
  if (!metrics.ok) return metrics;
  const now = clock.now();
  return db.transaction().execute(async (trx) => {
    const plan = await insertPlan(trx, {
      id: input.plan_id,
      name: input.name,
      description: input.description ?? '',
      status: 'active',
      current_version: 1,
      created_at: now,
      updated_at: now,
    });
    if (plan === undefined) return fail(new AppError('conflict', `plan ${input.plan_id} already exists`));
    const written = await insertPlanVersion(
      trx,
      { plan_id: plan.id, version: 1, ...prices, created_at: now },
      resources,
    );
    return ok({ plan, version: written.version, resources: written.resources, versions: [1] });
  });
};
