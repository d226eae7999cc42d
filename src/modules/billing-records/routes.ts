import { Type } from 'typebox';
import { notFound } from '../../core/errors.js';
import { ok, unwrap, type Result } from '../../core/result.js';
import type { Api, RouteDependencies } from '../../http/api.js';
import { emptyBodyIfAbsent } from '../../http/validation.js';
import { errorResponses, ListEnvelope, listEnvelope, ObjectEnvelope, objectEnvelope } from '../../http/envelope.js';
import type { Access } from '../../http/route-access.js';
import { findApp } from '../apps/repository.js';
import { access, principalOf, tenantScopeOf } from '../auth/access.js';
import { IdempotencyKeyHeaders, replyIdempotently } from '../idempotency/idempotent-reply.js';
import { findTenant } from '../tenants/repository.js';
import { createRecord } from './create-record.js';
import { finalizeRecord } from './finalize-record.js';
import { moveRecord } from './move-record.js';
import { payRecordFromBalance } from './pay-record-from-balance.js';
import type { RecordRequest } from './record-request.js';
import { refundRecord } from './refund-record.js';
import { findRecord, searchRecords, type RecordRow } from './repository.js';
import {
  AppRecordsQuery,
  BillingRecordDetailSchema,
  BillingRecordSchema,
  CreateRecordBody,
  LineItemSchema,
  MoveRecordBody,
  PayFromBalanceBody,
  RecordParams,
  SearchRecordsQuery,
  TenantAppRecordsParams,
  TenantRecordsParams,
} from './schemas.js';
import { searchBillingRecords } from './search-records.js';
import type { RecordAction } from './status.js';
import { toRecordDetailView, toRecordView } from './view.js';

const recordList = ListEnvelope(Type.Ref('BillingRecordResponse'));
const recordDetail = ObjectEnvelope(Type.Ref('BillingRecordDetail'));

/** The body every record action may carry: a reason for status moves, an amount for payments. */
interface RecordActionBody {
  reason?: string;
  amount?: number;
}

interface RecordActionRoute {
  path: string;
  operationId: string;
  summary: string;
  access: Access;
  body: typeof MoveRecordBody | typeof PayFromBalanceBody;
  run: (request: RecordRequest & { input: RecordActionBody }) => Promise<Result<RecordRow>>;
}

const statusMove = (path: string, operationId: string, action: RecordAction, summary: string): RecordActionRoute => ({
  path,
  operationId,
  summary,
  access: access.platformAdmin,
  body: MoveRecordBody,
  run: ({ input, ...request }) => moveRecord({ ...request, action, reason: input.reason }),
});

const actionRoutes: RecordActionRoute[] = [
  statusMove(
    'mark-paid',
    'markBillingRecordPaid',
    'mark_paid',
    'Mark a pending or failed record paid (paid outside the service)',
  ),
  statusMove(
    'mark-failed',
    'markBillingRecordFailed',
    'mark_failed',
    'Mark a pending record failed (a payment attempt failed)',
  ),
  statusMove('retry', 'retryBillingRecord', 'retry', 'Put a failed record back to pending for another attempt'),
  {
    path: 'refund',
    operationId: 'refundBillingRecord',
    summary: "Refund a paid record to the tenant's credit balance",
    access: access.platformAdmin,
    body: MoveRecordBody,
    run: ({ input, ...request }) => refundRecord({ ...request, reason: input.reason }),
  },
  {
    path: 'pay-from-balance',
    operationId: 'payBillingRecordFromBalance',
    summary: "Pay a pending or failed record from the tenant's credit balance, in full or in part",
    access: access.staff,
    body: PayFromBalanceBody,
    run: ({ input, ...request }) => payRecordFromBalance({ ...request, requestedAmount: input.amount }),
  },
];

/**
 * Told, inside a record action's transaction, that the action left the record paid: a subscription
 * that owed it becomes active again in the same commit. Subscriptions listen (they issue records;
 * records do not know them).
 */
export type RecordPaidListener = (paid: RecordRequest) => Promise<void>;

export interface BillingRecordRouteDependencies extends RouteDependencies {
  onRecordPaid: RecordPaidListener;
}

export const registerBillingRecordRoutes = (
  app: Api,
  { database: { db }, clock, tenantClocks, onRecordPaid }: BillingRecordRouteDependencies,
): void => {
  app.addSchema(LineItemSchema);
  app.addSchema(BillingRecordSchema);
  app.addSchema(BillingRecordDetailSchema);

  /** The record as it now stands, for a write's response. */
  const detailResponse = async (trx: typeof db, scope: { tenantId: string }, recordId: string, status: number) => {
    const record = await findRecord(trx, scope, recordId);
    if (record === undefined) throw new Error(`record ${recordId} vanished inside its own transaction`);
    return ok({ status, body: objectEnvelope(toRecordDetailView(record), clock.now(), status) });
  };

  app.get(
    '/billing/records/:tenant_id/apps/:app_id',
    {
      config: { access: access.tenantRead },
      schema: {
        operationId: 'listAppBillingRecords',
        tags: ['billing-records'],
        summary: "Paginate an application's billing records, newest first",
        params: TenantAppRecordsParams,
        querystring: AppRecordsQuery,
        response: { 200: recordList, ...errorResponses(404) },
      },
    },
    async (request) => {
      const scope = tenantScopeOf(request);
      if ((await findTenant(db, scope)) === undefined) throw notFound('tenant');
      if ((await findApp(db, scope, request.params.app_id)) === undefined) throw notFound('app');
      const { rows, total } = await searchRecords(db, scope, { appId: request.params.app_id }, request.query);
      return listEnvelope(rows.map(toRecordView), request.query, total, clock.now());
    },
  );

  app.get(
    '/billing/records/:tenant_id/search',
    {
      config: { access: access.tenantRead },
      schema: {
        operationId: 'searchBillingRecords',
        tags: ['billing-records'],
        summary: 'Search billing records by status, date range, amount range and keyword',
        params: TenantRecordsParams,
        querystring: SearchRecordsQuery,
        response: { 200: recordList, ...errorResponses(404) },
      },
    },
    async (request) => {
      const { rows, total } = unwrap(await searchBillingRecords(db, tenantScopeOf(request), request.query));
      return listEnvelope(rows.map(toRecordView), request.query, total, clock.now());
    },
  );

  app.get(
    '/billing/records/:tenant_id/:record_id',
    {
      config: { access: access.tenantRead },
      schema: {
        operationId: 'getBillingRecord',
        tags: ['billing-records'],
        summary: 'Get a billing record with its lines and status history',
        params: RecordParams,
        response: { 200: recordDetail, ...errorResponses(404) },
      },
    },
    async (request) => {
      const record = await findRecord(db, tenantScopeOf(request), request.params.record_id);
      if (record === undefined) throw notFound('billing record');
      return objectEnvelope(toRecordDetailView(record), clock.now());
    },
  );

  app.post(
    '/admin/records/:tenant_id',
    {
      config: { access: access.platformAdmin },
      schema: {
        operationId: 'createBillingRecord',
        tags: ['admin'],
        summary: 'Create a draft billing record with its lines (finalise at once with finalize: true)',
        params: TenantRecordsParams,
        headers: IdempotencyKeyHeaders,
        body: CreateRecordBody,
        response: { 201: recordDetail, ...errorResponses(404, 409, 422) },
      },
    },
    async (request, reply) => {
      const scope = tenantScopeOf(request);
      const actor = principalOf(request).userId;
      const tenantClock = await tenantClocks.clockFor(scope.tenantId);
      return replyIdempotently(request, reply, { db, clock }, async (trx) => {
        const created = await createRecord({ trx, clock: tenantClock, scope, input: request.body, actor });
        return created.ok ? detailResponse(trx, scope, created.value.recordId, 201) : created;
      });
    },
  );

  app.post(
    '/admin/records/:tenant_id/:record_id/finalize',
    {
      config: { access: access.platformAdmin },
      schema: {
        operationId: 'finalizeBillingRecord',
        tags: ['admin'],
        summary: 'Finalise a draft: assign the next invoice number of the year, status pending',
        params: RecordParams,
        headers: IdempotencyKeyHeaders,
        response: { 200: recordDetail, ...errorResponses(404, 409, 422) },
      },
    },
    async (request, reply) => {
      const scope = tenantScopeOf(request);
      const actor = principalOf(request).userId;
      const tenantClock = await tenantClocks.clockFor(scope.tenantId);
      return replyIdempotently(request, reply, { db, clock }, async (trx) => {
        const finalized = await finalizeRecord({
          trx,
          clock: tenantClock,
          scope,
          recordId: request.params.record_id,
          actor,
        });
        return finalized.ok ? detailResponse(trx, scope, finalized.value.id, 200) : finalized;
      });
    },
  );

  for (const { path, operationId, summary, access: rule, body, run } of actionRoutes) {
    app.post(
      `/admin/records/:tenant_id/:record_id/${path}`,
      {
        config: { access: rule },
        schema: {
          operationId,
          tags: ['admin'],
          summary,
          params: RecordParams,
          headers: IdempotencyKeyHeaders,
          body,
          response: { 200: recordDetail, ...errorResponses(404, 409, 422) },
        },
        preValidation: emptyBodyIfAbsent,
      },
      async (request, reply) => {
        const scope = tenantScopeOf(request);
        const actor = principalOf(request).userId;
        const tenantClock = await tenantClocks.clockFor(scope.tenantId);
        return replyIdempotently(request, reply, { db, clock }, async (trx) => {
          const done = await run({
            trx,
            clock: tenantClock,
            scope,
            recordId: request.params.record_id,
            actor,
            input: request.body,
          });
          if (!done.ok) return done;
          if (done.value.status === 'paid')
            await onRecordPaid({ trx, clock: tenantClock, scope, recordId: done.value.id, actor });
          return detailResponse(trx, scope, done.value.id, 200);
        });
      },
    );
  }
};
