/**
 * Verifies a webhook the billing service sent, by the Standard Webhooks scheme
 * (https://www.standardwebhooks.com), as the `standardwebhooks` package's `Webhook.verify` does:
 * the same headers, signature, tolerance, errors and result. Node only (node:crypto); the typed
 * client in index.ts does not load it.
 *
 *   const event = verifyWebhook(process.env.BILLING_WEBHOOK_SECRET, request.headers, rawBody);
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

const secretPrefix = 'whsec_';
const defaultToleranceSeconds = 5 * 60;

/** Why a webhook was refused; its message says what was wrong. */
export class WebhookVerificationError extends Error {
  override name = 'WebhookVerificationError';
}

/** Request headers as fetch (`Headers`) or Node (`IncomingHttpHeaders`) hold them. */
export type WebhookHeaders = Headers | Record<string, string | readonly string[] | undefined>;

export interface VerifyWebhookOptions {
  /** How far the `webhook-timestamp` may be from now, either way (default 300 s). */
  toleranceSeconds?: number;
  /** The current time (default: the system clock); for tests. */
  now?: () => Date;
}

const headerValue = (headers: WebhookHeaders, name: string): string | undefined => {
  if (headers instanceof Headers) return headers.get(name) ?? undefined;
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() !== name) continue;
    // Node joins repeated headers into an array only for a few names; the signatures are space-separated.
    return typeof value === 'string' || value === undefined ? value : value.join(' ');
  }
  return undefined;
};

/**
 * The HMAC key: the base64 after `whsec_`, as the service shows the secret. A bad secret is the
 * receiver's configuration, not the message: a plain Error, not a WebhookVerificationError.
 */
const signingKey = (secret: string): Buffer => {
  const encoded = secret.startsWith(secretPrefix) ? secret.slice(secretPrefix.length) : secret;
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded)) {
    throw new Error(`the webhook secret must be ${secretPrefix} followed by base64 (non-empty)`);
  }
  return Buffer.from(encoded, 'base64');
};

const requiredHeaders = (headers: WebhookHeaders) => {
  const found = {
    'webhook-id': headerValue(headers, 'webhook-id'),
    'webhook-timestamp': headerValue(headers, 'webhook-timestamp'),
    'webhook-signature': headerValue(headers, 'webhook-signature'),
  };
  const { 'webhook-id': id, 'webhook-timestamp': timestampHeader, 'webhook-signature': signatures } = found;
  if (!id || !timestampHeader || !signatures) {
    const missing = Object.keys(found).filter((name) => !found[name as keyof typeof found]);
    throw new WebhookVerificationError(`Missing required headers: ${missing.join(', ')}`);
  }
  return { id, timestampHeader, signatures };
};

const signedTimestamp = (header: string, options: VerifyWebhookOptions): number => {
  if (!/^\d{1,15}$/.test(header)) {
    throw new WebhookVerificationError(`Invalid Signature Headers: webhook-timestamp is not Unix seconds (${header})`);
  }
  const timestamp = Number(header);
  // eslint-disable-next-line no-restricted-syntax -- outside the service: the system clock unless a test injects one
  const now = Math.floor((options.now?.() ?? new Date()).getTime() / 1000);
  const tolerance = options.toleranceSeconds ?? defaultToleranceSeconds;
  if (now - timestamp > tolerance) {
    throw new WebhookVerificationError(`Message timestamp too old: ${now - timestamp} s ago, at most ${tolerance} s`);
  }
  if (timestamp - now > tolerance) {
    throw new WebhookVerificationError(`Message timestamp too new: ${timestamp - now} s ahead, at most ${tolerance} s`);
  }
  return timestamp;
};

/**
 * Checks that `body` (the raw request body, exactly as received) was signed with `secret`
 * (`whsec_…`) under the `webhook-id` and `webhook-timestamp` headers: one of the space-separated
 * `v1,<base64 HMAC-SHA256 of "id.timestamp.body">` in `webhook-signature` must match (several
 * appear while a secret is rotated), compared in constant time, and the timestamp must be within
 * the tolerance of now (replays of old messages are refused). Returns the parsed JSON body
 * (undefined for an empty one); throws WebhookVerificationError otherwise.
 */
export const verifyWebhook = (
  secret: string,
  headers: WebhookHeaders,
  body: string | Uint8Array,
  options: VerifyWebhookOptions = {},
): unknown => {
  const key = signingKey(secret);
  const { id, timestampHeader, signatures } = requiredHeaders(headers);
  const timestamp = signedTimestamp(timestampHeader, options);

  const bytes =
    typeof body === 'string' ? Buffer.from(body, 'utf8') : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const digest = createHmac('sha256', key).update(`${id}.${timestamp}.`).update(bytes).digest('base64');
  const expected = Buffer.from(`v1,${digest}`);
  // Each candidate is compared whole (version included) in constant time; only lengths differ early.
  const matches = signatures.split(' ').some((candidate) => {
    const presented = Buffer.from(candidate);
    return presented.length === expected.length && timingSafeEqual(presented, expected);
  });
  if (!matches) throw new WebhookVerificationError('No matching signature found');

  if (bytes.length === 0) return undefined;
  return JSON.parse(bytes.toString('utf8')) as unknown;
};
