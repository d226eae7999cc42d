import type { LightMyRequestResponse } from 'fastify';
import { expect } from 'vitest';
import { errorStatusByType, type ErrorType } from '../core/errors.js';
import type { ErrorBody, ListBody, SingleBody } from './views.js';

/** A timestamp as the API writes them: RFC 3339, UTC, to the second. */
export const rfc3339Utc = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;

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

/** The data of a single-object answer `{code, message, data, timestamp}` with the given status. */
export const expectData = <Data>(response: LightMyRequestResponse, status = 200): Data => {
  expect(response.statusCode, response.body).toBe(status);
  const body = response.json<SingleBody<Data>>();
  expect(body.code).toBe(status);
  expect(body.timestamp).toMatch(rfc3339Utc);
  return body.data;
};

/** A page of a list `{code, message, items, pagination, total, timestamp}`, answered 200. */
export const expectList = <Item>(response: LightMyRequestResponse): ListBody<Item> => {
  expect(response.statusCode, response.body).toBe(200);
  const body = response.json<ListBody<Item>>();
  expect(body.code).toBe(200);
  expect(body.pagination.total).toBe(body.total);
  return body;
};

/** Every item of a list read in one page (`page_size=100`): the total must be what the page holds. */
export const expectAllItems = <Item>(response: LightMyRequestResponse): Item[] => {
  const body = expectList<Item>(response);
  expect(body.total).toBe(body.items.length);
  return body.items;
};

/** An error answer with its status and type, in the whole envelope, leaking nothing. */
export const expectError = (response: LightMyRequestResponse, status: number, type: string): ErrorBody => {
  expect(response.statusCode, response.body).toBe(status);
  expectNothingLeaked(response.body);
  const body = response.json<ErrorBody>();
  expect(body).toEqual({
    code: status,
    message: expect.any(String) as string,
    error: { type, details: expect.any(Array) as unknown[] },
    timestamp: expect.stringMatching(rfc3339Utc) as string,
    request_id: expect.any(String) as string,
  });
  return body;
};

/** A 400 whose details and message name the bad parameter, where it was. */
export const expectInvalid = (response: LightMyRequestResponse, parameter: string, location = 'body'): ErrorBody => {
  const body = expectError(response, 400, 'validation_error');
  expect(body.error.details, response.body).toContainEqual({
    in: location,
    parameter,
    reason: expect.any(String) as string,
  });
  expect(body.message).toContain(parameter);
  return body;
};

/** A body without the fields that differ per request, to compare two answers. */
export const comparable = (body: string): Record<string, unknown> => {
  const { timestamp: _timestamp, request_id: _requestId, ...rest } = JSON.parse(body) as Record<string, unknown>;
  return rest;
};

/** What an error body must never carry: internals a caller could learn the system from. */
export const expectNothingLeaked = (body: string): void => {
  for (const needle of [
    /\bstack\b/i,
    /\bselect\b/i,
    /127\.0\.0\.1/,
    /postgres/i,
    /pglite/i,
    /node_modules/,
    /\.ts:\d+/,
  ]) {
    expect(body).not.toMatch(needle);
  }
};
