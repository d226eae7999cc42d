import { notFound } from '../../core/errors.js';
import { fail, ok, type Result } from '../../core/result.js';
import type { Db } from '../../db/database.js';
import { findPlanDetails, type PlanDetails } from './repository.js';

/** The plan with its current version, or with the version asked for. */
export const getPlan = async (db: Db, planId: string, version?: number): Promise<Result<PlanDetails>> => {
  const { plan, details } = await findPlanDetails(db, planId, version);
  if (plan === undefined) return fail(notFound('plan'));
  if (details === undefined) return fail(notFound(`version ${version ?? plan.current_version} of plan ${planId}`));
  return ok(details);
};
