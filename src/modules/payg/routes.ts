import { Type } from 'typebox';
import { unwrap, ok } from '../../core/result.js';
import type { Api, RouteDependencies } from '../../http/api.js';
import {
  DetailEnvelope,
  detailEnvelope,
  errorResponses,
  ListEnvelope,
  listEnvelope,
  ObjectEnvelope,
  objectEnvelope,
} from '../../http/envelope.js';
import { access, apiKeyOf, tenantScopeOf } from '../auth/access.js';
import { IdempotencyKeyHeaders, replyIdempotently } from '../idempotency/idempotent-reply.js';
import { findTenant } from '../tenants/repository.js';
import { notFound } from '../../core/errors.js';
import { listBillingDetails } from './detail-list.js';
import { issueInstrument, listInstruments, toInstrumentView, type IssueRequest } from './instruments.js';
import { createProduct, listProducts, toProductView, updateProduct } from './products.js';
import {
  CreateProductBody,
  DetailListQuery,
  InstrumentSchema,
  IssueCouponBody,
  IssueStoredCardBody,
  ListQuery,
  ProductParams,
  ProductSchema,
  TenantPaygParams,
  TopUpMarketplaceBody,
  UpdateProductBody,
} from './schemas.js';

const money = Type.Number();
const DetailItemSchema = Type.Object({
  consumeTimeOfDay: Type.String({ examples: ['2023-07-31'] }),
  orgName: Type.String(),
  productName: Type.String(),
  productDetail: Type.String({ examples: ['Session Replay'] }),
  billingKey: Type.String(),
  billingCycle: Type.String({ description: 'Day, Month, Year or Single' }),
  billingResult: money,
  deductionAmount: money,
  oweAmount: money,
  originAmount: money,
  serviceBillingAmount: money,
  couponAmount: money,
  storedCardAmount: money,
  cashAmount: money,
  cashCouldAmount: money,
  commodityCategory: Type.String({ description: 'subscription or pay-as-you-go' }),
  consumePlatform: Type.String({ description: 'direct or cloud_marketplace' }),
  customerIdentifier: Type.String(),
  consumption: Type.String(),
  workspaceUuid: Type.String(),
  workspaceName: Type.String(),
  consumeTime: Type.Integer({ description: 'Start of the day consumed, Unix milliseconds' }),
  tag6: Type.String(),
  billingResultDetails: Type.Array(Type.Object({ instrument: Type.String(), amount: money })),
  count: Type.Integer(),
});

const issueRoutes = [
  {
    path: 'coupons',
    operationId: 'issuePaygCoupon',
    body: IssueCouponBody,
    summary: 'Issue a coupon (amount, validity, products it covers)',
  },
  {
    path: 'stored-cards',
    operationId: 'issuePaygStoredCard',
    body: IssueStoredCardBody,
    summary: 'Issue a stored-value card (balance, expiry)',
  },
  {
    path: 'cloud-marketplace',
    operationId: 'topUpPaygCloudMarketplace',
    body: TopUpMarketplaceBody,
    summary: "Top up the tenant's cloud-marketplace balance (its one marketplace account)",
  },
] as const;

const issueRequestOf = (path: (typeof issueRoutes)[number]['path'], body: Record<string, unknown>): IssueRequest => {
  const common = { amount: body.amount as number };
  if (path === 'coupons') {
    return {
      ...common,
      kind: 'coupon',
      validFrom: body.valid_from as string | undefined,
      validTo: body.valid_to as string,
      productKeys: body.product_keys as string[] | undefined,
    };
  }
  if (path === 'stored-cards') {
    return {
      ...common,
      kind: 'stored_card',
      validFrom: body.valid_from as string | undefined,
      validTo: body.valid_to as string | undefined,
    };
  }
  return { ...common, kind: 'cloud_marketplace', customerIdentifier: body.customer_identifier as string };
};

export const registerPaygRoutes = (app: Api, { database: { db }, clock, tenantClocks }: RouteDependencies): void => {
  app.addSchema(ProductSchema);
  app.addSchema(InstrumentSchema);
  const productResponse = ObjectEnvelope(Type.Ref('PaygProduct'));

  app.post(
    '/admin/payg/products',
    {
      config: { access: access.platformAdmin },
      schema: {
        operationId: 'createPaygProduct',
        tags: ['payg'],
        summary: 'Create a pay-as-you-go product; its consumption arrives as usage events named by its billing key',
        body: CreateProductBody,
        response: { 201: productResponse, ...errorResponses(409) },
      },
    },
    async (request, reply) => {
      const product = unwrap(await createProduct(db, clock, request.body));
      return reply.status(201).send(objectEnvelope(toProductView(product), clock.now(), 201));
    },
  );

  app.get(
    '/admin/payg/products',
    {
      config: { access: access.platformAdmin },
      schema: {
        operationId: 'listPaygProducts',
        tags: ['payg'],
        summary: 'List pay-as-you-go products by billing key',
        querystring: ListQuery,
        response: { 200: ListEnvelope(Type.Ref('PaygProduct')) },
      },
    },
    async (request) => {
      const { rows, total } = await listProducts(db, request.query);
      return listEnvelope(rows.map(toProductView), request.query, total, clock.now());
    },
  );

  app.patch(
    '/admin/payg/products/:billing_key',
    {
      config: { access: access.platformAdmin },
      schema: {
        operationId: 'updatePaygProduct',
        tags: ['payg'],
        summary: 'Change a product: name, unit price (for days settled from now on), status',
        params: ProductParams,
        body: UpdateProductBody,
        response: { 200: productResponse, ...errorResponses(404) },
      },
    },
    async (request) => {
      const product = unwrap(await updateProduct(db, clock, request.params.billing_key, request.body));
      return objectEnvelope(toProductView(product), clock.now());
    },
  );

  for (const route of issueRoutes) {
    app.post(
      `/admin/payg/:tenant_id/${route.path}`,
      {
        config: { access: access.staff },
        schema: {
          operationId: route.operationId,
          tags: ['payg'],
          summary: route.summary,
          params: TenantPaygParams,
          headers: IdempotencyKeyHeaders,
          body: route.body,
          response: {
            201: ObjectEnvelope(Type.Ref('PaygInstrument')),
            ...errorResponses(404, 409, 422),
          },
        },
      },
      async (request, reply) => {
        const scope = tenantScopeOf(request);
        const tenantClock = await tenantClocks.clockFor(scope.tenantId);
        return replyIdempotently(request, reply, { db, clock }, async (trx) => {
          const issued = await issueInstrument(trx, tenantClock, scope, issueRequestOf(route.path, request.body));
          if (!issued.ok) return issued;
          return ok({ status: 201, body: objectEnvelope(toInstrumentView(issued.value), clock.now(), 201) });
        });
      },
    );
  }

  app.get(
    '/billing/payg/:tenant_id/instruments',
    {
      config: { access: access.tenantRead },
      schema: {
        operationId: 'listPaygInstruments',
        tags: ['payg'],
        summary: "The tenant's coupons, stored-value cards and cloud-marketplace balance, with their balances",
        params: TenantPaygParams,
        response: { 200: ListEnvelope(Type.Ref('PaygInstrument')), ...errorResponses(404) },
      },
    },
    async (request) => {
      const scope = tenantScopeOf(request);
      if ((await findTenant(db, scope)) === undefined) throw notFound('tenant');
      const rows = await listInstruments(db, scope);
      return listEnvelope(
        rows.map(toInstrumentView),
        { page: 1, page_size: Math.max(rows.length, 1) },
        rows.length,
        clock.now(),
      );
    },
  );

  app.get(
    '/api/v1/billing/detail/list',
    {
      config: { access: access.apiKey },
      schema: {
        operationId: 'listPaygDetails',
        tags: ['detail-list'],
        summary: "Billing details: the key's workspaces' settled pay-as-you-go lines per day and product",
        querystring: DetailListQuery,
        response: {
          200: DetailEnvelope(Type.Array(DetailItemSchema)),
          400: Type.Ref('DetailError'),
          401: Type.Ref('DetailError'),
        },
      },
    },
    async (request) =>
      detailEnvelope(unwrap(await listBillingDetails(db, apiKeyOf(request), request.query)), request.id),
  );
};
