import { Type } from 'typebox';
import { notFound } from '../../core/errors.js';
import { fail, ok, type Result } from '../../core/result.js';
import { rolledBack } from '../../db/rolled-back.js';
import type { Api, RouteDependencies } from '../../http/api.js';
import { emptyBodyIfAbsent } from '../../http/validation.js';
import { errorResponses, ObjectEnvelope, objectEnvelope } from '../../http/envelope.js';
import { access, principalOf, tenantScopeOf } from '../auth/access.js';
import { IdempotencyKeyHeaders, replyIdempotently } from '../idempotency/idempotent-reply.js';
import type { TenantRequest } from '../tenant-context.js';
import { findTenant } from '../tenants/repository.js';
import { cancelSubscription } from './cancel-subscription.js';
import { changePlan } from './change-plan.js';
import { previewPlanChange } from './preview-plan-change.js';
import { previewUpcomingInvoice } from './preview-upcoming-invoice.js';
import { findCurrentSubscription, type SubscriptionRow } from './repository.js';
import { resumeSubscription } from './resume-subscription.js';
import {
  CancelBody,
  ChangePlanBody,
  EmptyBody,
  PlanChangePreviewSchema,
  SubscribeBody,
  SubscriptionSchema,
  TenantSubscriptionParams,
  UpcomingInvoiceSchema,
  UpdateSubscriptionBody,
} from './schemas.js';
import { subscribe } from './subscribe.js';
import { updateSubscriptionSettings } from './update-subscription-settings.js';
import { toPlanChangePreviewView, toUpcomingInvoiceView } from './preview-view.js';
import { toSubscriptionView } from './view.js';

type SubscriptionAction = (request: TenantRequest<never>) => Promise<Result<SubscriptionRow>>;

interface ActionRoute {
  path: string;
  operationId: string;
  summary: string;
  status: 200 | 201;
  body: typeof SubscribeBody | typeof ChangePlanBody | typeof CancelBody | typeof EmptyBody;
  run: SubscriptionAction;
}

const actionRoutes: ActionRoute[] = [
  {
    path: '',
    operationId: 'createSubscription',
    summary: 'Subscribe the tenant to a plan: into its trial, or charged for the first period at once',
    status: 201,
    body: SubscribeBody,
    run: subscribe,
  },
  {
    path: '/change-plan',
    operationId: 'changeSubscriptionPlan',
    summary: 'Change plan or cycle: upgrades prorated now, downgrades per plan policy, cycle changes at period end',
    status: 200,
    body: ChangePlanBody,
    run: changePlan,
  },
  {
    path: '/cancel',
    operationId: 'cancelSubscription',
    summary: 'Cancel at period end (default) or now',
    status: 200,
    body: CancelBody,
    run: ({ input, ...request }: TenantRequest<{ at_period_end?: boolean; reason?: string }>) =>
      cancelSubscription({ ...request, atPeriodEnd: input.at_period_end ?? true, reason: input.reason }),
  },
  {
    path: '/resume',
    operationId: 'resumeSubscription',
    summary: 'Take back a cancellation at period end',
    status: 200,
    body: EmptyBody,
    run: resumeSubscription,
  },
];

export const registerSubscriptionRoutes = (
  app: Api,
  { database: { db }, clock, tenantClocks }: RouteDependencies,
): void => {
  app.addSchema(SubscriptionSchema);
  app.addSchema(UpcomingInvoiceSchema);
  app.addSchema(PlanChangePreviewSchema);
  const subscriptionResponse = ObjectEnvelope(Type.Ref('SubscriptionResponse'));

  app.get(
    '/billing/subscriptions/:tenant_id',
    {
      config: { access: access.tenantRead },
      schema: {
        operationId: 'getSubscription',
        tags: ['subscriptions'],
        summary: "The tenant's live subscription, or its latest one when none is live",
        params: TenantSubscriptionParams,
        response: { 200: subscriptionResponse, ...errorResponses(404) },
      },
    },
    async (request) => {
      const scope = tenantScopeOf(request);
      if ((await findTenant(db, scope)) === undefined) throw notFound('tenant');
      const sub = await findCurrentSubscription(db, scope);
      if (sub === undefined) throw notFound('subscription');
      return objectEnvelope(toSubscriptionView(sub), clock.now());
    },
  );

  // Previews run the real action in a transaction that is rolled back: the same code, nothing kept.
  app.get(
    '/billing/subscriptions/:tenant_id/upcoming-invoice',
    {
      config: { access: access.tenantRead },
      schema: {
        operationId: 'getUpcomingInvoice',
        tags: ['subscriptions'],
        summary: 'The invoice the end of the current period would issue if usage stopped now (nothing is written)',
        params: TenantSubscriptionParams,
        response: { 200: ObjectEnvelope(Type.Ref('UpcomingInvoiceResponse')), ...errorResponses(404) },
      },
    },
    async (request) => {
      const scope = tenantScopeOf(request);
      const tenantClock = await tenantClocks.clockFor(scope.tenantId);
      const upcoming = await rolledBack(db, (trx) => previewUpcomingInvoice({ trx, clock: tenantClock, scope }));
      if (!upcoming.ok) throw upcoming.error;
      return objectEnvelope(toUpcomingInvoiceView(upcoming.value), clock.now());
    },
  );

  // A read, but of what only those who may change the plan may do: change-plan's access.
  app.post(
    '/billing/subscriptions/:tenant_id/change-plan/preview',
    {
      config: { access: access.tenantWrite },
      schema: {
        operationId: 'previewSubscriptionPlanChange',
        tags: ['subscriptions'],
        summary:
          'What change-plan would do with this body now: the subscription, invoice and credit (nothing is written)',
        params: TenantSubscriptionParams,
        body: ChangePlanBody,
        response: { 200: ObjectEnvelope(Type.Ref('PlanChangePreviewResponse')), ...errorResponses(404, 409, 422) },
      },
      preValidation: emptyBodyIfAbsent,
    },
    async (request) => {
      const scope = tenantScopeOf(request);
      const actor = principalOf(request).userId;
      const tenantClock = await tenantClocks.clockFor(scope.tenantId);
      const preview = await rolledBack(db, (trx) =>
        previewPlanChange({ trx, clock: tenantClock, scope, input: request.body, actor }),
      );
      if (!preview.ok) throw preview.error;
      return objectEnvelope(toPlanChangePreviewView(preview.value), clock.now());
    },
  );

  for (const route of actionRoutes) {
    app.post(
      `/billing/subscriptions/:tenant_id${route.path}`,
      {
        config: { access: access.tenantWrite },
        schema: {
          operationId: route.operationId,
          tags: ['subscriptions'],
          summary: route.summary,
          params: TenantSubscriptionParams,
          headers: IdempotencyKeyHeaders,
          body: route.body,
          response: { [route.status]: subscriptionResponse, ...errorResponses(404, 409, 422) },
        },
        preValidation: emptyBodyIfAbsent,
      },
      async (request, reply) => {
        const scope = tenantScopeOf(request);
        const actor = principalOf(request).userId;
        const tenantClock = await tenantClocks.clockFor(scope.tenantId);
        return replyIdempotently(request, reply, { db, clock }, async (trx) => {
          if ((await findTenant(trx, scope)) === undefined) return fail(notFound('tenant'));
          const done = await route.run({ trx, clock: tenantClock, scope, input: request.body as never, actor });
          if (!done.ok) return done;
          return ok({
            status: route.status,
            body: objectEnvelope(toSubscriptionView(done.value), clock.now(), route.status),
          });
        });
      },
    );
  }

  app.patch(
    '/billing/subscriptions/:tenant_id',
    {
      config: { access: access.tenantWrite },
      schema: {
        operationId: 'updateSubscription',
        tags: ['subscriptions'],
        summary: 'Turn renewal on or off, or change the payment method',
        params: TenantSubscriptionParams,
        body: UpdateSubscriptionBody,
        response: { 200: subscriptionResponse, ...errorResponses(404) },
      },
    },
    async (request) => {
      const scope = tenantScopeOf(request);
      const actor = principalOf(request).userId;
      const tenantClock = await tenantClocks.clockFor(scope.tenantId);
      const updated = await db.transaction().execute(async (trx) => {
        if ((await findTenant(trx, scope)) === undefined) throw notFound('tenant');
        return updateSubscriptionSettings({ trx, clock: tenantClock, scope, input: request.body, actor });
      });
      if (!updated.ok) throw updated.error;
      return objectEnvelope(toSubscriptionView(updated.value), clock.now());
    },
  );
};
