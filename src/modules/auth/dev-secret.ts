import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const devSecretFileName = 'dev-jwt-secret';

/**
 * Embedded mode for newcomers: with no configured secret, the first start writes a random one
 * into the data folder (readable by its owner only) and every later start and `token` reuse it.
 */
export const loadOrCreateDevSecret = (dataDir: string): { secret: string; path: string; created: boolean } => {
  const path = join(dataDir, devSecretFileName);
  if (existsSync(path)) return { secret: readFileSync(path, 'utf8').trim(), path, created: false };
  mkdirSync(dataDir, { recursive: true });
  const secret = randomBytes(32).toString('base64url');
  writeFileSync(path, `${secret}\n`, { mode: 0o600, flag: 'wx' });
  return { secret, path, created: true };
};
