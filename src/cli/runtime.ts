import { readFileSync } from 'node:fs';
import type { Config } from '../config.js';
import { loadOrCreateDevSecret } from '../modules/auth/dev-secret.js';

export const packageVersion = (): string =>
  (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/**
 * The HS256 secret to verify and mint tokens with: the configured one, or in embedded mode the
 * development secret kept in the data folder. Server mode without one is refused by loadConfig.
 */
export const resolveJwtSecret = (
  config: Config,
): { secret: string | undefined; devSecret?: { path: string; created: boolean } } => {
  if (config.jwtSecret !== undefined || config.database.kind === 'server' || config.jwksUrl !== undefined) {
    return { secret: config.jwtSecret };
  }
  const { secret, path, created } = loadOrCreateDevSecret(config.dataDir);
  return { secret, devSecret: { path, created } };
};
