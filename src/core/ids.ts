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

/** A tenant id as the platform issues it (also in paths, where every module's routes take it). */
export const tenantIdPattern = '^tnt_[A-Za-z0-9_-]{1,64}$';

/** A test clock's id, as `newId('testClock')` makes it. */
export const testClockIdPattern = '^clk_[a-z0-9]{16}$';

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
  event: 'evt',
  testClock: 'clk',
  webhookEndpoint: 'we',
} as const;

export const newId = (kind: keyof typeof idPrefixes): string => `${idPrefixes[kind]}_${randomToken(16)}`;

/** Milliseconds since 1970 in 9 base-36 digits: enough until the year 5138, and text order is time order. */
const timeDigits = 9;

/** The base-36 text one greater, or undefined past `zzz…` (never in practice: it starts at random). */
const nextToken = (token: string): string | undefined => {
  const digits = [...token];
  for (let i = digits.length - 1; i >= 0; i -= 1) {
    const value = alphabet.indexOf(digits[i] ?? '');
    if (value < alphabet.length - 1) {
      digits[i] = alphabet[value + 1] ?? '';
      return digits.join('');
    }
    digits[i] = '0';
  }
  return undefined;
};

let lastTimeOrdered = { time: '', random: '' };

/**
 * A time-sortable id: the prefix, the instant's milliseconds in fixed-width base 36, then 16
 * random characters, so ids sort by the (injected) time they are for. Ids this process makes one
 * after another for the same millisecond count up from the first one's randomness (as a monotonic
 * ULID does), so they also sort in the order they were made.
 */
export const newTimeOrderedId = (kind: keyof typeof idPrefixes, at: Date): string => {
  const time = at.getTime().toString(36).padStart(timeDigits, '0');
  const random = (time === lastTimeOrdered.time ? nextToken(lastTimeOrdered.random) : undefined) ?? randomToken(16);
  lastTimeOrdered = { time, random };
  return `${idPrefixes[kind]}_${time}${random}`;
};
