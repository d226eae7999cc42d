import type { Clock } from '../../core/clock.js';
import { notFound } from '../../core/errors.js';
import { fail, ok, type Result } from '../../core/result.js';
import type { Db } from '../../db/database.js';
import { findPlanDetails, updatePlan as updatePlanRow, type PlanDetails } from './repository.js';
import type { UpdatePlanInput } from './schemas.js';

/** Renames, describes, archives or re-activates a plan; its prices live in versions and are not touched. */
export const updatePlan = (
  db: Db,
  clock: Clock,
  planId: string,
  input: UpdatePlanInput,
): Promise<Result<PlanDetails>> =>
  db.transaction().execute(async (trx) => {
    const row = await updatePlanRow(trx, planId, {
      ...(input.name === undefined ? {} : { name: input.name }),
      ...(input.description === undefined ? {} : { description: input.description }),
      ...(input.status === undefined ? {} : { status: input.status }),
      updated_at: clock.now(),
    });
    if (row === undefined) return fail(notFound('plan'));
    const { details } = await findPlanDetails(trx, planId);
    if (details === undefined) throw new Error(`plan ${planId} has no current version`);
    return ok(details);
  });
