import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.js';

const secret = 'x'.repeat(32);

const problemsOf = (env: Record<string, string>): string[] => {
  try {
    loadConfig(env, '/srv/billing');
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
};

describe('loadConfig', () => {
  it('defaults to the embedded database in ./data on port 8080', () => {
    expect(loadConfig({}, '/srv/billing')).toEqual({
      port: 8080,
      host: '127.0.0.1',
      database: { kind: 'embedded', dataDir: '/srv/billing/data' },
      dataDir: '/srv/billing/data',
      jwtSecret: undefined,
      jwksUrl: undefined,
      logLevel: 'info',
      schedulerIntervalSeconds: 60,
      smtpUrl: undefined,
      smtpFrom: 'billing@localhost',
    });
  });

  it('uses the server database with pool settings when DATABASE_URL is set', () => {
    const config = loadConfig(
      {
        DATABASE_URL: 'postgres://u@db:5432/billing',
        BILLING_JWT_SECRET: secret,
        DATABASE_POOL_MAX: '25',
        PORT: '9000',
      },
      '/srv',
    );
    expect(config.port).toBe(9000);
    expect(config.database).toEqual({
      kind: 'server',
      url: 'postgres://u@db:5432/billing',
      pool: { max: 25, connectTimeoutMs: 5000, statementTimeoutMs: 30000, idleInTransactionTimeoutMs: 60000 },
    });
  });

  it.each([
    [{ PORT: 'abc' }, /^PORT must be an integer from 0 to 65535, got "abc"/],
    [{ PORT: '70000' }, /^PORT must be/],
    [{ PORT: '-1' }, /^PORT must be/],
    [{ HOST: 'bad host!' }, /^HOST must be/],
    [{ DATABASE_URL: 'mysql://x', BILLING_JWT_SECRET: secret }, /^DATABASE_URL must be a postgres/],
    [{ DATABASE_URL: 'not a url', BILLING_JWT_SECRET: secret }, /^DATABASE_URL must be a postgres/],
    [{ DATABASE_URL: 'postgres://db/billing' }, /^BILLING_JWT_SECRET or BILLING_JWKS_URL is required/],
    [{ BILLING_JWT_SECRET: 'short' }, /^BILLING_JWT_SECRET must be at least 32 bytes/],
    [{ BILLING_JWKS_URL: 'ftp://keys' }, /^BILLING_JWKS_URL must be an http/],
    [{ LOG_LEVEL: 'loud' }, /^LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent, got "loud"/],
    [{ DATABASE_POOL_MAX: '0', DATABASE_URL: 'postgres://db/b', BILLING_JWT_SECRET: secret }, /^DATABASE_POOL_MAX/],
  ])('reports %j clearly', (env, message) => {
    const problems = problemsOf(env);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(message);
  });

  it('reports every bad value at once', () => {
    expect(problemsOf({ PORT: 'x', LOG_LEVEL: 'y', BILLING_JWKS_URL: 'z' })).toHaveLength(3);
  });
});
