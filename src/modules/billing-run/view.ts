import { toRfc3339 } from '../../core/clock.js';
import type { BillingRunSummary } from './billing-run.js';

export const toBillingRunView = (summary: BillingRunSummary) => ({
  as_of: toRfc3339(summary.asOf),
  subscriptions: summary.subscriptions,
  steps: summary.steps,
  reminders: summary.reminders,
  failures: summary.failures.map((failure) => ({
    tenant_id: failure.tenantId,
    subscription_id: failure.subscriptionId,
    error: failure.error,
  })),
});
