import { Command, InvalidArgumentError, Option } from 'commander';
import { systemClock } from '../core/clock.js';
import { ConfigError, loadConfig, type Config } from '../config.js';
import { DataDirLockedError } from '../db/data-dir-lock.js';
import { openDatabase, type Db } from '../db/database.js';
import { migrateToLatest } from '../db/migrate.js';
import { runBilling } from '../modules/billing-run/billing-run.js';
import { settlePayg } from '../modules/payg/settle-payg.js';
import { roles, type Role } from '../core/principal.js';
import { toBillingRunView } from '../modules/billing-run/view.js';
import { mintToken } from '../modules/auth/tokens.js';
import type { ProgressObserver } from '../core/progress.js';
import { ProgressDisplay } from './progress-display.js';
import { packageVersion, resolveJwtSecret } from './runtime.js';
import { serve } from './serve.js';

const configOrExit = (): Config => {
  try {
    return loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
};

const positiveInteger = (raw: string): number => {
  if (!/^\d+$/.test(raw) || Number(raw) < 1) throw new InvalidArgumentError('must be a positive integer');
  return Number(raw);
};

const parseInstant = (raw: string): Date => {
  const instant = new Date(raw);
  if (!/^\d{4}-\d{2}-\d{2}T/.test(raw) || Number.isNaN(instant.getTime())) {
    throw new InvalidArgumentError('must be an RFC 3339 time, e.g. 2026-02-01T00:00:00Z');
  }
  return instant;
};

/** A scheduled job run by hand: on a migrated database, its summary printed as JSON, exit 1 if any part failed. */
const runJob = async (
  config: Config,
  job: (db: Db) => Promise<{ output: unknown; failed: boolean }>,
): Promise<void> => {
  const database = await openDatabase(config.database);
  try {
    await migrateToLatest(database.db);
    const { output, failed } = await job(database.db);
    process.stdout.write(`${JSON.stringify(output)}\n`);
    if (failed) process.exitCode = 1;
  } finally {
    await database.close();
  }
};

/** Runs `work` with its progress shown on stderr (stdout keeps the summary), and a last line when it ends. */
const withProgress = async <T>(
  config: Config,
  { label, unit }: { label: string; unit: string },
  work: (onProgress: ProgressObserver) => Promise<T>,
): Promise<T> => {
  const display = new ProgressDisplay({
    label,
    unit,
    stream: process.stderr,
    clock: systemClock,
    intervalMs: config.progressIntervalMs,
  }).start();
  try {
    const result = await work(display.onProgress);
    display.finish();
    return result;
  } catch (error) {
    display.finish({ failed: true });
    throw error;
  }
};

const program: Command = new Command()
  .name('billing')
  .description('Multi-tenant billing service')
  .version(packageVersion());

program
  .command('serve')
  .description('apply migrations and serve the API (embedded database unless DATABASE_URL is set)')
  .action(() => serve(configOrExit()));

program
  .command('migrate')
  .description('apply pending database migrations and exit')
  .action(async () => {
    const config = configOrExit();
    const database = await openDatabase(config.database);
    try {
      const { results = [] } = await migrateToLatest(database.db);
      for (const result of results) process.stdout.write(`${result.status}: ${result.migrationName}\n`);
      process.stdout.write(
        results.length === 0 ? 'database is up to date\n' : `applied ${results.length} migration(s)\n`,
      );
    } finally {
      await database.close();
    }
  });

program
  .command('bill')
  .description('run billing as of a time (default now): renewals, trial ends, payment retries, grace expiry')
  .option('--as-of <time>', 'RFC 3339 time, not in the future', parseInstant)
  .action(async (options: { asOf?: Date }) => {
    const config = configOrExit();
    const asOf = options.asOf ?? systemClock.now();
    if (asOf > systemClock.now())
      program.error('--as-of must not be in the future: periods are billed when they start');
    await runJob(config, async (db) => {
      const summary = await withProgress(config, { label: 'billing run', unit: 'subscriptions' }, (onProgress) =>
        runBilling(db, asOf, { onProgress }),
      );
      return { output: toBillingRunView(summary), failed: summary.failures.length > 0 };
    });
  });

program
  .command('settle')
  .description("settle pay-as-you-go consumption of every tenant's ended days (missed days caught up)")
  .action(async () => {
    const config = configOrExit();
    await runJob(config, async (db) => {
      const summary = await withProgress(
        config,
        { label: 'pay-as-you-go settlement', unit: 'tenant-days' },
        (onProgress) => settlePayg(db, systemClock, { onProgress }),
      );
      return { output: summary, failed: summary.failures.length > 0 };
    });
  });

program
  .command('token')
  .description('mint a JWT with the configured secret, for development and scripts')
  .addOption(new Option('--role <role...>', 'roles to grant').choices(roles).makeOptionMandatory())
  .option('--tenant <tenant_id>', 'tenant the token acts for (required for tenant roles)')
  .option('--user <user_id>', 'subject (user id)', 'usr_dev')
  .option('--ttl <seconds>', 'lifetime in seconds', positiveInteger, 3600)
  .action(async (options: { role: Role[]; tenant?: string; user: string; ttl: number }) => {
    const config = configOrExit();
    const { secret } = resolveJwtSecret(config);
    if (secret === undefined)
      program.error('token needs BILLING_JWT_SECRET (tokens from a JWKS issuer are minted there)');
    const tenantRole = options.role.some((role) => role === 'tenant_admin' || role === 'tenant_viewer');
    if (tenantRole && options.tenant === undefined)
      program.error('--tenant is required for tenant_admin and tenant_viewer');
    const token = await mintToken(
      secret,
      { userId: options.user, tenantId: options.tenant, roles: options.role },
      systemClock,
      options.ttl,
    );
    process.stdout.write(`${token}\n`);
  });

try {
  await program.parseAsync();
} catch (error) {
  if (!(error instanceof DataDirLockedError)) throw error;
  process.stderr.write(`${error.message}\n`);
  process.exit(1);
}
