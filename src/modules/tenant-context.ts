import type { Clock } from '../core/clock.js';
import type { Db, DbTransaction } from '../db/database.js';
import type { TenantScope } from '../core/principal.js';

/** Work for one tenant on the database (reads, one-statement writes, or its own transaction), dated by the clock. */
export interface TenantContext {
  db: Db;
  clock: Clock;
  scope: TenantScope;
}

/** Work for one tenant inside the caller's transaction, dated by the clock. */
export interface TenantTransaction {
  trx: DbTransaction;
  clock: Clock;
  scope: TenantScope;
}

/** A write a user asked for: what they sent, and who they are (the actor its history records). */
export interface TenantRequest<Input> extends TenantTransaction {
  input: Input;
  actor: string;
}
