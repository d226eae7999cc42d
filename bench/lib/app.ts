import { spawn, type ChildProcess } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Clock } from '../../src/core/clock.js';
import { noRateLimits } from '../../src/config.js';
import type { DatabaseHandle } from '../../src/db/database.js';
import { buildApp } from '../../src/app.js';
import type { Api } from '../../src/http/api.js';
import { createTokenVerifier, mintToken, type TokenClaims } from '../../src/modules/auth/tokens.js';

/**
 * The service as the scenarios run it: in process (built and listening on 127.0.0.1), or as
 * `billing serve` in a process of its own, with tokens signed by one bench secret.
 */

const secret = 'bench-secret-that-is-at-least-32-bytes-long';
const repoRoot = new URL('../..', import.meta.url).pathname;

/** The app on `database`, logging nothing, its tokens signed with the bench secret. */
export const buildBenchApp = (database: DatabaseHandle, clock: Clock): Promise<Api> =>
  buildApp({
    database,
    clock,
    tokens: createTokenVerifier({ secret, clock }),
    logLevel: 'silent',
    version: 'bench',
    // The scenarios load the API from a few tokens: limits would measure the limiter, not the API.
    rateLimits: noRateLimits,
  });

/** An Authorization header value for these claims (valid an hour). */
export const bearer = async (claims: TokenClaims, clock: Clock): Promise<string> =>
  `Bearer ${await mintToken(secret, claims, clock)}`;

/** Listens on a free port of 127.0.0.1; the port. */
export const listenLocally = async (app: Api): Promise<number> => {
  await app.listen({ host: '127.0.0.1', port: 0 });
  return (app.server.address() as AddressInfo).port;
};

export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() =>
        typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no free port')),
      );
    });
  });

/**
 * `billing serve` in its own process, as in production (the compiled dist/ that `npm run bench`
 * builds first, a pool of `poolMax` connections, the scheduler and rate limits off); resolves
 * once /readyz answers. Stop it with `kill('SIGTERM')`.
 */
export const startServer = async (url: string, port: number, poolMax: number): Promise<ChildProcess> => {
  const child = spawn(process.execPath, ['--enable-source-maps', 'dist/cli/main.js', 'serve'], {
    cwd: repoRoot,
    stdio: ['ignore', 'ignore', 'inherit'],
    env: {
      ...process.env,
      DATABASE_URL: url,
      DATABASE_POOL_MAX: String(poolMax),
      PORT: String(port),
      HOST: '127.0.0.1',
      BILLING_JWT_SECRET: secret,
      BILLING_SCHEDULER_INTERVAL_SECONDS: '0',
      BILLING_RATE_LIMITS: 'off',
    },
  });
  for (let waited = 0; waited < 60_000; waited += 200) {
    if (child.exitCode !== null) throw new Error(`billing serve exited with ${child.exitCode}`);
    const ready = await fetch(`http://127.0.0.1:${port}/readyz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) return child;
    await sleep(200);
  }
  child.kill('SIGKILL');
  throw new Error('billing serve did not become ready in 60 s');
};
