import { randomBytes } from 'node:crypto';

const alphabet = '0123456789abcdefghijklmnopqrstuvwxyz';

// 252 is the largest multiple of 36 below 256: bytes above it are dropped so every character is equally likely.
const unbiasedLimit = 252;

/** Random base-36 text; 16 characters carry ~82 bits, enough that ids never collide in practice. */
export const randomToken = (length: number): string => {
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(length)) {
      if (byte < unbiasedLimit && out.length < length) out += alphabet[byte % alphabet.length];
    }
  }
  return out;
};

export const idPrefixes = {
  tenant: 'tnt',
  app: 'app',
  apiKey: 'key',
  record: 'rec',
  creditTransaction: 'ctr',
  subscription: 'sub',
  usageAlert: 'ua',
  notification: 'ntf',
  outboxMessage: 'msg',
  userDataExport: 'exp',
  coupon: 'cpn',
  storedCard: 'svc',
  cloudMarketplace: 'cmk',
} as const;

export const newId = (kind: keyof typeof idPrefixes): string => `${idPrefixes[kind]}_${randomToken(16)}`;
