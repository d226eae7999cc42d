import net from 'node:net';
import { performance } from 'node:perf_hooks';
import type { LightMyRequestResponse } from 'fastify';
import { sql, type ControlledTransaction } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../core/clock.js';
import type { Api } from '../http/api.js';
import { mintToken } from '../modules/auth/tokens.js';
import { bearer, buildTestApi, platformAdminClaims, testSecret, testStart } from '../testing/test-app.js';
import { createTestDatabase, type TestDatabase } from '../testing/test-database.js';
import { TcpProxy } from '../testing/tcp-proxy.js';
import { openDatabase, type DatabaseHandle } from './database.js';
import type { Database } from './schema.js';
import { isDatabaseUnavailable } from './errors.js';

const pool = { max: 4, connectTimeoutMs: 500, statementTimeoutMs: 1000, idleInTransactionTimeoutMs: 1000 };

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `check` until it returns true or `timeoutMs` passes; resolves with whether it succeeded. */
const eventually = async (check: () => Promise<boolean> | boolean, timeoutMs: number, everyMs = 100) => {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (performance.now() >= deadline) return false;
    await sleep(everyMs);
  }
};

const failureOf = async (work: Promise<unknown>): Promise<unknown> => {
  try {
    await work;
  } catch (error) {
    return error;
  }
  throw new Error('expected the database call to fail');
};

const describeFault = (fault: unknown): string =>
  fault instanceof Error
    ? `${fault.name}: ${fault.message} (code ${String((fault as { code?: unknown }).code)})`
    : String(fault);

describe.skipIf(!process.env.DATABASE_URL)('database resilience (server mode, through a TCP proxy)', () => {
  let database: TestDatabase;
  let databaseName: string;
  let proxy: TcpProxy;
  let handle: DatabaseHandle;
  let app: Api;
  let adminHeaders: Record<string, string>;
  const poolErrors: Error[] = [];

  // Anything reaching these would have crashed a production process.
  const processFaults: string[] = [];
  const onUncaughtException = (error: Error) => processFaults.push(`uncaughtException: ${describeFault(error)}`);
  const onUnhandledRejection = (reason: unknown) => processFaults.push(`unhandledRejection: ${describeFault(reason)}`);
  const expectProcessUnharmed = () => expect(processFaults).toEqual([]);

  /** A transaction whose connection is gone: its next query fails as "unavailable", and nothing crashes. */
  const expectTransactionLost = async (trx: ControlledTransaction<Database>) => {
    const error = await failureOf(sql`select 1`.execute(trx));
    expect(isDatabaseUnavailable(error), describeFault(error)).toBe(true);
    await trx
      .rollback()
      .execute()
      .catch(() => undefined);
    expectProcessUnharmed();
  };

  let requestCount = 0;
  const readyz = () => app.inject({ method: 'GET', url: '/readyz' });
  const listTenants = () =>
    app.inject({
      method: 'GET',
      url: '/admin/tenants',
      headers: { ...adminHeaders, 'x-request-id': `resilience-${++requestCount}` },
    });

  beforeAll(async () => {
    process.on('uncaughtException', onUncaughtException);
    process.on('unhandledRejection', onUnhandledRejection);
    database = await createTestDatabase();
    const directUrl = new URL(database.url!);
    databaseName = directUrl.pathname.slice(1);
    proxy = new TcpProxy('127.0.0.1', 5432);
    const proxiedUrl = new URL(directUrl);
    proxiedUrl.hostname = '127.0.0.1';
    proxiedUrl.port = String(await proxy.start(0));
    handle = await openDatabase({ kind: 'server', url: proxiedUrl.toString(), pool }, (error) =>
      poolErrors.push(error),
    );
    const clock = new ManualClock(testStart);
    app = await buildTestApi(handle, clock);
    await app.ready();
    adminHeaders = bearer(await mintToken(testSecret, platformAdminClaims, clock));
  });

  afterAll(async () => {
    await app?.close();
    await handle?.close();
    await proxy?.close();
    await database?.destroy();
    process.off('uncaughtException', onUncaughtException);
    process.off('unhandledRejection', onUnhandledRejection);
  });

  beforeEach(() => {
    processFaults.length = 0;
  });

  it('is healthy through the proxy', async () => {
    const ready = await readyz();
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toEqual({ status: 'ready', checks: { database: 'up' } });
    expect((await listTenants()).statusCode).toBe(200);
    // Fill the pool, so the next step finds idle clients sitting in it.
    await Promise.all(Array.from({ length: pool.max }, () => sql`select pg_sleep(0.05)`.execute(handle.db)));
    expect(proxy.liveConnections).toBe(pool.max);
    expectProcessUnharmed();
  });

  it('turns unready and answers 503 when its connections drop and the server is unreachable', async () => {
    expect(proxy.liveConnections).toBeGreaterThan(0);
    const poolErrorsBefore = poolErrors.length;
    proxy.cutAll();
    await proxy.pause();
    // Every idle client's loss reaches the pool's 'error' listener instead of crashing the process.
    expect(await eventually(() => poolErrors.length - poolErrorsBefore >= pool.max, 2000, 20)).toBe(true);

    const readyStarted = performance.now();
    const ready = await readyz();
    expect(ready.statusCode).toBe(503);
    expect(ready.json()).toEqual({ status: 'unready', checks: { database: 'down' } });
    expect(performance.now() - readyStarted).toBeLessThan(2500);

    const routeStarted = performance.now();
    const response: LightMyRequestResponse = await listTenants();
    expect(performance.now() - routeStarted).toBeLessThan(2500);
    expect(response.statusCode).toBe(503);
    expect(response.headers['retry-after']).toBe('5');
    const body = response.json<Record<string, unknown>>();
    expect(body).toMatchObject({
      code: 503,
      message: 'the service is temporarily unavailable',
      error: { type: 'service_unavailable' },
    });
    expect(Object.keys(body).sort()).toEqual(['code', 'error', 'message', 'request_id', 'timestamp']);
    const text = response.body.toLowerCase();
    for (const leak of [
      '127.0.0.1',
      'localhost',
      String(proxy.port),
      '5432',
      'econnrefused',
      'connect',
      'postgres',
      'billing_test',
      'select',
      ' from ',
      'pg_',
      'stack',
      '    at ',
      '.ts:',
      '.js:',
    ]) {
      expect(text, `the 503 body leaks "${leak}"`).not.toContain(leak);
    }
    expectProcessUnharmed();
  });

  it('recovers by itself once the server is reachable again', async () => {
    await proxy.resume();
    const started = performance.now();
    expect(await eventually(async () => (await readyz()).statusCode === 200, 5000)).toBe(true);
    expect(performance.now() - started).toBeLessThan(5000);
    const response = await listTenants();
    expect(response.statusCode).toBe(200);
    expectProcessUnharmed();
  });

  it('survives a connection dropped while a transaction holds it', async () => {
    const trx = await handle.db.startTransaction().execute();
    await sql`select 1`.execute(trx);
    proxy.cutAll();
    // The checked-out client learns of the drop while no query is running on it.
    await sleep(200);
    await expectTransactionLost(trx);
    await handle.ping();
    expect((await readyz()).statusCode).toBe(200);
  });

  it('cancels a statement that runs past the statement timeout', async () => {
    const started = performance.now();
    const error = await failureOf(sql`select pg_sleep(3)`.execute(handle.db));
    const elapsed = performance.now() - started;
    expect((error as { code?: unknown }).code, describeFault(error)).toBe('57014');
    expect(elapsed).toBeGreaterThanOrEqual(pool.statementTimeoutMs - 50);
    expect(elapsed).toBeLessThan(1500);
    expect(isDatabaseUnavailable(error)).toBe(true);
    // The connection is still good afterwards.
    await handle.ping();
    expectProcessUnharmed();
  });

  it('has the server end a session left idle in a transaction, and keeps serving', async () => {
    const probe = new pg.Client({ connectionString: database.url, application_name: 'resilience-probe' });
    await probe.connect();
    try {
      const trx = await handle.db.startTransaction().execute();
      const { rows } = await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(trx);
      const pid = rows[0]!.pid;
      await sleep(pool.idleInTransactionTimeoutMs + 500);
      const gone = await probe.query('select 1 from pg_stat_activity where pid = $1', [pid]);
      expect(gone.rowCount, 'the server terminated the idle-in-transaction session').toBe(0);

      await expectTransactionLost(trx);

      const { rows: after } = await sql<{ ok: number }>`select 1 as ok`.execute(handle.db);
      expect(after).toEqual([{ ok: 1 }]);
      expect((await readyz()).statusCode).toBe(200);
      expect((await listTenants()).statusCode).toBe(200);
    } finally {
      await probe.end();
    }
  });

  it('never holds more server connections than the pool limit', async () => {
    const probe = new pg.Client({ connectionString: database.url, application_name: 'resilience-probe' });
    await probe.connect();
    try {
      // The harness's own (direct) handle also says 'billing-service'; leave its connections out.
      const proxied = new Set(proxy.upstreamPorts());
      const { rows: direct } = await probe.query<{ pid: number; client_port: number }>(
        `select pid, client_port from pg_stat_activity where application_name = 'billing-service' and datname = $1`,
        [databaseName],
      );
      const directPids = direct.filter((row) => !proxied.has(row.client_port)).map((row) => row.pid);

      let done = false;
      let maxServer = 0;
      let maxProxy = 0;
      const sampling = (async () => {
        while (!done) {
          const { rows } = await probe.query<{ count: string }>(
            `select count(*) from pg_stat_activity
              where application_name = 'billing-service' and datname = $1 and pid <> all($2::int[])`,
            [databaseName, directPids],
          );
          maxServer = Math.max(maxServer, Number(rows[0]!.count));
          maxProxy = Math.max(maxProxy, proxy.liveConnections);
          await sleep(10);
        }
      })();
      const results = await Promise.allSettled(
        Array.from({ length: 20 }, () => sql`select pg_sleep(0.2)`.execute(handle.db)),
      );
      done = true;
      await sampling;

      expect(maxServer).toBeGreaterThan(0);
      expect(maxServer).toBeLessThanOrEqual(pool.max);
      expect(maxProxy).toBeLessThanOrEqual(pool.max);
      const fulfilled = results.filter((result) => result.status === 'fulfilled').length;
      expect(fulfilled).toBeGreaterThanOrEqual(pool.max);
      // Callers queued longer than connectTimeoutMs for a free client are turned away, as "unavailable".
      for (const result of results) {
        if (result.status === 'rejected') {
          expect(isDatabaseUnavailable(result.reason), describeFault(result.reason)).toBe(true);
        }
      }
      expectProcessUnharmed();
    } finally {
      await probe.end();
    }
  });

  it('gives up connecting after the connect timeout when the server never answers', async () => {
    const hung = new Set<net.Socket>();
    const blackhole = net.createServer((socket) => {
      hung.add(socket);
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => blackhole.listen(0, '127.0.0.1', resolve));
    const { port } = blackhole.address() as net.AddressInfo;
    const stuck = await openDatabase({
      kind: 'server',
      url: `postgres://postgres@127.0.0.1:${port}/${databaseName}`,
      pool,
    });
    try {
      const started = performance.now();
      const error = await failureOf(stuck.ping());
      const elapsed = performance.now() - started;
      expect(isDatabaseUnavailable(error), describeFault(error)).toBe(true);
      expect(elapsed).toBeGreaterThanOrEqual(pool.connectTimeoutMs - 50);
      expect(elapsed).toBeLessThan(1500);
      await sleep(100);
      expectProcessUnharmed();
    } finally {
      await stuck.close();
      for (const socket of hung) socket.destroy();
      await new Promise<void>((resolve) => blackhole.close(() => resolve()));
    }
  });
});
