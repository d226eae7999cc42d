import type { LightMyRequestResponse } from 'fastify';
import { expect } from 'vitest';
import { errorStatusByType, type ErrorType } from '../core/errors.js';

const rfc3339Utc = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;

const isErrorType = (type: unknown): type is ErrorType => typeof type === 'string' && type in errorStatusByType;

/**
 * An error body as docs/api-conventions.md documents it: `{code, message, error: {type, details},
 * timestamp, request_id}`, or under `/api/v1/` the detail list's `{code, content: null, errorCode,
 * message, success: false, traceId}`; its type is the one the error table maps to its status.
 */
export const expectErrorBody = (body: unknown, status: number, detailList: boolean, label = ''): void => {
  const fields = body as Record<string, unknown>;
  if (detailList) {
    expect(Object.keys(fields).sort(), label).toEqual([
      'code',
      'content',
      'errorCode',
      'message',
      'success',
      'traceId',
    ]);
    expect(fields, label).toMatchObject({ code: status, content: null, success: false });
    expect(isErrorType(fields.errorCode) && errorStatusByType[fields.errorCode], label).toBe(status);
    expect(fields.traceId, label).toEqual(expect.any(String));
  } else {
    expect(Object.keys(fields).sort(), label).toEqual(['code', 'error', 'message', 'request_id', 'timestamp']);
    expect(fields.code, label).toBe(status);
    const error = fields.error as { type: unknown; details: unknown };
    expect(Object.keys(error).sort(), label).toEqual(['details', 'type']);
    expect(isErrorType(error.type) && errorStatusByType[error.type], label).toBe(status);
    expect(Array.isArray(error.details), label).toBe(true);
    for (const detail of error.details as Record<string, unknown>[])
      expect(detail.reason, label).toEqual(expect.any(String));
    expect(fields.timestamp, label).toMatch(rfc3339Utc);
    expect(fields.request_id, label).toEqual(expect.any(String));
  }
  expect(fields.message, label).toEqual(expect.any(String));
  expect(fields.message, label).not.toBe('');
};

/** An injected request's error response: JSON in the envelope its path calls for, with the given status if any. */
export const expectErrorEnvelope = (response: LightMyRequestResponse, status?: number): void => {
  const url = response.raw.req.url ?? '';
  const label = `${response.raw.req.method} ${url.slice(0, 100)} → ${response.statusCode} ${response.body.slice(0, 300)}`;
  if (status !== undefined) expect(response.statusCode, label).toBe(status);
  expect(response.statusCode, label).toBeGreaterThanOrEqual(400);
  expect(response.headers['content-type'], label).toMatch(/^application\/json/);
  const body = response.json<Record<string, unknown>>();
  expectErrorBody(body, response.statusCode, url.startsWith('/api/v1/'), label);
  expect(response.headers['x-request-id'], label).toBe(body.request_id ?? body.traceId);
};
