import type { PageRequest } from '../../core/pagination.js';
import { ok, type Result } from '../../core/result.js';
import type { Db } from '../../db/database.js';
import { listPlans as listPlanRows, type PlanDetails } from './repository.js';
import type { ListPlansFilter } from './schemas.js';

/** One page of plans, each with its current version; newest first, ties by id. */
export const listPlans = async (
  db: Db,
  filter: ListPlansFilter & PageRequest,
): Promise<Result<{ rows: PlanDetails[]; total: number }>> => ok(await listPlanRows(db, filter));
