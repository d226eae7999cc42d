import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { ConnectionError, FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Clock } from '../core/clock.js';
import { toRfc3339 } from '../core/clock.js';
import { usesDetailEnvelope } from './envelope.js';
import { AppError, type ErrorDetail, type ErrorType } from '../core/errors.js';
import { isDatabaseUnavailable, isUniqueViolation } from '../db/errors.js';

/** What the server accepts; the Fastify options and the messages that refuse more both read it. */
export const requestLimits = { bodyBytes: 1024 * 1024, pathParameterLength: 100 } as const;

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

/** Fastify's own errors, each with a message that names what was wrong. */
const frameworkErrors: Record<
  string,
  { type: ErrorType; detail: ErrorDetail & { in: NonNullable<ErrorDetail['in']> } }
> = {
  FST_ERR_CTP_INVALID_JSON_BODY: { type: 'validation_error', detail: { in: 'body', reason: 'is not valid JSON' } },
  FST_ERR_CTP_EMPTY_JSON_BODY: {
    type: 'validation_error',
    detail: { in: 'body', reason: 'is empty, but its content-type is application/json' },
  },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: {
    type: 'validation_error',
    detail: { in: 'header', parameter: 'content-length', reason: 'does not match the size of the body' },
  },
  FST_ERR_CTP_BODY_TOO_LARGE: {
    type: 'payload_too_large',
    detail: { in: 'body', reason: `is larger than ${requestLimits.bodyBytes / 1024 / 1024} MiB` },
  },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: {
    type: 'unsupported_media_type',
    detail: { in: 'header', parameter: 'content-type', reason: 'must be application/json' },
  },
  FST_ERR_BAD_URL: { type: 'validation_error', detail: { in: 'path', reason: 'is not valid percent-encoding' } },
  FST_ERR_MAX_PARAM_LENGTH: {
    type: 'uri_too_long',
    detail: { in: 'path', reason: `has a parameter longer than ${requestLimits.pathParameterLength} characters` },
  },
};

/** Any other client error a framework part raises (the docs' static files too), by its status. */
const typeByFrameworkStatus: Record<number, ErrorType> = {
  400: 'validation_error',
  403: 'forbidden',
  404: 'not_found',
  408: 'request_timeout',
  412: 'precondition_failed',
  413: 'payload_too_large',
  414: 'uri_too_long',
  415: 'unsupported_media_type',
  416: 'range_not_satisfiable',
  431: 'headers_too_large',
};

const fromFramework = (code: unknown, status: unknown): AppError | undefined => {
  const known = typeof code === 'string' && Object.hasOwn(frameworkErrors, code) ? frameworkErrors[code] : undefined;
  if (known !== undefined) {
    const { detail } = known;
    const subject = detail.in === 'header' ? `the ${detail.parameter} header` : `the request ${detail.in}`;
    return new AppError(known.type, `${subject} ${detail.reason}`, [detail]);
  }
  const type = typeof status === 'number' ? typeByFrameworkStatus[status] : undefined;
  return type === undefined ? undefined : new AppError(type, `the request was refused: ${type.replaceAll('_', ' ')}`);
};

/** Turns anything thrown into an AppError whose message is safe to show. */
export const classifyError = (error: unknown): { appError: AppError; unexpected: boolean } => {
  if (error instanceof AppError) return { appError: error, unexpected: false };
  const candidate = error as Partial<FastifyError>;
  if (Array.isArray(candidate.validation))
    return { appError: fromValidation(error as FastifyError), unexpected: false };
  // Before the database check: a client that hangs up mid-body is an ECONNRESET with status 400.
  const framework = fromFramework(candidate.code, candidate.statusCode);
  if (framework !== undefined) return { appError: framework, unexpected: false };
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
  return { appError: new AppError('internal', 'an internal error occurred'), unexpected: true };
};

/** The API's error body; `/api/v1/…` routes use the detail list's envelope instead. */
export const errorBody = (request: Pick<FastifyRequest, 'url' | 'id'>, error: AppError, now: Date) =>
  usesDetailEnvelope(request.url)
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
  // Requests that arrive while the server closes get a 503 in the envelope (Fastify's own
  // `return503OnClosing` would answer in a body of its own).
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onRequest', async () => {
    if (closing) throw new AppError('service_unavailable', 'the service is shutting down');
  });
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

/** What Node's HTTP parser refuses before there is a request to route. */
const fromClientError = (code: string): AppError => {
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return new AppError('request_timeout', 'the request did not arrive in time');
  if (code === 'HPE_HEADER_OVERFLOW') {
    return new AppError('headers_too_large', 'the request line and headers are larger than 16 KiB');
  }
  return new AppError('validation_error', 'the request is not valid HTTP/1.1');
};

/** Answers on the socket in the envelope, as Node would (only if no response has begun), then closes it. */
const answerClientError = (error: ConnectionError, socket: Socket, clock: Clock): void => {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const inFlight = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (socket.writable && inFlight?.headersSent !== true) {
    const appError = fromClientError(error.code);
    const requestId = randomUUID();
    const body = JSON.stringify(errorBody({ url: '', id: requestId }, appError, clock.now()));
    socket.write(
      [
        `HTTP/1.1 ${appError.status} ${STATUS_CODES[appError.status]}`,
        'Content-Type: application/json; charset=utf-8',
        `Content-Length: ${Buffer.byteLength(body)}`,
        `X-Request-Id: ${requestId}`,
        'Connection: close',
        '',
        body,
      ].join('\r\n'),
    );
  }
  socket.destroy(error);
};

/**
 * Fastify options for what fails before a route is found: a bad URL or an over-long path
 * parameter (`frameworkErrors`), and what the HTTP parser refuses or times out
 * (`clientErrorHandler`). Fastify's defaults answer those in a body of its own.
 */
export const frameworkErrorOptions = (clock: Clock) => ({
  frameworkErrors: (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    // These replies skip the onSend hooks that set it on every other.
    reply.header('x-request-id', request.id);
    const { appError, unexpected } = classifyError(error);
    if (unexpected) request.log.error({ err: error }, 'request failed');
    void sendError(request, reply, appError, clock);
  },
  clientErrorHandler: (error: ConnectionError, socket: Socket) => answerClientError(error, socket, clock),
});
