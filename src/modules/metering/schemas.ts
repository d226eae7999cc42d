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
    overage_units: count,
    overage_amount: Type.String({ examples: ['12.5000'], description: 'Exact, in major units' }),
    status: Type.String({
      examples: ['pending'],
      description: 'pending (period open or in its late-event window), invoiced, or paid (also: nothing owed)',
    }),
    overage_unit_price: Type.String({ examples: ['0.0005'] }),
    record_id: Type.Union([Type.String(), Type.Null()], { description: 'The usage record it was invoiced on' }),
  },
  { $id: 'MeteredBilling' },
);
