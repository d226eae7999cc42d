import { sql, type RawBuilder } from 'kysely';

/**
 * A condition on a row's `tenant_id`: its tenant lives on this test clock, or, for null, on real
 * time. Time-driven work is run per clock: the scheduler for real time, an advance for its clock.
 */
export const tenantOnClock = (testClockId: string | null): RawBuilder<boolean> =>
  testClockId === null
    ? sql<boolean>`tenant_id not in (select id from tenants where test_clock_id is not null)`
    : sql<boolean>`tenant_id in (select id from tenants where test_clock_id = ${testClockId})`;
