import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Clock } from '../core/clock.js';
import { toRfc3339 } from '../core/clock.js';
import { AppError, type ErrorDetail, type ErrorType } from '../core/errors.js';
import { isDatabaseUnavailable, isUniqueViolation } from '../db/errors.js';

const locationByContext: Record<string, NonNullable<ErrorDetail['in']>> = {
  querystring: 'query',
  params: 'path',
  body: 'body',
  headers: 'header',
};

const locationLabel: Record<NonNullable<ErrorDetail['in']>, string> = {
  query: 'query parameter',
  path: 'path parameter',
  body: 'body field',
  header: 'header',
};

interface SchemaIssue {
  instancePath: string;
  keyword: string;
  message?: string;
  params: Record<string, unknown>;
}

/** Names the parameter an ajv issue is about: `/page` → page, a missing required → its name. */
const parameterOf = (issue: SchemaIssue): string => {
  const path = issue.instancePath.replace(/^\//, '').replaceAll('/', '.');
  const child =
    (issue.params.missingProperty as string | undefined) ?? (issue.params.additionalProperty as string | undefined);
  if (child !== undefined) return path === '' ? child : `${path}.${child}`;
  return path;
};

const reasonOf = (issue: SchemaIssue): string => {
  if (issue.keyword === 'required') return 'is required';
  if (issue.keyword === 'additionalProperties') return 'is not a known field';
  return issue.message ?? 'is invalid';
};

const fromValidation = (error: FastifyError): AppError => {
  const location = locationByContext[error.validationContext ?? 'body'] ?? 'body';
  const details = (error.validation as SchemaIssue[]).map((issue) => {
    const parameter = parameterOf(issue);
    return { in: location, ...(parameter === '' ? {} : { parameter }), reason: reasonOf(issue) };
  });
  const first = details[0];
  const message =
    first?.parameter === undefined
      ? `invalid ${locationLabel[location]}s: ${first?.reason ?? 'invalid'}`
      : `${locationLabel[location]} '${first.parameter}' ${first.reason}`;
  return new AppError('validation_error', message, details);
};

/** Fastify's own client errors, by the status it gives them. */
const typeByFrameworkStatus: Record<number, ErrorType> = {
  400: 'validation_error',
  404: 'not_found',
  405: 'method_not_allowed',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  429: 'rate_limited',
};

const frameworkMessage: Partial<Record<ErrorType, string>> = {
  validation_error: 'the request is malformed',
  payload_too_large: 'the request body is too large',
  unsupported_media_type: 'the request body must be application/json',
};

/** Turns anything thrown into an AppError whose message is safe to show. */
export const classifyError = (error: unknown): { appError: AppError; unexpected: boolean } => {
  if (error instanceof AppError) return { appError: error, unexpected: false };
  const candidate = error as Partial<FastifyError>;
  if (Array.isArray(candidate.validation))
    return { appError: fromValidation(error as FastifyError), unexpected: false };
  if (isDatabaseUnavailable(error)) {
    return {
      appError: new AppError('service_unavailable', 'the service is temporarily unavailable'),
      unexpected: true,
    };
  }
  if (isUniqueViolation(error)) {
    // Every find-or-create is meant to be race-free: one that escapes is logged, and the caller may retry.
    return {
      appError: new AppError(
        'conflict',
        'the request would duplicate something that must be unique, perhaps created by a concurrent request; retry it',
      ),
      unexpected: true,
    };
  }
  const frameworkType = candidate.statusCode === undefined ? undefined : typeByFrameworkStatus[candidate.statusCode];
  if (frameworkType !== undefined && typeof candidate.code === 'string' && candidate.code.startsWith('FST_')) {
    const message = frameworkMessage[frameworkType] ?? 'the request was refused';
    return { appError: new AppError(frameworkType, message), unexpected: false };
  }
  return { appError: new AppError('internal', 'an internal error occurred'), unexpected: true };
};

/** The API's error body; `/api/v1/…` routes use the detail list's envelope instead. */
export const errorBody = (request: FastifyRequest, error: AppError, now: Date) =>
  request.url.startsWith('/api/v1/')
    ? {
        code: error.status,
        content: null,
        errorCode: error.type,
        message: error.message,
        success: false,
        traceId: request.id,
      }
    : {
        code: error.status,
        message: error.message,
        error: { type: error.type, details: error.details },
        timestamp: toRfc3339(now),
        request_id: request.id,
      };

export const sendError = (request: FastifyRequest, reply: FastifyReply, error: AppError, clock: Clock) => {
  if (error.type === 'unauthorized') reply.header('www-authenticate', 'Bearer realm="billing"');
  if (error.type === 'service_unavailable') reply.header('retry-after', '5');
  return reply.status(error.status).send(errorBody(request, error, clock.now()));
};

export const installErrorHandling = (app: FastifyInstance, clock: Clock): void => {
  app.setErrorHandler((error, request, reply) => {
    const { appError, unexpected } = classifyError(error);
    if (unexpected) request.log.error({ err: error }, 'request failed');
    return sendError(request, reply, appError, clock);
  });
  app.setNotFoundHandler((request, reply) =>
    sendError(
      request,
      reply,
      new AppError('not_found', `no route for ${request.method} ${request.url.split('?')[0]}`),
      clock,
    ),
  );
};
