import { sql } from 'kysely';
import { AppError } from '../../core/errors.js';
import type { Result } from '../../core/result.js';
import type { DbTransaction } from '../../db/database.js';
import { retryTransaction } from '../../db/retry.js';
import type { TenantContext } from '../tenant-context.js';

/** Keys are kept at least this long (the IETF draft asks for 24 hours). */
export const idempotencyKeyLifetimeMs = 24 * 60 * 60 * 1000;

export interface StoredResponse {
  status: number;
  body: unknown;
}

export interface IdempotentRequest {
  key: string;
  fingerprint: string;
}

export interface IdempotentRun extends TenantContext {
  request: IdempotentRequest;
  /** The write, in the transaction that stores its response with the key. */
  action: (trx: DbTransaction) => Promise<Result<StoredResponse>>;
  renderError: (error: AppError) => StoredResponse;
}

/**
 * Runs a write at most once per (tenant, key). The action, its stored response and the key commit
 * in one transaction, so a crash leaves either everything or nothing. A transaction-scoped
 * advisory lock marks the key in flight: a concurrent retry gets 409 instead of waiting.
 * An expected failure (a Result error) is stored and replayed too, after its writes are undone.
 * A deadlock or serialization failure runs the whole transaction again.
 */
export const runIdempotent = (run: IdempotentRun): Promise<StoredResponse & { replayed: boolean }> =>
  retryTransaction(() => runOnce(run));

const runOnce = ({
  db,
  clock,
  scope,
  request,
  action,
  renderError,
}: IdempotentRun): Promise<StoredResponse & { replayed: boolean }> =>
  db.transaction().execute(async (trx) => {
    const { rows } = await sql<{ locked: boolean }>`
      select pg_try_advisory_xact_lock(hashtext(${scope.tenantId}), hashtext(${request.key})) as locked`.execute(trx);
    if (rows[0]?.locked !== true) {
      throw new AppError('conflict', 'a request with this Idempotency-Key is still in progress');
    }
    const now = clock.now();
    const stored = await trx
      .selectFrom('idempotency_keys')
      .selectAll()
      .where('tenant_id', '=', scope.tenantId)
      .where('key', '=', request.key)
      .executeTakeFirst();
    if (stored !== undefined && stored.expires_at > now) {
      if (stored.fingerprint !== request.fingerprint) {
        throw new AppError('unprocessable', 'this Idempotency-Key was already used with a different request');
      }
      return { status: stored.response_status, body: stored.response_body, replayed: true };
    }
    if (stored !== undefined) {
      await trx
        .deleteFrom('idempotency_keys')
        .where('tenant_id', '=', scope.tenantId)
        .where('key', '=', request.key)
        .execute();
    }

    await sql`savepoint idempotent_action`.execute(trx);
    const result = await action(trx);
    if (!result.ok) await sql`rollback to savepoint idempotent_action`.execute(trx);
    const response = result.ok ? result.value : renderError(result.error);
    await trx
      .insertInto('idempotency_keys')
      .values({
        tenant_id: scope.tenantId,
        key: request.key,
        fingerprint: request.fingerprint,
        response_status: response.status,
        response_body: JSON.stringify(response.body),
        created_at: now,
        expires_at: new Date(now.getTime() + idempotencyKeyLifetimeMs),
      })
      .execute();
    return { ...response, replayed: false };
  });
