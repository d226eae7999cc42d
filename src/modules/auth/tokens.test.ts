import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../core/clock.js';
import { createTokenVerifier, mintToken } from './tokens.js';

const clock = new ManualClock('2026-01-01T00:00:00Z');
const secret = 'a-development-secret-of-32-bytes!!';
let server: Server;
let jwksUrl: string;
let signingKey: CryptoKey;
let strangerKey: CryptoKey;

const signRs256 = (key: CryptoKey, kid: string, claims: Record<string, unknown>) =>
  new SignJWT(claims)
    .setProtectedHeader({ alg: 'RS256', kid })
    .setSubject('usr_rsa')
    .setAudience('billing')
    .setExpirationTime(Math.floor(clock.now().getTime() / 1000) + 600)
    .sign(key);

beforeAll(async () => {
  const pair = await generateKeyPair('RS256');
  signingKey = pair.privateKey;
  strangerKey = (await generateKeyPair('RS256')).privateKey;
  const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
  server = createServer((_request, response) => {
    response.setHeader('content-type', 'application/json');
    response.end(JSON.stringify({ keys: [jwk] }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  jwksUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe('token verification', () => {
  it('accepts an HS256 token minted with the secret and reads its claims', async () => {
    const token = await mintToken(secret, { userId: 'usr_1', tenantId: 'tnt_1', roles: ['tenant_admin'] }, clock);
    const principal = await createTokenVerifier({ secret, clock }).verify(token);
    expect(principal).toEqual({ userId: 'usr_1', tenantId: 'tnt_1', roles: new Set(['tenant_admin']) });
  });

  it('accepts RS256 tokens whose key is in the JWKS, next to HS256 when both are configured', async () => {
    const verifier = createTokenVerifier({ secret, jwksUrl, clock });
    const rsa = await signRs256(signingKey, 'k1', { roles: ['service', 'unknown_role'] });
    expect(await verifier.verify(rsa)).toEqual({ userId: 'usr_rsa', tenantId: null, roles: new Set(['service']) });
    const hs = await mintToken(secret, { userId: 'usr_2', roles: ['platform_admin'] }, clock);
    expect((await verifier.verify(hs)).userId).toBe('usr_2');
  });

  it('refuses a token signed by a key outside the JWKS, and HS256 when only a JWKS is configured', async () => {
    const jwksOnly = createTokenVerifier({ jwksUrl, clock });
    await expect(jwksOnly.verify(await signRs256(strangerKey, 'k1', { roles: ['service'] }))).rejects.toMatchObject({
      type: 'unauthorized',
    });
    const hs = await mintToken(secret, { userId: 'usr_2', roles: ['platform_admin'] }, clock);
    await expect(jwksOnly.verify(hs)).rejects.toMatchObject({ type: 'unauthorized' });
  });

  it('follows the injected clock for expiry', async () => {
    const verifier = createTokenVerifier({ secret, clock });
    const token = await mintToken(secret, { userId: 'usr_1', roles: ['service'] }, clock, 60);
    clock.advance(59_000);
    await expect(verifier.verify(token)).resolves.toBeDefined();
    clock.advance(2_000);
    await expect(verifier.verify(token)).rejects.toMatchObject({ type: 'unauthorized' });
  });

  it.each([
    ['no roles', {}],
    ['roles not a list', { roles: 'platform_admin' }],
    ['only unknown roles', { roles: ['superuser'] }],
    ['tenant role without tenant', { roles: ['tenant_viewer'] }],
    ['tenant_id not a string', { roles: ['tenant_admin'], tenant_id: 42 }],
  ])('refuses claims with %s', async (_name, claims) => {
    const token = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('usr_1')
      .setAudience('billing')
      .setExpirationTime(Math.floor(clock.now().getTime() / 1000) + 60)
      .sign(new TextEncoder().encode(secret));
    await expect(createTokenVerifier({ secret, clock }).verify(token)).rejects.toMatchObject({ type: 'unauthorized' });
  });
});
