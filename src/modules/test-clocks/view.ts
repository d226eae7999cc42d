import { toRfc3339 } from '../../core/clock.js';
import type { AdvanceSummary } from './advance-test-clock.js';
import type { TestClockRow } from './repository.js';
import type { TestClockAdvanceView, TestClockView } from './schemas.js';

export const toTestClockView = (row: TestClockRow): TestClockView => ({
  id: row.id,
  name: row.name,
  frozen_time: toRfc3339(row.frozen_time),
  status: row.status,
  advancing_to: row.advancing_to === null ? null : toRfc3339(row.advancing_to),
  created_at: toRfc3339(row.created_at),
  updated_at: toRfc3339(row.updated_at),
});

export const toTestClockAdvanceView = (row: TestClockRow, summary: AdvanceSummary): TestClockAdvanceView => ({
  test_clock: toTestClockView(row),
  from: toRfc3339(summary.from),
  to: toRfc3339(summary.to),
  steps: summary.steps,
  subscriptions: summary.subscriptions,
  settled_days: summary.settledDays,
  alerts_fired: summary.alertsFired,
  failures: summary.failures.map((failure) => ({
    step: toRfc3339(failure.step),
    tenant_id: failure.tenantId,
    subscription_id: failure.subscriptionId,
    error: failure.error,
  })),
});
