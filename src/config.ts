import { isAbsolute, resolve } from 'node:path';

export const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof logLevels)[number];

export interface DatabasePoolConfig {
  max: number;
  connectTimeoutMs: number;
  statementTimeoutMs: number;
  idleInTransactionTimeoutMs: number;
}

export interface Config {
  port: number;
  host: string;
  database: { kind: 'server'; url: string; pool: DatabasePoolConfig } | { kind: 'embedded'; dataDir: string };
  dataDir: string;
  jwtSecret: string | undefined;
  jwksUrl: string | undefined;
  logLevel: LogLevel;
  /** Seconds between scheduler ticks (billing run, alerts, outbox) in the server; 0: none. */
  schedulerIntervalSeconds: number;
  /** smtp(s)://user:pass@host:port of the mail relay for email notifications; unset: email is not sent. */
  smtpUrl: string | undefined;
  smtpFrom: string;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

/** Reads and validates the environment; every bad value is reported at once, by name. */
export const loadConfig = (env: Env = process.env, cwd = process.cwd()): Config => {
  const problems: string[] = [];
  const value = (name: string): string | undefined => {
    const raw = env[name];
    return raw === undefined || raw.trim() === '' ? undefined : raw.trim();
  };
  const integer = (name: string, fallback: number, min: number, max: number): number => {
    const raw = value(name);
    if (raw === undefined) return fallback;
    if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
      problems.push(`${name} must be an integer from ${min} to ${max}, got "${raw}"`);
      return fallback;
    }
    return Number(raw);
  };

  const port = integer('PORT', 8080, 0, 65535);
  const host = value('HOST') ?? '127.0.0.1';
  if (!/^[A-Za-z0-9.:_-]+$/.test(host)) problems.push(`HOST must be a host name or IP address, got "${host}"`);

  const rawDataDir = value('BILLING_DATA_DIR') ?? './data';
  const dataDir = isAbsolute(rawDataDir) ? rawDataDir : resolve(cwd, rawDataDir);

  const databaseUrl = value('DATABASE_URL');
  if (databaseUrl !== undefined && !isUrlWithProtocol(databaseUrl, ['postgres:', 'postgresql:'])) {
    problems.push('DATABASE_URL must be a postgres:// or postgresql:// URL');
  }
  const pool: DatabasePoolConfig = {
    max: integer('DATABASE_POOL_MAX', 10, 1, 1000),
    connectTimeoutMs: integer('DATABASE_CONNECT_TIMEOUT_MS', 5000, 100, 600_000),
    statementTimeoutMs: integer('DATABASE_STATEMENT_TIMEOUT_MS', 30_000, 100, 3_600_000),
    idleInTransactionTimeoutMs: integer('DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS', 60_000, 100, 3_600_000),
  };

  const jwtSecret = value('BILLING_JWT_SECRET');
  if (jwtSecret !== undefined && Buffer.byteLength(jwtSecret) < 32) {
    problems.push('BILLING_JWT_SECRET must be at least 32 bytes long (HS256 needs a 256-bit key)');
  }
  const jwksUrl = value('BILLING_JWKS_URL');
  if (jwksUrl !== undefined && !isUrlWithProtocol(jwksUrl, ['http:', 'https:'])) {
    problems.push('BILLING_JWKS_URL must be an http:// or https:// URL');
  }
  if (databaseUrl !== undefined && jwtSecret === undefined && jwksUrl === undefined) {
    problems.push('BILLING_JWT_SECRET or BILLING_JWKS_URL is required when DATABASE_URL is set');
  }

  const logLevel = (value('LOG_LEVEL') ?? 'info') as LogLevel;
  if (!logLevels.includes(logLevel)) {
    problems.push(`LOG_LEVEL must be one of ${logLevels.join(', ')}, got "${logLevel}"`);
  }

  const schedulerIntervalSeconds = integer('BILLING_SCHEDULER_INTERVAL_SECONDS', 60, 0, 86_400);
  const smtpUrl = value('SMTP_URL');
  if (smtpUrl !== undefined && !isUrlWithProtocol(smtpUrl, ['smtp:', 'smtps:'])) {
    problems.push('SMTP_URL must be an smtp:// or smtps:// URL');
  }
  const smtpFrom = value('SMTP_FROM') ?? 'billing@localhost';

  if (problems.length > 0) throw new ConfigError(problems);
  return {
    port,
    host,
    database: databaseUrl === undefined ? { kind: 'embedded', dataDir } : { kind: 'server', url: databaseUrl, pool },
    dataDir,
    jwtSecret,
    jwksUrl,
    logLevel,
    schedulerIntervalSeconds,
    smtpUrl,
    smtpFrom,
  };
};

const isUrlWithProtocol = (raw: string, protocols: string[]): boolean => {
  try {
    return protocols.includes(new URL(raw).protocol);
  } catch {
    return false;
  }
};
