import type { Registry } from 'prom-client';
import { defaultIssuer, type IssuerConfig } from './config.js';
import type { Clock } from './core/clock.js';
import type { DatabaseHandle } from './db/database.js';
import type { Api, RouteDependencies } from './http/api.js';
import { buildServer, type ServerOptions } from './http/server.js';
import { createApiKeyAuthenticator } from './modules/api-keys/authenticate.js';
import { registerApiKeyRoutes } from './modules/api-keys/routes.js';
import { registerAppRoutes } from './modules/apps/routes.js';
import { installAccessGuard } from './modules/auth/access.js';
import type { TokenVerifier } from './modules/auth/tokens.js';
import { registerBillingRecordRoutes } from './modules/billing-records/routes.js';
import { registerBillingRunRoutes } from './modules/billing-run/routes.js';
import { registerComplianceExportRoutes } from './modules/compliance-export/routes.js';
import { registerCreditLedgerRoutes } from './modules/credit-ledger/routes.js';
import { registerDocumentRoutes } from './modules/documents/routes.js';
import { registerEventRoutes } from './modules/events/routes.js';
import { registerHealthRoutes } from './modules/health/routes.js';
import { registerIssuerRoutes } from './modules/issuer/routes.js';
import { installJobMetrics } from './modules/jobs/job-metrics.js';
import { JobRegistry } from './modules/jobs/job-registry.js';
import { registerJobRoutes } from './modules/jobs/routes.js';
import { registerMeteringRoutes } from './modules/metering/routes.js';
import { registerNotificationRoutes } from './modules/notifications/routes.js';
import { registerPaygRoutes } from './modules/payg/routes.js';
import { registerMetricRoutes } from './modules/metrics/routes.js';
import { registerPlanRoutes } from './modules/plans/routes.js';
import { findCurrentSubscription } from './modules/subscriptions/repository.js';
import { registerSubscriptionRoutes } from './modules/subscriptions/routes.js';
import { restoreAfterPayment } from './modules/subscriptions/settle-open-invoice.js';
import { registerTenantRoutes } from './modules/tenants/routes.js';
import { registerTestClockRoutes } from './modules/test-clocks/routes.js';
import { createTenantClocks } from './modules/test-clocks/tenant-clocks.js';
import { evaluateAlerts } from './modules/usage-alerts/evaluate-alerts.js';
import { registerUsageAlertRoutes } from './modules/usage-alerts/routes.js';
import { registerUsageRoutes } from './modules/usage/routes.js';
import { registerWebhookRoutes } from './modules/webhooks/routes.js';

export interface AppDependencies extends ServerOptions {
  database: DatabaseHandle;
  tokens: TokenVerifier;
  /** Webhook URLs may name internal addresses (`BILLING_WEBHOOK_ALLOW_PRIVATE`); refused when absent. */
  webhookAllowPrivate?: boolean;
  /** The process's long jobs, shared with the scheduler; a registry of the app's own when absent. */
  jobs?: JobRegistry;
  /** The invoices' issuer while none is saved (`BILLING_ISSUER_*`); the default name and nothing else when absent. */
  issuerFallback?: IssuerConfig;
}

/** What the wiring hands each module: the route dependencies, and the server's metrics. */
interface Wiring extends RouteDependencies {
  metrics: Registry;
  webhookAllowPrivate: boolean;
  jobs: JobRegistry;
  /** The configuration's issuer: `readIssuer(db, issuerFallback)` is the one every invoice names. */
  issuerFallback: IssuerConfig;
}

/**
 * Every module with routes, in the order they are registered (and listed in the OpenAPI
 * document). Where one module reacts to another's events, the wiring connects them here, so
 * neither imports the other.
 */
const modules: { register(app: Api, wiring: Wiring): void }[] = [
  { register: (app, { database, metrics }) => registerHealthRoutes(app, database, metrics) },
  { register: registerTenantRoutes },
  { register: registerAppRoutes },
  { register: registerPlanRoutes },
  { register: registerApiKeyRoutes },
  // A record paid by an admin or from the balance restores the subscription that owed it, in the same transaction.
  {
    register: (app, wiring) => registerBillingRecordRoutes(app, { ...wiring, onRecordPaid: restoreAfterPayment }),
  },
  { register: registerDocumentRoutes },
  { register: registerCreditLedgerRoutes },
  { register: registerSubscriptionRoutes },
  { register: registerBillingRunRoutes },
  // Long jobs' progress: listed, and as gauges among the server's metrics.
  {
    register: (app, wiring) => {
      registerJobRoutes(app, wiring);
      installJobMetrics(wiring.jobs, wiring.metrics);
    },
  },
  // Usage alerts are checked as soon as ingested usage has committed (and by the scheduler).
  {
    register: (app, wiring) =>
      registerUsageRoutes(app, {
        ...wiring,
        // Each tenant's alerts as of its own time (a test clock's tenant at the clock's).
        onUsageRecorded: async (tenantIds) => {
          const tenantsByClock = new Map<Clock, string[]>();
          for (const [tenantId, clock] of await wiring.tenantClocks.clocksFor(tenantIds)) {
            const group = tenantsByClock.get(clock);
            if (group === undefined) tenantsByClock.set(clock, [tenantId]);
            else group.push(tenantId);
          }
          for (const [clock, tenants] of tenantsByClock) await evaluateAlerts(wiring.database.db, clock, tenants);
        },
      }),
  },
  // The metering listing shows the current period so far: it reads the subscription through subscriptions.
  { register: (app, wiring) => registerMeteringRoutes(app, { ...wiring, findCurrentSubscription }) },
  { register: registerUsageAlertRoutes },
  { register: registerNotificationRoutes },
  { register: registerComplianceExportRoutes },
  { register: registerPaygRoutes },
  { register: registerMetricRoutes },
  { register: registerEventRoutes },
  { register: registerTestClockRoutes },
  {
    register: (app, wiring) =>
      registerWebhookRoutes(app, { ...wiring, allowInternalAddresses: wiring.webhookAllowPrivate }),
  },
  // The invoices' issuer: saved settings over the configuration's.
  { register: registerIssuerRoutes },
];

/** The service's app: the server, the access guard in front of every route, and every module's routes. */
export const buildApp = async (deps: AppDependencies): Promise<Api> => {
  const { app, metrics } = await buildServer(deps);
  installAccessGuard(app, deps.tokens, createApiKeyAuthenticator(deps.database.db));
  const wiring: Wiring = {
    database: deps.database,
    clock: deps.clock,
    tenantClocks: createTenantClocks(deps.database.db, deps.clock),
    metrics,
    webhookAllowPrivate: deps.webhookAllowPrivate ?? false,
    jobs: deps.jobs ?? new JobRegistry(deps.clock),
    issuerFallback: deps.issuerFallback ?? defaultIssuer,
  };
  for (const module of modules) module.register(app, wiring);
  return app;
};
