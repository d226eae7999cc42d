import { Type } from 'typebox';
import { unwrap } from '../../core/result.js';
import type { Api, RouteDependencies } from '../../http/api.js';
import { errorResponses, ListEnvelope, listEnvelope, ObjectEnvelope, objectEnvelope } from '../../http/envelope.js';
import { access } from '../auth/access.js';
import { createPlan } from './create-plan.js';
import { createPlanVersion } from './create-plan-version.js';
import { getPlan } from './get-plan.js';
import { listPlans } from './repository.js';
import {
  CreatePlanBody,
  CreatePlanVersionBody,
  GetPlanQuery,
  ListPlansQuery,
  PlanIdParams,
  PlanSchema,
  UpdatePlanBody,
} from './schemas.js';
import { updatePlan } from './update-plan.js';
import { toPlanView } from './view.js';

const planRef = Type.Ref('Plan');

export const registerPlanRoutes = (app: Api, { database: { db }, clock }: RouteDependencies): void => {
  app.addSchema(PlanSchema);

  app.post(
    '/admin/plans',
    {
      config: { access: access.platformAdmin },
      schema: {
        operationId: 'createPlan',
        tags: ['admin'],
        summary: 'Create a plan with its first price version',
        body: CreatePlanBody,
        response: { 201: ObjectEnvelope(planRef), ...errorResponses(409) },
      },
    },
    async (request, reply) => {
      const plan = unwrap(await createPlan(db, clock, request.body));
      return reply.status(201).send(objectEnvelope(toPlanView(plan), clock.now(), 201));
    },
  );

  app.get(
    '/admin/plans',
    {
      config: { access: access.platformAdmin },
      schema: {
        operationId: 'listPlans',
        tags: ['admin'],
        summary: 'List plans with their current versions, newest first',
        querystring: ListPlansQuery,
        response: { 200: ListEnvelope(planRef) },
      },
    },
    async (request) => {
      const { rows, total } = await listPlans(db, request.query);
      return listEnvelope(rows.map(toPlanView), request.query, total, clock.now());
    },
  );

  app.get(
    '/admin/plans/:plan_id',
    {
      config: { access: access.platformAdmin },
      schema: {
        operationId: 'getPlan',
        tags: ['admin'],
        summary: 'Get a plan with its current version, or with an earlier version',
        params: PlanIdParams,
        querystring: GetPlanQuery,
        response: { 200: ObjectEnvelope(planRef), ...errorResponses(404) },
      },
    },
    async (request) => {
      const plan = unwrap(await getPlan(db, request.params.plan_id, request.query.version));
      return objectEnvelope(toPlanView(plan), clock.now());
    },
  );

  app.post(
    '/admin/plans/:plan_id/versions',
    {
      config: { access: access.platformAdmin },
      schema: {
        operationId: 'createPlanVersion',
        tags: ['admin'],
        summary: "Change a plan's prices by adding a version; earlier versions stay unchanged",
        params: PlanIdParams,
        body: CreatePlanVersionBody,
        response: { 201: ObjectEnvelope(planRef), ...errorResponses(404) },
      },
    },
    async (request, reply) => {
      const plan = unwrap(await createPlanVersion(db, clock, request.params.plan_id, request.body));
      return reply.status(201).send(objectEnvelope(toPlanView(plan), clock.now(), 201));
    },
  );

  app.patch(
    '/admin/plans/:plan_id',
    {
      config: { access: access.platformAdmin },
      schema: {
        operationId: 'updatePlan',
        tags: ['admin'],
        summary: "Update a plan's name, description or status (prices change through a new version)",
        params: PlanIdParams,
        body: UpdatePlanBody,
        response: { 200: ObjectEnvelope(planRef), ...errorResponses(404) },
      },
    },
    async (request) => {
      const plan = unwrap(await updatePlan(db, clock, request.params.plan_id, request.body));
      return objectEnvelope(toPlanView(plan), clock.now());
    },
  );
};
