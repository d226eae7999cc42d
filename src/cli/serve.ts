import { systemClock } from '../core/clock.js';
import type { Config } from '../config.js';
import { openDatabase } from '../db/database.js';
import { migrateToLatest } from '../db/migrate.js';
import { buildApp } from '../app.js';
import { startScheduler } from '../jobs/scheduler.js';
import { composeDocumentEmail } from '../modules/documents/document-email.js';
import { readIssuer } from '../modules/issuer/read-issuer.js';
import { createTransports } from '../modules/notifications/transports.js';
import { createTokenVerifier } from '../modules/auth/tokens.js';
import { JobRegistry } from '../modules/jobs/job-registry.js';
import { startWebhookWorker } from '../modules/webhooks/delivery-worker.js';
import { createWebhookSender } from '../modules/webhooks/send-webhook.js';
import { packageVersion, resolveJwtSecret } from './runtime.js';

/** Opens the database, applies migrations, serves the API until SIGINT/SIGTERM. */
export const serve = async (config: Config): Promise<void> => {
  const startedAt = performance.now();
  const { secret, devSecret } = resolveJwtSecret(config);
  let logPoolError: (error: Error) => void = () => undefined;
  const database = await openDatabase(config.database, (error) => logPoolError(error));
  await migrateToLatest(database.db);
  // One registry for the process: the scheduler's runs and the admin route's are listed together.
  const jobs = new JobRegistry(systemClock);
  const app = await buildApp({
    jobs,
    database,
    clock: systemClock,
    tokens: createTokenVerifier({ secret, jwksUrl: config.jwksUrl, clock: systemClock }),
    logLevel: config.logLevel,
    version: packageVersion(),
    rateLimits: config.rateLimits,
    trustProxy: config.trustProxy,
    webhookAllowPrivate: config.webhookAllowPrivate,
    issuerFallback: config.issuer,
  });
  // A dropped idle connection is logged, not fatal: the pool reconnects on the next query.
  logPoolError = (error) => app.log.warn({ err: error }, 'database connection lost; the pool will reconnect');
  const address = await app.listen({ port: config.port, host: config.host });
  const base = address.replace('://0.0.0.0', '://localhost');
  app.log.info(
    { database: database.kind, startupMs: Math.round(performance.now() - startedAt) },
    `billing service listening on ${address}`,
  );
  printWelcome(base, config, devSecret);
  const transports = createTransports({
    smtpUrl: config.smtpUrl,
    smtpFrom: config.smtpFrom,
    clock: systemClock,
    composeDocumentEmail: composeDocumentEmail(database.db, () => readIssuer(database.db, config.issuer)),
  });
  const webhooks = await startWebhookWorker({
    database,
    db: database.db,
    clock: systemClock,
    send: createWebhookSender({ allowInternalAddresses: config.webhookAllowPrivate }),
    log: app.log,
  });
  const stopScheduler =
    config.schedulerIntervalSeconds > 0
      ? startScheduler(
          { db: database.db, clock: systemClock, transports, log: app.log, webhooks, jobs },
          config.schedulerIntervalSeconds * 1000,
        )
      : async () => undefined;

  let closing = false;
  const shutdown = (signal: string) => {
    if (closing) return;
    closing = true;
    app.log.info(`${signal} received, shutting down`);
    stopScheduler()
      .then(() => webhooks.stop())
      .then(() => app.close())
      .then(() => database.close())
      .then(
        () => process.exit(0),
        (error: unknown) => {
          app.log.error({ err: error }, 'shutdown failed');
          process.exit(1);
        },
      );
  };
  process.once('SIGINT', () => shutdown('SIGINT'));
  process.once('SIGTERM', () => shutdown('SIGTERM'));
};

const printWelcome = (base: string, config: Config, devSecret?: { path: string; created: boolean }): void => {
  const lines = [
    '',
    `  Billing service is up (${config.database.kind === 'embedded' ? `embedded database in ${config.dataDir}` : 'PostgreSQL server'})`,
    `  API docs:   ${base}/docs`,
    `  OpenAPI:    ${base}/openapi.json`,
    `  Health:     ${base}/healthz  ${base}/readyz  ${base}/metrics`,
    config.schedulerIntervalSeconds > 0
      ? `  Scheduler:  billing run, pay-as-you-go settlement, usage alerts, outbox every ${config.schedulerIntervalSeconds} s`
      : '  Scheduler:  off (BILLING_SCHEDULER_INTERVAL_SECONDS=0); run `billing bill` and `billing settle` by hand',
  ];
  if (devSecret !== undefined) {
    lines.push(
      `  Dev secret: ${devSecret.path}${devSecret.created ? ' (created now; set BILLING_JWT_SECRET in production)' : ''}`,
      '  Get a token: npx billing token --role platform_admin',
      '               npx billing token --role tenant_admin --tenant tnt_demo --user usr_demo',
    );
  }
  process.stdout.write(`${lines.join('\n')}\n\n`);
};
