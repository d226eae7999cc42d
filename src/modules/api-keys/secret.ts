import { createHash } from 'node:crypto';
import { randomToken } from '../../core/ids.js';

const keyPrefix = 'dfk_';
// 40 base-36 characters ≈ 206 bits: too much entropy to guess, so a fast hash is a safe store.
const secretLength = 40;
const displayLength = keyPrefix.length + 8;

export const generateApiKey = (): { key: string; displayPrefix: string } => {
  const key = `${keyPrefix}${randomToken(secretLength)}`;
  return { key, displayPrefix: key.slice(0, displayLength) };
};

export const hashApiKey = (key: string): string => createHash('sha256').update(key, 'utf8').digest('hex');

export const looksLikeApiKey = (key: string): boolean =>
  key.startsWith(keyPrefix) && key.length === keyPrefix.length + secretLength;
