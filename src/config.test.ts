import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, defaultIssuer, defaultRateLimits, loadConfig, noRateLimits } from './config.js';
import { jpegStart, pngImage } from './testing/images.js';

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
      progressIntervalMs: 5000,
      smtpUrl: undefined,
      smtpFrom: 'billing@localhost',
      rateLimits: defaultRateLimits,
      trustProxy: false,
      webhookAllowPrivate: true,
      issuer: { legalName: 'Billing Service', address: null, taxId: null, email: null, phone: null, logo: null },
    });
    expect(defaultIssuer.legalName).toBe('Billing Service');
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
    [{ BILLING_PROGRESS_INTERVAL_MS: '0' }, /^BILLING_PROGRESS_INTERVAL_MS must be an integer from 1 to 3600000/],
    [{ HOST: 'bad host!' }, /^HOST must be/],
    [{ DATABASE_URL: 'mysql://x', BILLING_JWT_SECRET: secret }, /^DATABASE_URL must be a postgres/],
    [{ DATABASE_URL: 'not a url', BILLING_JWT_SECRET: secret }, /^DATABASE_URL must be a postgres/],
    [{ DATABASE_URL: 'postgres://db/billing' }, /^BILLING_JWT_SECRET or BILLING_JWKS_URL is required/],
    [{ BILLING_JWT_SECRET: 'short' }, /^BILLING_JWT_SECRET must be at least 32 bytes/],
    [{ BILLING_JWKS_URL: 'ftp://keys' }, /^BILLING_JWKS_URL must be an http/],
    [{ LOG_LEVEL: 'loud' }, /^LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent, got "loud"/],
    [{ DATABASE_POOL_MAX: '0', DATABASE_URL: 'postgres://db/b', BILLING_JWT_SECRET: secret }, /^DATABASE_POOL_MAX/],
    [{ BILLING_RATE_LIMITS: 'no' }, /^BILLING_RATE_LIMITS must be on or off, got "no"/],
    [{ BILLING_RATE_LIMIT_READ: '100' }, /^BILLING_RATE_LIMIT_READ must be <requests>\/<window> .*got "100"/],
    [{ BILLING_RATE_LIMIT_WRITE: '0/60s' }, /^BILLING_RATE_LIMIT_WRITE must be/],
    [{ BILLING_RATE_LIMIT_EXPENSIVE: '10/0s' }, /^BILLING_RATE_LIMIT_EXPENSIVE must be/],
    [{ BILLING_RATE_LIMIT_INGEST_PER_TENANT: '10/25h' }, /^BILLING_RATE_LIMIT_INGEST_PER_TENANT must be/],
    [{ BILLING_RATE_LIMIT_AUTH_FAILURE: '-1/60s' }, /^BILLING_RATE_LIMIT_AUTH_FAILURE must be/],
    [{ BILLING_RATE_LIMIT_PUBLIC: 'unlimited' }, /^BILLING_RATE_LIMIT_PUBLIC must be/],
    [{ BILLING_TRUST_PROXY: 'yes' }, /^BILLING_TRUST_PROXY must be false, true or a comma-separated list/],
    [{ BILLING_TRUST_PROXY: '10.0.0.0/33' }, /^BILLING_TRUST_PROXY must be/],
  ])('reports %j clearly', (env, message) => {
    const problems = problemsOf(env);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(message);
  });

  it('reads rate limits per class and per tenant, a class turned off, or all of them off', () => {
    const config = loadConfig(
      {
        BILLING_RATE_LIMIT_READ: '100/1m',
        BILLING_RATE_LIMIT_READ_PER_TENANT: '1000/1h',
        BILLING_RATE_LIMIT_INGEST: 'off',
        BILLING_RATE_LIMIT_AUTH_FAILURE: '5/30s',
      },
      '/srv',
    );
    expect(config.rateLimits).toEqual({
      perCaller: {
        ...defaultRateLimits.perCaller,
        read: { max: 100, windowSeconds: 60 },
        ingest: null,
        auth_failure: { max: 5, windowSeconds: 30 },
      },
      perTenant: { ...defaultRateLimits.perTenant, read: { max: 1000, windowSeconds: 3600 } },
    });
    expect(loadConfig({ BILLING_RATE_LIMITS: 'off' }, '/srv').rateLimits).toEqual(noRateLimits);
    // A class set explicitly keeps its limit when the rest are off.
    expect(
      loadConfig({ BILLING_RATE_LIMITS: 'off', BILLING_RATE_LIMIT_PUBLIC: '10/1s' }, '/srv').rateLimits.perCaller
        .public,
    ).toEqual({ max: 10, windowSeconds: 1 });
  });

  it('trusts the proxies it is told to for the client address', () => {
    expect(loadConfig({ BILLING_TRUST_PROXY: 'true' }, '/srv').trustProxy).toBe(true);
    expect(loadConfig({ BILLING_TRUST_PROXY: '10.0.0.0/8, ::1' }, '/srv').trustProxy).toEqual(['10.0.0.0/8', '::1']);
  });

  it('allows private webhook addresses on the embedded database only, unless told', () => {
    const server = { DATABASE_URL: 'postgres://u@db:5432/billing', BILLING_JWT_SECRET: secret };
    expect(loadConfig(server, '/srv').webhookAllowPrivate).toBe(false);
    expect(loadConfig({ ...server, BILLING_WEBHOOK_ALLOW_PRIVATE: 'true' }, '/srv').webhookAllowPrivate).toBe(true);
    expect(loadConfig({ BILLING_WEBHOOK_ALLOW_PRIVATE: 'false' }, '/srv').webhookAllowPrivate).toBe(false);
    expect(problemsOf({ BILLING_WEBHOOK_ALLOW_PRIVATE: 'yes' })).toEqual([
      'BILLING_WEBHOOK_ALLOW_PRIVATE must be true or false, got "yes"',
    ]);
  });

  describe('the invoice issuer', () => {
    const folder = mkdtempSync(join(tmpdir(), 'billing-config-'));
    const file = (name: string, bytes: Buffer) => {
      writeFileSync(join(folder, name), bytes);
      return join(folder, name);
    };

    it('reads BILLING_ISSUER_* and the logo file, a relative path from the working directory', () => {
      file('logo.png', pngImage());
      const config = loadConfig(
        {
          BILLING_ISSUER_NAME: '示例云计算（上海）有限公司',
          BILLING_ISSUER_ADDRESS: 'No. 1 Example Road\nShanghai 200000',
          BILLING_ISSUER_TAX_ID: '91310000MA1FL0000X',
          BILLING_ISSUER_EMAIL: 'billing@example.com',
          BILLING_ISSUER_PHONE: '+86 21 5555 0100',
          BILLING_ISSUER_LOGO: 'logo.png',
        },
        folder,
      );
      expect(config.issuer).toEqual({
        legalName: '示例云计算（上海）有限公司',
        address: 'No. 1 Example Road\nShanghai 200000',
        taxId: '91310000MA1FL0000X',
        email: 'billing@example.com',
        phone: '+86 21 5555 0100',
        logo: { type: 'image/png', bytes: pngImage() },
      });
      const jpeg = loadConfig({ BILLING_ISSUER_LOGO: file('logo.jpg', jpegStart()) }, '/srv').issuer.logo;
      expect(jpeg).toEqual({ type: 'image/jpeg', bytes: jpegStart() });
    });

    it('takes a logo of exactly 200 KiB', () => {
      const logo = loadConfig({ BILLING_ISSUER_LOGO: file('largest.png', pngImage(204_800)) }, '/srv').issuer.logo;
      expect(logo?.bytes.length).toBe(204_800);
    });

    it.each([
      [{ BILLING_ISSUER_NAME: 'x'.repeat(201) }, /^BILLING_ISSUER_NAME must be 1–200 characters/],
      [{ BILLING_ISSUER_NAME: 'Acme\u0007' }, /^BILLING_ISSUER_NAME must be .*no control characters/],
      [{ BILLING_ISSUER_ADDRESS: 'Tab\there' }, /^BILLING_ISSUER_ADDRESS must be .*line breaks allowed/],
      [{ BILLING_ISSUER_TAX_ID: 'VAT_1' }, /^BILLING_ISSUER_TAX_ID must be 1–64 characters of A–Z/],
      [{ BILLING_ISSUER_EMAIL: 'billing' }, /^BILLING_ISSUER_EMAIL must be one email address/],
      [{ BILLING_ISSUER_PHONE: 'call us' }, /^BILLING_ISSUER_PHONE must be 1–40 characters/],
    ])('reports %j clearly', (env, message) => {
      const problems = problemsOf(env);
      expect(problems).toHaveLength(1);
      expect(problems[0]).toMatch(message);
    });

    it('refuses a logo that is missing, a folder, too large, or not a PNG or JPEG, naming the file', () => {
      const missing = join(folder, 'missing.png');
      expect(problemsOf({ BILLING_ISSUER_LOGO: missing })).toEqual([
        `BILLING_ISSUER_LOGO ${missing} cannot be read (ENOENT)`,
      ]);
      expect(problemsOf({ BILLING_ISSUER_LOGO: folder })).toEqual([
        `BILLING_ISSUER_LOGO ${folder} cannot be read (EISDIR)`,
      ]);
      const large = file('large.png', pngImage(204_801));
      expect(problemsOf({ BILLING_ISSUER_LOGO: large })).toEqual([
        `BILLING_ISSUER_LOGO ${large} is 204801 bytes; at most 204800 (200 KiB)`,
      ]);
      const gif = file('logo.gif', Buffer.from('GIF89a\x01\x00\x01\x00', 'latin1'));
      expect(problemsOf({ BILLING_ISSUER_LOGO: gif })).toEqual([
        `BILLING_ISSUER_LOGO ${gif} is neither a PNG nor a JPEG image`,
      ]);
    });
  });

  it('reports every bad value at once', () => {
    expect(problemsOf({ PORT: 'x', LOG_LEVEL: 'y', BILLING_JWKS_URL: 'z' })).toHaveLength(3);
  });
});
