import { Type } from 'typebox';
import { unwrap } from '../../core/result.js';
import type { Api, RouteDependencies } from '../../http/api.js';
import { errorResponses } from '../../http/envelope.js';
import { access, tenantScopeOf } from '../auth/access.js';
import { RecordParams } from '../billing-records/schemas.js';
import type { IssuerConfig } from '../../config.js';
import { locales } from '../../core/locales.js';
import { readIssuer } from '../issuer/read-issuer.js';
import { renderRecordDocument, type DocumentFormat } from './render-document.js';

const DocumentQuery = Type.Object(
  {
    lang: Type.Optional(
      Type.Union(
        locales.map((locale) => Type.Literal(locale)),
        { description: "The document's language; default the tenant's (`locale`)" },
      ),
    ),
  },
  { additionalProperties: false },
);

const DocumentHeaders = Type.Object({
  'if-none-match': Type.Optional(
    Type.String({ description: 'An ETag of this document from an earlier answer: 304 while it is still current' }),
  ),
});

/** A printable page may style itself and show its logo, and nothing else: no script, no framing. */
const pageSecurityPolicy =
  "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

const formats: Record<DocumentFormat, { type: string; summary: string; operationId: string }> = {
  pdf: {
    type: 'application/pdf',
    summary: "A billing record's invoice document as a PDF (zh-CN or en), named after its invoice number",
    operationId: 'getBillingRecordPdf',
  },
  html: {
    type: 'text/html; charset=utf-8',
    summary: "A billing record's invoice document as a printable page",
    operationId: 'getBillingRecordHtml',
  },
};

export interface DocumentRouteDependencies extends RouteDependencies {
  issuerFallback: IssuerConfig;
}

export const registerDocumentRoutes = (
  app: Api,
  { database: { db }, issuerFallback }: DocumentRouteDependencies,
): void => {
  const issuer = () => readIssuer(db, issuerFallback);
  for (const format of ['pdf', 'html'] as const) {
    const { type, summary, operationId } = formats[format];
    app.get(
      `/billing/records/:tenant_id/:record_id/${format}`,
      {
        config: { access: access.tenantRead },
        schema: {
          operationId,
          tags: ['billing-records'],
          summary,
          params: RecordParams,
          querystring: DocumentQuery,
          headers: DocumentHeaders,
          response: {
            200: {
              description: `The document; its ETag stays the same while the record does`,
              content: { [type.split(';')[0]!]: { schema: Type.String({ format: 'binary' }) } },
            },
            304: { description: 'Not modified: the If-None-Match ETag is current', type: 'null' },
            ...errorResponses(404),
          },
        },
      },
      async (request, reply) => {
        const document = unwrap(
          await renderRecordDocument({
            db,
            scope: tenantScopeOf(request),
            recordId: request.params.record_id,
            lang: request.query.lang,
            issuer,
            format,
            ifNoneMatch: request.headers['if-none-match'],
          }),
        );
        // Private (a tenant's invoice), and checked again on each use: the ETag makes that cheap.
        reply.header('etag', document.etag).header('cache-control', 'private, no-cache');
        if (document.notModified) return reply.code(304).send(undefined as never);
        if (format === 'html') reply.header('content-security-policy', pageSecurityPolicy);
        return reply
          .type(type)
          .header('content-disposition', `inline; filename="${document.fileName}"`)
          .send(document.body as never); // bytes, sent as they are: the schema above only documents them
      },
    );
  }
};
