import { invalidParameter } from '../../core/errors.js';
import type { Api, RouteDependencies } from '../../http/api.js';
import { ObjectEnvelope, objectEnvelope } from '../../http/envelope.js';
import { emptyBodyIfAbsent } from '../../http/validation.js';
import { access } from '../auth/access.js';
import type { JobRegistry } from '../jobs/job-registry.js';
import { runBilling } from './billing-run.js';
import { BillingRunBody, BillingRunSchema } from './schemas.js';
import { toBillingRunView } from './view.js';

export const registerBillingRunRoutes = (
  app: Api,
  { database: { db }, clock, jobs }: RouteDependencies & { jobs: JobRegistry },
): void => {
  app.post(
    '/admin/billing-run',
    {
      config: { access: access.platformAdmin },
      schema: {
        operationId: 'runBilling',
        tags: ['admin'],
        summary:
          'Run billing as of a time (default now): renewals, trial ends, payment retries, grace expiry. Idempotent',
        body: BillingRunBody,
        response: { 200: ObjectEnvelope(BillingRunSchema) },
      },
      preValidation: emptyBodyIfAbsent,
    },
    async (request) => {
      const now = clock.now();
      const asOf = request.body.as_of === undefined ? now : new Date(request.body.as_of);
      if (Number.isNaN(asOf.getTime())) throw invalidParameter('body', 'as_of', 'is not a valid time');
      if (asOf > now) throw invalidParameter('body', 'as_of', 'must not be in the future');
      const summary = await jobs.track('billing_run', (onProgress) => runBilling(db, asOf, { onProgress }));
      return objectEnvelope(toBillingRunView(summary), clock.now());
    },
  );
};
