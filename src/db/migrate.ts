import { Migrator, type Kysely, type Migration, type MigrationResultSet } from 'kysely';
import * as foundation from './migrations/0001_foundation.js';
import * as billingRecords from './migrations/0002_billing_records.js';
import * as creditLedger from './migrations/0003_credit_ledger.js';
import * as subscriptions from './migrations/0004_subscriptions.js';
import * as usage from './migrations/0005_usage.js';
import * as usageAlerts from './migrations/0006_usage_alerts.js';
import * as exportAudit from './migrations/0007_export_audit.js';
import * as payg from './migrations/0008_payg.js';
import * as ledgerStatementOrder from './migrations/0009_ledger_statement_order.js';
import * as events from './migrations/0010_events.js';
import * as webhooks from './migrations/0011_webhooks.js';
import * as testClocks from './migrations/0012_test_clocks.js';
import * as reminders from './migrations/0013_reminders.js';
import * as chargeModels from './migrations/0014_charge_models.js';
import * as billableMetrics from './migrations/0015_billable_metrics.js';
import * as billingRecordCounts from './migrations/0016_billing_record_counts.js';
import * as billingProfiles from './migrations/0017_billing_profiles.js';

/** Listed in code, not read from a folder, so the same set runs under tsx, a bundle or tests. */
const migrations: Record<string, Migration> = {
  '0001_foundation': foundation,
  '0002_billing_records': billingRecords,
  '0003_credit_ledger': creditLedger,
  '0004_subscriptions': subscriptions,
  '0005_usage': usage,
  '0006_usage_alerts': usageAlerts,
  '0007_export_audit': exportAudit,
  '0008_payg': payg,
  '0009_ledger_statement_order': ledgerStatementOrder,
  '0010_events': events,
  '0011_webhooks': webhooks,
  '0012_test_clocks': testClocks,
  '0013_reminders': reminders,
  '0014_charge_models': chargeModels,
  '0015_billable_metrics': billableMetrics,
  '0016_billing_record_counts': billingRecordCounts,
  '0017_billing_profiles': billingProfiles,
};

/** Applies the pending migrations, or only those up to and including `upTo` (tests of a migration's backfill). */
export const migrateToLatest = async <T>(db: Kysely<T>, upTo?: string): Promise<MigrationResultSet> => {
  const migrator = new Migrator({
    db,
    provider: { getMigrations: () => Promise.resolve(migrations) },
  });
  const result = await (upTo === undefined ? migrator.migrateToLatest() : migrator.migrateTo(upTo));
  if (result.error !== undefined) {
    throw result.error instanceof Error ? result.error : new Error(`migration failed: ${JSON.stringify(result.error)}`);
  }
  return result;
};
