import { Type, type TSchema } from 'typebox';
import { toRfc3339 } from '../core/clock.js';
import { pageInfo, type PageRequest } from '../core/pagination.js';

/** The seeds' PageInfo. */
export const PageInfoSchema = Type.Object(
  {
    page: Type.Integer({ description: 'Page is the current page number (1-based)' }),
    page_size: Type.Integer({ description: 'PageSize is the number of items per page' }),
    total: Type.Integer({ description: 'Total is the total number of items across all pages' }),
    total_pages: Type.Integer({ description: 'TotalPages is the total number of pages' }),
    has_next: Type.Boolean({ description: 'HasNext indicates whether there is a next page' }),
    has_prev: Type.Boolean({ description: 'HasPrev indicates whether there is a previous page' }),
  },
  { $id: 'PageInfo' },
);

export const ObjectEnvelope = <T extends TSchema>(data: T) =>
  Type.Object({
    code: Type.Integer({ description: 'The HTTP status' }),
    message: Type.String(),
    data,
    timestamp: Type.String({ description: 'RFC 3339, UTC' }),
  });

export const ListEnvelope = <T extends TSchema>(item: T) =>
  Type.Object({
    code: Type.Integer({ description: 'The HTTP status' }),
    message: Type.String(),
    items: Type.Array(item, { description: 'Use items uniformly' }),
    pagination: Type.Ref('PageInfo', { description: 'Pagination information (nested object)' }),
    total: Type.Integer({ description: 'Total count (flattened for direct reading)' }),
    timestamp: Type.String({ description: 'RFC 3339, UTC' }),
  });

export const ErrorResponseSchema = Type.Object(
  {
    code: Type.Integer({ description: 'The HTTP status' }),
    message: Type.String(),
    error: Type.Object({
      type: Type.String(),
      details: Type.Array(
        Type.Object({
          in: Type.Optional(Type.String()),
          parameter: Type.Optional(Type.String()),
          reason: Type.String(),
        }),
      ),
    }),
    timestamp: Type.String(),
    request_id: Type.String(),
  },
  { $id: 'ErrorResponse' },
);

/** The detail-list API answers in an envelope of its own, errors included. */
export const usesDetailEnvelope = (url: string): boolean => url.startsWith('/api/v1/');

/** The schema of an error body on this path. */
export const errorSchemaRef = (url: string) => Type.Ref(usesDetailEnvelope(url) ? 'DetailError' : 'ErrorResponse');

/** The detail-list API's envelope (`/api/v1/…`), as its reference page shows it. */
export const DetailEnvelope = <T extends TSchema>(content: T) =>
  Type.Object({
    code: Type.Integer(),
    content,
    errorCode: Type.String(),
    message: Type.String(),
    success: Type.Boolean(),
    traceId: Type.String(),
  });

export const DetailErrorSchema = Type.Object(
  {
    code: Type.Integer(),
    content: Type.Null(),
    errorCode: Type.String(),
    message: Type.String(),
    success: Type.Boolean(),
    traceId: Type.String(),
  },
  { $id: 'DetailError' },
);

export const objectEnvelope = <T>(data: T, now: Date, code = 200) => ({
  code,
  message: 'ok',
  data,
  timestamp: toRfc3339(now),
});

export const listEnvelope = <T>(items: T[], request: PageRequest, total: number, now: Date) => ({
  code: 200,
  message: 'ok',
  items,
  pagination: pageInfo(request, total),
  total,
  timestamp: toRfc3339(now),
});

export const detailEnvelope = <T>(content: T, traceId: string) => ({
  code: 200,
  content,
  errorCode: '',
  message: '',
  success: true,
  traceId,
});

const errorRef = Type.Ref('ErrorResponse');

/**
 * The error responses a route's own handler can give; the bodies come from the error handler. The
 * ones every route of its kind can answer (400, 401, 403, 413, 415, 500, 503) are added by the docs
 * (src/http/docs.ts) from the route's access rule and method.
 */
export const errorResponses = (...statuses: (404 | 409 | 422)[]) =>
  Object.fromEntries(statuses.map((status) => [status, errorRef]));
