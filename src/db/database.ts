import { mkdirSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import { pg_trgm } from '@electric-sql/pglite/contrib/pg_trgm';
import { Kysely, PostgresDialect, sql, type Transaction } from 'kysely';
import { PGliteDialect } from 'kysely-pglite-dialect';
import pg from 'pg';
import type { DatabasePoolConfig } from '../config.js';
import { lockDataDir } from './data-dir-lock.js';
import type { Database } from './schema.js';

export type Db = Kysely<Database>;

/**
 * What a function takes when it must run inside its caller's transaction: it locks rows, posts to
 * the ledger, or must commit together with the caller's other writes. A plain `Db` does not fit.
 */
export type DbTransaction = Transaction<Database>;

export type DatabaseTarget =
  | { kind: 'server'; url: string; pool: DatabasePoolConfig }
  | { kind: 'embedded'; dataDir: string }
  /** In memory, for tests; from `image` (an earlier `image()` of one, e.g. freshly migrated) if given. */
  | { kind: 'memory'; image?: Blob | File };

export interface DatabaseHandle {
  db: Db;
  kind: DatabaseTarget['kind'];
  /** Throws when the database cannot answer; `/readyz` uses it. */
  ping(): Promise<void>;
  /**
   * Calls `onNotify` on every NOTIFY on `channel` (sent when the notifying transaction commits),
   * and once more whenever a lost listening connection is back, as notifications may have been
   * missed meanwhile. Resolves to the function that stops listening.
   */
  listen(channel: string, onNotify: () => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
  /** An in-memory database's files as they stand, to open copies of it (memory databases only). */
  image?: () => Promise<Blob | File>;
}

type Listen = DatabaseHandle['listen'];

// Postgres type oids whose JavaScript form differs between drivers.
const int8Oid = 20;
const numericOid = 1700;
const dateOid = 1082;

/**
 * The one place driver differences are normalised: int8 (minor units, counts) becomes `bigint`
 * and numeric (unit prices, rates) stays exact decimal text, on `pg` and on PGlite alike. A date
 * (a calendar day in a tenant's time zone) stays its YYYY-MM-DD text: it is no instant.
 */
const parseInt8 = (text: string): bigint => BigInt(text);
const keepText = (text: string): string => text;

export const defaultPoolConfig: DatabasePoolConfig = {
  max: 10,
  connectTimeoutMs: 5000,
  statementTimeoutMs: 30_000,
  idleInTransactionTimeoutMs: 60_000,
};

const handleOf = (
  db: Db,
  kind: DatabaseTarget['kind'],
  listen: Listen,
  afterClose: () => void = () => undefined,
): DatabaseHandle => ({
  db,
  kind,
  ping: async () => {
    await sql`select 1`.execute(db);
  },
  listen,
  close: async () => {
    await db.destroy();
    afterClose();
  },
});

export const openDatabase = async (
  target: DatabaseTarget,
  onPoolError: (error: Error) => void = () => undefined,
): Promise<DatabaseHandle> => {
  if (target.kind === 'server') return openServerDatabase(target.url, target.pool, onPoolError);
  let unlock: () => void = () => undefined;
  if (target.kind === 'embedded') {
    mkdirSync(target.dataDir, { recursive: true });
    unlock = lockDataDir(target.dataDir);
  }
  try {
    const client = await PGlite.create({
      ...(target.kind === 'embedded' ? { dataDir: target.dataDir } : {}),
      ...(target.kind === 'memory' && target.image !== undefined ? { loadDataDir: target.image } : {}),
      parsers: { [int8Oid]: parseInt8, [numericOid]: keepText, [dateOid]: keepText },
      extensions: { pg_trgm },
    });
    // PGlite delivers a committed transaction's notifications to its own listeners, in process.
    const listen: Listen = async (channel, onNotify) => {
      const unlisten = await client.listen(channel, () => onNotify());
      return async () => {
        if (!client.closed) await unlisten();
      };
    };
    const handle = handleOf(new Kysely<Database>({ dialect: new PGliteDialect(client) }), target.kind, listen, unlock);
    return target.kind === 'memory' ? { ...handle, image: () => client.dumpDataDir('none') } : handle;
  } catch (error) {
    unlock();
    throw error;
  }
};

const openServerDatabase = (
  url: string,
  poolConfig: DatabasePoolConfig,
  onPoolError: (error: Error) => void,
): DatabaseHandle => {
  const pool = new pg.Pool({
    connectionString: url,
    max: poolConfig.max,
    connectionTimeoutMillis: poolConfig.connectTimeoutMs,
    statement_timeout: poolConfig.statementTimeoutMs,
    idle_in_transaction_session_timeout: poolConfig.idleInTransactionTimeoutMs,
    idleTimeoutMillis: 30_000,
    application_name: 'billing-service',
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
        if (oid === int8Oid) return parseInt8;
        if (oid === numericOid) return keepText;
        if (oid === dateOid) return keepText;
        return pg.types.getTypeParser(oid, format) as (text: string) => unknown;
      }) as typeof pg.types.getTypeParser,
    },
  });
  // An idle client whose server connection drops emits here; without a listener the process would exit.
  pool.on('error', onPoolError);
  // pg-pool listens to a client only while it idles in the pool. A client held by a transaction whose
  // connection drops (or whose session the server ends: idle-in-transaction timeout, restart) would
  // emit 'error' unheard and crash the process. Listening for its whole life turns that into a
  // failed next statement (→ 503); the pool discards the client on release.
  const checkedOut = new WeakSet<pg.PoolClient>();
  pool.on('acquire', (client) => checkedOut.add(client));
  pool.on('release', (_error, client) => checkedOut.delete(client));
  pool.on('connect', (client) => {
    client.on('error', (error) => {
      if (checkedOut.has(client)) onPoolError(error);
    });
  });
  return handleOf(
    new Kysely<Database>({ dialect: new PostgresDialect({ pool }) }),
    'server',
    listenOnServer(url, onPoolError),
  );
};

const firstReconnectDelayMs = 1000;
const maxReconnectDelayMs = 30_000;

/**
 * LISTEN needs a session of its own (a pooled connection goes back to the pool): one dedicated
 * client per listener, connected again with a growing delay whenever it is lost.
 */
const listenOnServer =
  (url: string, onError: (error: Error) => void): Listen =>
  async (channel, onNotify) => {
    let client: pg.Client | undefined;
    let stopped = false;
    let retry: NodeJS.Timeout | undefined;
    let delayMs = firstReconnectDelayMs;
    const lost = (which: pg.Client) => {
      if (stopped || which !== client) return;
      client = undefined;
      which.end().catch(() => undefined);
      scheduleReconnect();
    };
    const connect = async (): Promise<void> => {
      const next = new pg.Client({ connectionString: url, application_name: 'billing-service-listen' });
      next.on('notification', (message) => {
        if (message.channel === channel) onNotify();
      });
      next.on('error', (error) => {
        onError(error);
        lost(next);
      });
      next.on('end', () => lost(next));
      try {
        await next.connect();
        await next.query(`listen ${next.escapeIdentifier(channel)}`);
      } catch (error) {
        next.end().catch(() => undefined);
        throw error;
      }
      if (stopped) {
        await next.end();
        return;
      }
      client = next;
      delayMs = firstReconnectDelayMs;
    };
    const scheduleReconnect = () => {
      retry = setTimeout(() => {
        retry = undefined;
        connect().then(onNotify, (error: unknown) => {
          onError(error instanceof Error ? error : new Error(String(error)));
          delayMs = Math.min(delayMs * 2, maxReconnectDelayMs);
          if (!stopped) scheduleReconnect();
        });
      }, delayMs);
      retry.unref();
    };
    try {
      await connect();
    } catch (error) {
      onError(error instanceof Error ? error : new Error(String(error)));
      scheduleReconnect();
    }
    return async () => {
      stopped = true;
      clearTimeout(retry);
      const current = client;
      client = undefined;
      await current?.end().catch(() => undefined);
    };
  };
