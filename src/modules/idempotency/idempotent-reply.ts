import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { Clock } from '../../core/clock.js';
import { invalidParameter } from '../../core/errors.js';
import type { Result } from '../../core/result.js';
import type { Db, DbTransaction } from '../../db/database.js';
import { errorBody } from '../../http/error-handler.js';
import { tenantScopeOf } from '../auth/access.js';
import { requestFingerprint } from './fingerprint.js';
import { runIdempotent, type StoredResponse } from './run-idempotent.js';

export const idempotencyKeyHeader = 'idempotency-key';

/** The header schema of every idempotent route, for validation and the docs. */
export const IdempotencyKeyHeaders = Type.Object({
  [idempotencyKeyHeader]: Type.String({ description: 'Required. Same key and body: the first response again' }),
});
const keyPattern = /^[\x21-\x7e]{1,255}$/;

/**
 * The edge of an idempotent POST: requires an `Idempotency-Key`, fingerprints the request
 * (route, path parameters, body), and sends the first response again for a retry.
 */
export const replyIdempotently = async (
  request: FastifyRequest,
  reply: FastifyReply,
  deps: { db: Db; clock: Clock },
  action: (trx: DbTransaction) => Promise<Result<StoredResponse>>,
): Promise<FastifyReply> => {
  const key = request.headers[idempotencyKeyHeader];
  if (typeof key !== 'string' || !keyPattern.test(key)) {
    throw invalidParameter('header', 'Idempotency-Key', 'is required: 1 to 255 visible ASCII characters');
  }
  const fingerprint = requestFingerprint({
    method: request.method,
    route: request.routeOptions.url ?? request.url,
    params: request.params,
    body: request.body,
  });
  const response = await runIdempotent({
    db: deps.db,
    clock: deps.clock,
    scope: tenantScopeOf(request),
    request: { key, fingerprint },
    action,
    renderError: (error) => ({ status: error.status, body: errorBody(request, error, deps.clock.now()) }),
  });
  return reply.status(response.status).header('idempotent-replayed', String(response.replayed)).send(response.body);
};
