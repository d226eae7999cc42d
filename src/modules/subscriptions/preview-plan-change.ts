import type { Result } from '../../core/result.js';
import { ok } from '../../core/result.js';
import { findRecord, type RecordWithLines } from '../billing-records/repository.js';
import type { TenantRequest } from '../tenant-context.js';
import { changePlan, type ChangePlanInput } from './change-plan.js';
import type { SubscriptionRow } from './repository.js';
import { watchWrites } from './watched-writes.js';

export interface PlanChangePreview {
  /** When the new terms apply: now, or at the period end (scheduled). */
  effective: 'immediately' | 'at_period_end';
  sub: SubscriptionRow;
  /** The proration invoice of an upgrade, as written and collected. */
  invoice: RecordWithLines | null;
  /** Minor units a downgrade credits to the balance. */
  credit: bigint | null;
}

/**
 * What `changePlan` does with this input, worked out by doing it through watched writes: the
 * subscription after it, the proration invoice it issues and the credit it posts. Run it in a
 * transaction the caller rolls back. Refuses what the change refuses, the same way.
 */
export const previewPlanChange = async (
  request: TenantRequest<ChangePlanInput>,
): Promise<Result<PlanChangePreview>> => {
  const { trx, scope } = request;
  const watched = watchWrites();
  const changed = await changePlan({ ...request, writes: watched.writes });
  if (!changed.ok) return changed;
  const sub = changed.value;
  // An upgrade writes one record, its proration invoice; nothing else a change does writes one.
  const [recordId] = watched.recordIds;
  const invoice = recordId === undefined ? null : ((await findRecord(trx, scope, recordId)) ?? null);
  const credits = watched.credits.filter((movement) => movement.type === 'credit' && movement.source === 'proration');
  return ok({
    effective: sub.scheduled_plan_id === null ? 'immediately' : 'at_period_end',
    sub,
    invoice,
    credit: credits.length === 0 ? null : credits.reduce((sum, movement) => sum + movement.amount, 0n),
  });
};
