import { toRfc3339 } from '../../core/clock.js';
import { toMajorNumber } from '../../core/money.js';
import type { PlanDetails } from './repository.js';
import type { PlanView } from './schemas.js';

export const toPlanView = ({ plan, version, resources, versions }: PlanDetails): PlanView => ({
  plan_id: plan.id,
  name: plan.name,
  description: plan.description,
  status: plan.status,
  version: version.version,
  currency: version.currency,
  monthly_price: version.monthly_price === null ? null : toMajorNumber(version.monthly_price, version.currency),
  yearly_price: version.yearly_price === null ? null : toMajorNumber(version.yearly_price, version.currency),
  trial_days: version.trial_days,
  grace_period_days: version.grace_period_days,
  downgrade_policy: version.downgrade_policy,
  resources: resources.map((resource) => ({
    resource_type: resource.resource_type,
    // Capped at Number.MAX_SAFE_INTEGER on the way in, so exact as a JSON number.
    included_units: Number(resource.included_units),
    overage_unit_price: resource.overage_unit_price,
  })),
  versions,
  created_at: toRfc3339(plan.created_at),
  updated_at: toRfc3339(plan.updated_at),
});
