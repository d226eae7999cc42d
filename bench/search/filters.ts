import { createHash } from 'node:crypto';
import type { TenantSpec } from '../lib/volume-records.js';

/**
 * The search filters measured, from a rare status to a keyword that hits one record. The mix (the
 * headline) sends the first seven in turn, as it has since the scenario began; the others are
 * measured alone: more of what the counters answer (an app, whole months, one day).
 */

export interface Filter {
  name: string;
  what: string;
  query: string;
  /** Measured alone only, not in the mix. */
  aloneOnly?: boolean;
}

/** The customer reference the loader gives record n of a tenant: a keyword that hits one record. */
const tokenOf = (tenant: TenantSpec, n: number): string =>
  `ref-${createHash('md5').update(`ref:${tenant.key}:${n}`).digest('hex').slice(0, 10)}`;

export const filtersOf = (big: TenantSpec): Filter[] => [
  { name: 'status-rare', what: 'status=failed (8%)', query: 'status=failed' },
  { name: 'app+status', what: 'one app (1/21) + status=paid', query: 'app_id=app_big_07&status=paid' },
  { name: 'month+status', what: 'March 2025 + paid', query: 'date_from=2025-03-01&date_to=2025-03-31&status=paid' },
  { name: 'amount', what: 'amount 100..200 (~5%)', query: 'min_amount=100&max_amount=200' },
  { name: 'kw-token', what: 'keyword: one reference', query: `search=${tokenOf(big, Math.ceil(big.records / 2))}` },
  {
    name: 'all-filters',
    what: 'app+status+H1+amount+keyword',
    query:
      'app_id=app_big_07&status=paid&date_from=2025-01-01&date_to=2025-06-30&min_amount=100&max_amount=2000&search=subscription',
  },
  { name: 'no-filter', what: 'no filter, page 1', query: '' },
  { name: 'app', what: 'one app (1/21)', query: 'app_id=app_big_07', aloneOnly: true },
  {
    name: 'year+app',
    what: '2025 + one app',
    query: 'date_from=2025-01-01&date_to=2025-12-31&app_id=app_big_07',
    aloneOnly: true,
  },
  {
    name: 'day+status',
    what: 'one day + pending',
    query: 'date_from=2025-07-15&date_to=2025-07-15&status=pending',
    aloneOnly: true,
  },
];
