import { toRfc3339 } from '../../core/clock.js';
import type { MeteredBilling } from './list-metered-billings.js';

export const toMeteredBillingView = (row: MeteredBilling) => ({
  resource_type: row.resourceType,
  period_start: toRfc3339(row.periodStart),
  period_end: toRfc3339(row.periodEnd),
  total_usage: Number(row.totalUsage),
  included_units: Number(row.includedUnits),
  overage_units: Number(row.overageUnits),
  overage_amount: row.overageAmount,
  status: row.status,
  charge_model: row.chargeModel,
  overage_unit_price: row.overageUnitPrice,
  record_id: row.recordId,
});
