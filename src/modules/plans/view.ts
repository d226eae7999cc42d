import { toRfc3339 } from '../../core/clock.js';
import { toMajorNumber } from '../../core/money.js';
import type { PlanDetails, PlanResourceRow } from './repository.js';
import type { PlanResourceView, PlanView } from './schemas.js';

/** A resource's charge with the fields of its model only. */
export const toPlanResourceView = (resource: PlanResourceRow): PlanResourceView => ({
  resource_type: resource.resource_type,
  charge_model: resource.charge_model,
  // Capped at Number.MAX_SAFE_INTEGER on the way in (or a tier's up_to, likewise), so exact as a JSON number.
  included_units: Number(resource.included_units),
  ...(resource.overage_unit_price === null ? {} : { overage_unit_price: resource.overage_unit_price }),
  ...(resource.tiers === null ? {} : { tiers: resource.tiers }),
  ...(resource.package_size === null ? {} : { package_size: Number(resource.package_size) }),
  ...(resource.package_price === null ? {} : { package_price: resource.package_price }),
});

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
  resources: resources.map(toPlanResourceView),
  versions,
  created_at: toRfc3339(plan.created_at),
  updated_at: toRfc3339(plan.updated_at),
});
