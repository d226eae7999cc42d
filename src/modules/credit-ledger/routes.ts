import { Type } from 'typebox';
import { invalidParameter, notFound } from '../../core/errors.js';
import { describeAmountProblem, parseMajorAmount } from '../../core/money.js';
import { fail, ok } from '../../core/result.js';
import type { Api, RouteDependencies } from '../../http/api.js';
import { errorResponses, ListEnvelope, listEnvelope, ObjectEnvelope, objectEnvelope } from '../../http/envelope.js';
import { access, tenantScopeOf } from '../auth/access.js';
import { IdempotencyKeyHeaders, replyIdempotently } from '../idempotency/idempotent-reply.js';
import { findTenant } from '../tenants/repository.js';
import { postCreditTransaction, type CreditMovement } from './post-credit-transaction.js';
import { findCreditAccount, listCreditTransactions } from './repository.js';
import {
  AdjustCreditBody,
  type AdjustCreditInput,
  CreditBalanceSchema,
  CreditTransactionSchema,
  GrantCreditBody,
  type GrantCreditInput,
  ListCreditTransactionsQuery,
  TenantLedgerParams,
} from './schemas.js';
import { toCreditBalanceView, toCreditTransactionView } from './view.js';

const grantRoutes = [
  {
    path: 'promo',
    operationId: 'grantPromoCredit',
    source: 'promo',
    summary: 'Grant promotional credit to the tenant',
  },
  {
    path: 'top-up',
    operationId: 'topUpCreditBalance',
    source: 'top_up',
    summary: "Top up the tenant's credit balance (a payment received)",
  },
] as const;

export const registerCreditLedgerRoutes = (
  app: Api,
  { database: { db }, clock, tenantClocks }: RouteDependencies,
): void => {
  app.addSchema(CreditTransactionSchema);
  app.addSchema(CreditBalanceSchema);
  const transactionResponse = ObjectEnvelope(Type.Ref('CreditTransactionResponse'));

  app.get(
    '/billing/credit-transactions/:tenant_id',
    {
      config: { access: access.tenantRead },
      schema: {
        operationId: 'listCreditTransactions',
        tags: ['credit'],
        summary: "Paginate the tenant's credit transactions (insert-only, double-entry), newest first",
        params: TenantLedgerParams,
        querystring: ListCreditTransactionsQuery,
        response: { 200: ListEnvelope(Type.Ref('CreditTransactionResponse')), ...errorResponses(404) },
      },
    },
    async (request) => {
      const scope = tenantScopeOf(request);
      const tenant = await findTenant(db, scope);
      if (tenant === undefined) throw notFound('tenant');
      const { rows, total } = await listCreditTransactions(db, scope, request.query.source, request.query);
      // The ledger is in the tenant's currency: it cannot change once ledger accounts exist.
      return listEnvelope(
        rows.map((row) => toCreditTransactionView(row, tenant.currency)),
        request.query,
        total,
        clock.now(),
      );
    },
  );

  app.get(
    '/billing/credit-balance/:tenant_id',
    {
      config: { access: access.tenantRead },
      schema: {
        operationId: 'getCreditBalance',
        tags: ['credit'],
        summary: "The tenant's credit balance",
        params: TenantLedgerParams,
        response: { 200: ObjectEnvelope(Type.Ref('CreditBalanceResponse')), ...errorResponses(404) },
      },
    },
    async (request) => {
      const scope = tenantScopeOf(request);
      const tenant = await findTenant(db, scope);
      if (tenant === undefined) throw notFound('tenant');
      return objectEnvelope(toCreditBalanceView(tenant, await findCreditAccount(db, scope)), clock.now());
    },
  );

  const registerMovement = <Body extends { amount: number }>({
    path,
    operationId,
    summary,
    body,
    movementOf,
  }: {
    path: string;
    operationId: string;
    summary: string;
    body: typeof GrantCreditBody | typeof AdjustCreditBody;
    movementOf: (input: Body, amount: bigint) => Omit<CreditMovement, 'currency'>;
  }) =>
    app.post(
      `/admin/credits/:tenant_id/${path}`,
      {
        config: { access: access.staff },
        schema: {
          operationId,
          tags: ['credit'],
          summary,
          params: TenantLedgerParams,
          headers: IdempotencyKeyHeaders,
          body,
          response: { 201: transactionResponse, ...errorResponses(404, 409, 422) },
        },
      },
      async (request, reply) => {
        const scope = tenantScopeOf(request);
        const input = request.body as Body;
        const tenantClock = await tenantClocks.clockFor(scope.tenantId);
        return replyIdempotently(request, reply, { db, clock }, async (trx) => {
          const tenant = await findTenant(trx, scope);
          if (tenant === undefined) return fail(notFound('tenant'));
          const amount = parseMajorAmount(input.amount, tenant.currency);
          if (!amount.ok) {
            return fail(invalidParameter('body', 'amount', describeAmountProblem(amount.problem, tenant.currency)));
          }
          if (amount.minor === 0n) return fail(invalidParameter('body', 'amount', 'must be greater than zero'));
          const posted = await postCreditTransaction(trx, tenantClock, scope, {
            ...movementOf(input, amount.minor),
            currency: tenant.currency,
          });
          if (!posted.ok) return posted;
          return ok({
            status: 201,
            body: objectEnvelope(toCreditTransactionView(posted.value, tenant.currency), clock.now(), 201),
          });
        });
      },
    );

  for (const { path, operationId, source, summary } of grantRoutes) {
    registerMovement<GrantCreditInput>({
      path,
      operationId,
      summary,
      body: GrantCreditBody,
      movementOf: (input, amount) => ({
        type: 'credit',
        amount,
        source,
        sourceId: input.source_id ?? null,
        remark: input.remark ?? '',
      }),
    });
  }
  registerMovement<AdjustCreditInput>({
    path: 'adjust',
    operationId: 'adjustCreditBalance',
    summary: 'Adjust the credit balance by hand (credit or debit); a remark is required',
    body: AdjustCreditBody,
    movementOf: (input, amount) => ({
      type: input.type,
      amount,
      source: 'manual_adjust',
      sourceId: input.source_id ?? null,
      remark: input.remark,
    }),
  });
};
