import { Type } from 'typebox';
import { notFound } from '../../core/errors.js';
import { unwrap } from '../../core/result.js';
import type { Api, RouteDependencies } from '../../http/api.js';
import { errorResponses, ListEnvelope, listEnvelope, ObjectEnvelope, objectEnvelope } from '../../http/envelope.js';
import { access } from '../auth/access.js';
import { advanceTestClock } from './advance-test-clock.js';
import { createTestClock } from './create-test-clock.js';
import { deleteTestClock } from './delete-test-clock.js';
import { findTestClock, listTestClocks } from './repository.js';
import {
  AdvanceTestClockBody,
  CreateTestClockBody,
  DeletedTestClockSchema,
  ListTestClocksQuery,
  TestClockAdvanceSchema,
  TestClockIdParams,
  TestClockSchema,
} from './schemas.js';
import { toTestClockAdvanceView, toTestClockView } from './view.js';

const testClockRef = Type.Ref('TestClock');

/** Test clocks: platform admins make time pass for the tenants on one (docs/test-clocks.md). */
export const registerTestClockRoutes = (app: Api, { database: { db }, clock }: RouteDependencies): void => {
  app.addSchema(TestClockSchema);

  app.post(
    '/admin/test-clocks',
    {
      config: { access: access.platformAdmin },
      schema: {
        operationId: 'createTestClock',
        tags: ['test-clocks'],
        summary: 'Create a test clock frozen at an instant; tenants created on it live at its time',
        body: CreateTestClockBody,
        response: { 201: ObjectEnvelope(testClockRef) },
      },
    },
    async (request, reply) => {
      const created = await createTestClock(db, clock, request.body);
      return reply.status(201).send(objectEnvelope(toTestClockView(created), clock.now(), 201));
    },
  );

  app.get(
    '/admin/test-clocks',
    {
      config: { access: access.platformAdmin },
      schema: {
        operationId: 'listTestClocks',
        tags: ['test-clocks'],
        summary: 'List test clocks, newest first',
        querystring: ListTestClocksQuery,
        response: { 200: ListEnvelope(testClockRef) },
      },
    },
    async (request) => {
      const { rows, total } = await listTestClocks(db, request.query);
      return listEnvelope(rows.map(toTestClockView), request.query, total, clock.now());
    },
  );

  app.get(
    '/admin/test-clocks/:clock_id',
    {
      config: { access: access.platformAdmin },
      schema: {
        operationId: 'getTestClock',
        tags: ['test-clocks'],
        summary: 'Get a test clock',
        params: TestClockIdParams,
        response: { 200: ObjectEnvelope(testClockRef), ...errorResponses(404) },
      },
    },
    async (request) => {
      const found = await findTestClock(db, request.params.clock_id);
      if (found === undefined) throw notFound('test clock');
      return objectEnvelope(toTestClockView(found), clock.now());
    },
  );

  app.delete(
    '/admin/test-clocks/:clock_id',
    {
      config: { access: access.platformAdmin },
      schema: {
        operationId: 'deleteTestClock',
        tags: ['test-clocks'],
        summary: 'Delete a test clock with its tenants and all their data, in one transaction',
        params: TestClockIdParams,
        // 409: the clock is being advanced.
        response: { 200: ObjectEnvelope(DeletedTestClockSchema), ...errorResponses(404, 409) },
      },
    },
    async (request) => {
      const deleted = unwrap(await deleteTestClock(db, clock, request.params.clock_id));
      return objectEnvelope(
        { id: deleted.id, deleted: true as const, deleted_tenants: deleted.deletedTenants },
        clock.now(),
      );
    },
  );

  app.post(
    '/admin/test-clocks/:clock_id/advance',
    {
      config: { access: access.platformAdmin },
      schema: {
        operationId: 'advanceTestClock',
        tags: ['test-clocks'],
        summary:
          "Move a test clock forward (at most two years): its tenants' renewals, trial ends, retries, settlement and alerts run as that time passes",
        params: TestClockIdParams,
        body: AdvanceTestClockBody,
        // 409: another advance of the same clock is under way.
        response: { 200: ObjectEnvelope(TestClockAdvanceSchema), ...errorResponses(404, 409) },
      },
    },
    async (request) => {
      const to = new Date(request.body.to);
      const { testClock, summary } = unwrap(
        await advanceTestClock({ db, clock, clockId: request.params.clock_id, to }),
      );
      return objectEnvelope(toTestClockAdvanceView(testClock, summary), clock.now());
    },
  );
};
