import { readFileSync, statSync } from 'node:fs';
import { isIP } from 'node:net';
import { isAbsolute, resolve } from 'node:path';
import { imageTypeOf, logoProblem, maxLogoBytes, type Image } from './core/images.js';
import { isValidPartyField, partyFieldRules, type PartyField } from './core/party-fields.js';

export const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof logLevels)[number];

export interface DatabasePoolConfig {
  max: number;
  connectTimeoutMs: number;
  statementTimeoutMs: number;
  idleInTransactionTimeoutMs: number;
}

/** Route classes, each with its own limits; `docs/api-conventions.md#rate-limits` says which route is in which. */
export const rateLimitClasses = ['read', 'write', 'expensive', 'ingest', 'auth_failure', 'public'] as const;
export type RateLimitClass = (typeof rateLimitClasses)[number];
/** The classes an authenticated caller's requests fall in; these also have a limit per tenant. */
export type CallerRateLimitClass = Exclude<RateLimitClass, 'auth_failure' | 'public'>;
export const callerRateLimitClasses = [
  'read',
  'write',
  'expensive',
  'ingest',
] as const satisfies CallerRateLimitClass[];

/** At most `max` requests per fixed window of `windowSeconds`; null: the limit is off. */
export type RateLimit = { max: number; windowSeconds: number } | null;

export interface RateLimitConfig {
  /**
   * Per caller: a token's tenant and subject, or a DF-API-KEY; for `public` (unauthenticated
   * routes) and `auth_failure` (failed authentications) the client address.
   */
  perCaller: Record<RateLimitClass, RateLimit>;
  /** Per tenant: all of one tenant's users and keys together. */
  perTenant: Record<CallerRateLimitClass, RateLimit>;
}

export const perMinute = (max: number): NonNullable<RateLimit> => ({ max, windowSeconds: 60 });

/** Production defaults: well above what one well-behaved client needs, well below what one machine serves. */
export const defaultRateLimits: RateLimitConfig = {
  perCaller: {
    read: perMinute(1200),
    write: perMinute(600),
    expensive: perMinute(120),
    ingest: perMinute(1200),
    auth_failure: perMinute(30),
    public: perMinute(1200),
  },
  perTenant: {
    read: perMinute(6000),
    write: perMinute(3000),
    expensive: perMinute(300),
    ingest: perMinute(6000),
  },
};

/** Every class off (`BILLING_RATE_LIMITS=off`): for benchmarks that load the API from a few callers. */
export const noRateLimits: RateLimitConfig = {
  perCaller: { read: null, write: null, expensive: null, ingest: null, auth_failure: null, public: null },
  perTenant: { read: null, write: null, expensive: null, ingest: null },
};

/** `false` (the TCP peer is the client), `true` (believe any X-Forwarded-For), or the proxies' addresses. */
export type TrustProxy = boolean | string[];

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
  /** The CLI's long commands: milliseconds between progress lines when not on a terminal. */
  progressIntervalMs: number;
  /** smtp(s)://user:pass@host:port of the mail relay for email notifications; unset: email is not sent. */
  smtpUrl: string | undefined;
  smtpFrom: string;
  rateLimits: RateLimitConfig;
  trustProxy: TrustProxy;
  /** Webhook URLs may point at loopback, private and link-local addresses (`BILLING_WEBHOOK_ALLOW_PRIVATE`). */
  webhookAllowPrivate: boolean;
  issuer: IssuerConfig;
}

/**
 * The issuer printed on every invoice (the platform operator) while no settings were saved
 * through `PUT /admin/settings/issuer`: the `BILLING_ISSUER_*` variables.
 */
export interface IssuerConfig {
  legalName: string;
  address: string | null;
  taxId: string | null;
  email: string | null;
  phone: string | null;
  /** `BILLING_ISSUER_LOGO`: a PNG or JPEG file of at most 200 KiB, read at start. */
  logo: Image | null;
}

/** The issuer when nothing is configured. */
export const defaultIssuer: IssuerConfig = {
  legalName: 'Billing Service',
  address: null,
  taxId: null,
  email: null,
  phone: null,
  logo: null,
};

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
  const progressIntervalMs = integer('BILLING_PROGRESS_INTERVAL_MS', 5000, 1, 3_600_000);
  const smtpUrl = value('SMTP_URL');
  if (smtpUrl !== undefined && !isUrlWithProtocol(smtpUrl, ['smtp:', 'smtps:'])) {
    problems.push('SMTP_URL must be an smtp:// or smtps:// URL');
  }
  const smtpFrom = value('SMTP_FROM') ?? 'billing@localhost';

  const rateLimits = rateLimitsFrom(value, problems);
  const trustProxy = trustProxyFrom(value('BILLING_TRUST_PROXY'), problems);
  // Embedded is a developer's machine (receivers on localhost); a server deployment refuses them unless told.
  const webhookAllowPrivate = booleanFrom(value, 'BILLING_WEBHOOK_ALLOW_PRIVATE', databaseUrl === undefined, problems);

  const issuer = issuerFrom(value, cwd, problems);

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
    progressIntervalMs,
    smtpUrl,
    smtpFrom,
    rateLimits,
    trustProxy,
    webhookAllowPrivate,
    issuer,
  };
};

/** The logo file as an image, or why it cannot be one; its size is checked before it is read. */
const readLogo = (path: string): Image | string => {
  try {
    const { size } = statSync(path);
    if (size > maxLogoBytes) return `is ${size} bytes; at most ${maxLogoBytes} (200 KiB)`;
    const bytes = readFileSync(path);
    const type = imageTypeOf(bytes);
    return logoProblem(bytes) ?? (type === undefined ? 'is neither a PNG nor a JPEG image' : { type, bytes });
  } catch (error) {
    return `cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)})`;
  }
};

const issuerVariables: Record<Exclude<keyof IssuerConfig, 'logo'>, { name: string; field: PartyField }> = {
  legalName: { name: 'BILLING_ISSUER_NAME', field: 'legal_name' },
  address: { name: 'BILLING_ISSUER_ADDRESS', field: 'address' },
  taxId: { name: 'BILLING_ISSUER_TAX_ID', field: 'tax_id' },
  email: { name: 'BILLING_ISSUER_EMAIL', field: 'email' },
  phone: { name: 'BILLING_ISSUER_PHONE', field: 'phone' },
};

/** `BILLING_ISSUER_*`, each by the rule the API applies to the same field; the logo file read now. */
const issuerFrom = (value: (name: string) => string | undefined, cwd: string, problems: string[]): IssuerConfig => {
  const text = (key: keyof typeof issuerVariables): string | null => {
    const { name, field } = issuerVariables[key];
    const raw = value(name);
    if (raw === undefined) return null;
    if (!isValidPartyField(field, raw)) {
      problems.push(`${name} must be ${partyFieldRules[field].description}, got "${raw.slice(0, 100)}"`);
      return null;
    }
    return raw;
  };
  const issuer: IssuerConfig = {
    legalName: text('legalName') ?? defaultIssuer.legalName,
    address: text('address'),
    taxId: text('taxId'),
    email: text('email'),
    phone: text('phone'),
    logo: null,
  };
  const logoPath = value('BILLING_ISSUER_LOGO');
  if (logoPath !== undefined) {
    const path = isAbsolute(logoPath) ? logoPath : resolve(cwd, logoPath);
    const logo = readLogo(path);
    if (typeof logo === 'string') problems.push(`BILLING_ISSUER_LOGO ${path} ${logo}`);
    else issuer.logo = logo;
  }
  return issuer;
};

const booleanFrom = (
  value: (name: string) => string | undefined,
  name: string,
  fallback: boolean,
  problems: string[],
): boolean => {
  const raw = value(name);
  if (raw === undefined) return fallback;
  if (raw !== 'true' && raw !== 'false') problems.push(`${name} must be true or false, got "${raw}"`);
  return raw === 'true';
};

const rateLimitPattern = /^(\d+)\/(\d+)(s|m|h)$/;
const secondsPerUnit = { s: 1, m: 60, h: 3600 } as const;

/** `BILLING_RATE_LIMIT_<CLASS>` and `…_PER_TENANT`: `<requests>/<window>` (`600/60s`, `100/1m`) or `off`. */
const rateLimitsFrom = (value: (name: string) => string | undefined, problems: string[]): RateLimitConfig => {
  const all = value('BILLING_RATE_LIMITS') ?? 'on';
  if (all !== 'on' && all !== 'off') problems.push(`BILLING_RATE_LIMITS must be on or off, got "${all}"`);
  const limit = (name: string, fallback: RateLimit): RateLimit => {
    const raw = value(name);
    if (raw === undefined) return all === 'off' ? null : fallback;
    if (raw === 'off') return null;
    const match = rateLimitPattern.exec(raw);
    const max = Number(match?.[1]);
    const windowSeconds = Number(match?.[2]) * secondsPerUnit[(match?.[3] ?? 's') as keyof typeof secondsPerUnit];
    if (match === null || max < 1 || max > 1_000_000 || windowSeconds < 1 || windowSeconds > 86_400) {
      problems.push(
        `${name} must be <requests>/<window> (1 to 1000000 requests per 1 s to 24 h, e.g. 600/60s or 100/1m) or off, got "${raw}"`,
      );
      return fallback;
    }
    return { max, windowSeconds };
  };
  const variable = (rateLimitClass: RateLimitClass) => `BILLING_RATE_LIMIT_${rateLimitClass.toUpperCase()}`;
  return {
    perCaller: Object.fromEntries(
      rateLimitClasses.map((c) => [c, limit(variable(c), defaultRateLimits.perCaller[c])]),
    ) as RateLimitConfig['perCaller'],
    perTenant: Object.fromEntries(
      callerRateLimitClasses.map((c) => [c, limit(`${variable(c)}_PER_TENANT`, defaultRateLimits.perTenant[c])]),
    ) as RateLimitConfig['perTenant'],
  };
};

const cidrPattern = /^([^/]+)(?:\/(\d{1,3}))?$/;

const trustProxyFrom = (raw: string | undefined, problems: string[]): TrustProxy => {
  if (raw === undefined || raw === 'false') return false;
  if (raw === 'true') return true;
  const addresses = raw.split(',').map((part) => part.trim());
  const valid = addresses.every((address) => {
    const match = cidrPattern.exec(address);
    const family = isIP(match?.[1] ?? '');
    return family !== 0 && (match?.[2] === undefined || Number(match[2]) <= (family === 4 ? 32 : 128));
  });
  if (!valid) {
    problems.push(
      `BILLING_TRUST_PROXY must be false, true or a comma-separated list of proxy addresses or CIDR ranges, got "${raw}"`,
    );
    return false;
  }
  return addresses;
};

const isUrlWithProtocol = (raw: string, protocols: string[]): boolean => {
  try {
    return protocols.includes(new URL(raw).protocol);
  } catch {
    return false;
  }
};
