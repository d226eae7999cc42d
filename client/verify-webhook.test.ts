import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { verifyWebhook, WebhookVerificationError } from './verify-webhook.js';

// Signatures come from the standardwebhooks package, the scheme's reference implementation.
const newSecret = (): string => `whsec_${randomBytes(24).toString('base64')}`;
const secret = newSecret();
const sentAt = new Date('2026-03-01T12:00:00Z');
const at = (offsetSeconds: number) => () => new Date(sentAt.getTime() + offsetSeconds * 1000);
const body = JSON.stringify({ id: 'evt_1', type: 'invoice.paid', data: { total_amount: 105.94 } });

const signedHeaders = (options: { secrets?: string[]; payload?: string; id?: string } = {}) => {
  const id = options.id ?? 'msg_1';
  const signatures = (options.secrets ?? [secret]).map((key) =>
    new Webhook(key).sign(id, sentAt, options.payload ?? body),
  );
  return {
    'webhook-id': id,
    'webhook-timestamp': String(sentAt.getTime() / 1000),
    'webhook-signature': signatures.join(' '),
  };
};

const refusal = (run: () => unknown): WebhookVerificationError => {
  try {
    run();
  } catch (error) {
    if (error instanceof WebhookVerificationError) return error;
    throw error;
  }
  throw new Error('the webhook was accepted');
};

describe('verifyWebhook', () => {
  it('accepts a message signed by the standardwebhooks package and returns its parsed body', () => {
    expect(verifyWebhook(secret, signedHeaders(), body, { now: at(0) })).toEqual(JSON.parse(body));
  });

  it('reads fetch Headers and Node header objects whatever their case, and a body given as bytes', () => {
    const headers = signedHeaders();
    expect(verifyWebhook(secret, new Headers(headers), body, { now: at(0) })).toEqual(JSON.parse(body));
    const upperCased = Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.toUpperCase(), value]));
    expect(verifyWebhook(secret, upperCased, Buffer.from(body), { now: at(0) })).toEqual(JSON.parse(body));
    expect(verifyWebhook(secret, headers, new TextEncoder().encode(body), { now: at(0) })).toEqual(JSON.parse(body));
  });

  it('accepts either of two signatures (a secret being rotated)', () => {
    const oldSecret = newSecret();
    const headers = signedHeaders({ secrets: [oldSecret, secret] });
    expect(verifyWebhook(secret, headers, body, { now: at(0) })).toEqual(JSON.parse(body));
    expect(verifyWebhook(oldSecret, headers, body, { now: at(0) })).toEqual(JSON.parse(body));
  });

  it('accepts the key given without its whsec_ prefix, as standardwebhooks does', () => {
    expect(verifyWebhook(secret.slice('whsec_'.length), signedHeaders(), body, { now: at(0) })).toEqual(
      JSON.parse(body),
    );
  });

  it('refuses a tampered body, a changed id and a signature of another scheme version', () => {
    const headers = signedHeaders();
    const tampered = body.replace('105.94', '1059.4');
    expect(refusal(() => verifyWebhook(secret, headers, tampered, { now: at(0) })).message).toBe(
      'No matching signature found',
    );
    expect(
      refusal(() => verifyWebhook(secret, { ...headers, 'webhook-id': 'msg_2' }, body, { now: at(0) })).message,
    ).toBe('No matching signature found');
    const otherVersion = { ...headers, 'webhook-signature': headers['webhook-signature'].replace(/^v1,/, 'v2,') };
    expect(refusal(() => verifyWebhook(secret, otherVersion, body, { now: at(0) })).message).toBe(
      'No matching signature found',
    );
  });

  it('refuses a message signed with another secret', () => {
    const headers = signedHeaders({ secrets: [newSecret()] });
    expect(refusal(() => verifyWebhook(secret, headers, body, { now: at(0) })).message).toBe(
      'No matching signature found',
    );
  });

  it('refuses a timestamp more than 5 minutes old or ahead, and takes another tolerance', () => {
    const headers = signedHeaders();
    expect(verifyWebhook(secret, headers, body, { now: at(300) })).toEqual(JSON.parse(body));
    expect(refusal(() => verifyWebhook(secret, headers, body, { now: at(301) })).message).toBe(
      'Message timestamp too old: 301 s ago, at most 300 s',
    );
    expect(refusal(() => verifyWebhook(secret, headers, body, { now: at(-301) })).message).toBe(
      'Message timestamp too new: 301 s ahead, at most 300 s',
    );
    expect(refusal(() => verifyWebhook(secret, headers, body, { now: at(61), toleranceSeconds: 60 })).message).toBe(
      'Message timestamp too old: 61 s ago, at most 60 s',
    );
    const ancient = { ...headers, 'webhook-timestamp': '1000000000' };
    expect(refusal(() => verifyWebhook(secret, ancient, body)).message).toMatch(/^Message timestamp too old/);
  });

  it('refuses a timestamp that is not Unix seconds', () => {
    const headers = { ...signedHeaders(), 'webhook-timestamp': '2026-03-01T12:00:00Z' };
    expect(refusal(() => verifyWebhook(secret, headers, body, { now: at(0) })).message).toBe(
      'Invalid Signature Headers: webhook-timestamp is not Unix seconds (2026-03-01T12:00:00Z)',
    );
  });

  it('refuses a message without its headers, naming the missing ones', () => {
    const { 'webhook-signature': _signature, ...unsigned } = signedHeaders();
    expect(refusal(() => verifyWebhook(secret, unsigned, body, { now: at(0) })).message).toBe(
      'Missing required headers: webhook-signature',
    );
    expect(refusal(() => verifyWebhook(secret, { 'webhook-id': '' }, body, { now: at(0) })).message).toBe(
      'Missing required headers: webhook-id, webhook-timestamp, webhook-signature',
    );
  });

  it('returns undefined for a signed empty body', () => {
    expect(verifyWebhook(secret, signedHeaders({ payload: '' }), '', { now: at(0) })).toBeUndefined();
  });

  it('refuses a secret that is not base64 as a configuration error, not as a refused message', () => {
    for (const badSecret of ['whsec_', 'whsec_not base64!']) {
      let thrown: unknown;
      try {
        verifyWebhook(badSecret, signedHeaders(), body, { now: at(0) });
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(Error);
      expect(thrown).not.toBeInstanceOf(WebhookVerificationError);
      expect((thrown as Error).message).toBe('the webhook secret must be whsec_ followed by base64 (non-empty)');
    }
  });
});
