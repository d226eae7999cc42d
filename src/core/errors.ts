/**
 * The error model. Every expected failure is an `AppError` with a type; the type alone decides
 * the HTTP status, through this one table.
 */
export const errorStatusByType = {
  validation_error: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  request_timeout: 408,
  conflict: 409,
  precondition_failed: 412,
  payload_too_large: 413,
  uri_too_long: 414,
  unsupported_media_type: 415,
  range_not_satisfiable: 416,
  unprocessable: 422,
  insufficient_balance: 422,
  rate_limited: 429,
  headers_too_large: 431,
  internal: 500,
  service_unavailable: 503,
} as const;

export type ErrorType = keyof typeof errorStatusByType;

/** One named problem with one input: `{in: 'query', parameter: 'page', reason: 'must be >= 1'}`. */
export interface ErrorDetail {
  in?: 'path' | 'query' | 'body' | 'header';
  parameter?: string;
  reason: string;
}

export class AppError extends Error {
  readonly type: ErrorType;
  readonly details: ErrorDetail[];

  constructor(type: ErrorType, message: string, details: ErrorDetail[] = []) {
    super(message);
    this.name = 'AppError';
    this.type = type;
    this.details = details;
  }

  get status(): number {
    return errorStatusByType[this.type];
  }
}

export const notFound = (what: string): AppError => new AppError('not_found', `${what} not found`);

export const invalidParameter = (
  location: NonNullable<ErrorDetail['in']>,
  parameter: string,
  reason: string,
): AppError =>
  new AppError('validation_error', `${location} parameter '${parameter}' ${reason}`, [
    { in: location, parameter, reason },
  ]);
