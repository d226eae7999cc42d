import { Type } from 'typebox';
import { pageQueryFields } from '../../http/pagination.js';

const count = Type.Integer({ minimum: 0 });

export const MeteringQuery = Type.Object(pageQueryFields, { additionalProperties: false });

export const MeteredBillingSchema = Type.Object(
  {
    resource_type: Type.String({ examples: ['api_requests'] }),
    period_start: Type.String({ examples: ['2026-05-01T00:00:00Z'] }),
    period_end: Type.String({ examples: ['2026-06-01T00:00:00Z'] }),
    total_usage: count,
    included_units: count,
    overage_units: Type.Integer({
      minimum: 0,
      description: 'Billable units: above the free ones (for volume pricing, all of them once past the free ones)',
    }),
    overage_amount: Type.String({
      examples: ['12.5000'],
      description: "What the usage costs by the period's charge model, exact, in major units",
    }),
    status: Type.String({
      examples: ['pending'],
      description: 'pending (period open or in its late-event window), invoiced, or paid (also: nothing owed)',
    }),
    charge_model: Type.String({
      examples: ['per_unit'],
      description: 'per_unit, graduated, volume or package: as the plan version had it (docs/pricing.md)',
    }),
    overage_unit_price: Type.Union([Type.String(), Type.Null()], {
      examples: ['0.0005'],
      description: 'per_unit only',
    }),
    record_id: Type.Union([Type.String(), Type.Null()], { description: 'The usage record it was invoiced on' }),
  },
  { $id: 'MeteredBilling' },
);
