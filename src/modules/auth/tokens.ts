import { createRemoteJWKSet, jwtVerify, SignJWT, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import type { Clock } from '../../core/clock.js';
import { AppError } from '../../core/errors.js';
import { isRole, type Principal, type Role } from '../../core/principal.js';

export const tokenAudience = 'billing';

export interface TokenVerifier {
  /** Resolves the principal, or throws `unauthorized` without saying which check failed. */
  verify(token: string): Promise<Principal>;
}

export interface TokenVerifierOptions {
  secret?: string | undefined;
  jwksUrl?: string | undefined;
  clock: Clock;
}

const asymmetricAlgorithms = ['RS256', 'RS384', 'RS512', 'PS256', 'ES256', 'ES384', 'EdDSA'];

export const invalidToken = (): AppError => new AppError('unauthorized', 'invalid or expired token');

export const createTokenVerifier = ({ secret, jwksUrl, clock }: TokenVerifierOptions): TokenVerifier => {
  const secretKey = secret === undefined ? undefined : new TextEncoder().encode(secret);
  const jwks = jwksUrl === undefined ? undefined : createRemoteJWKSet(new URL(jwksUrl));
  const algorithms = [...(secretKey ? ['HS256'] : []), ...(jwks ? asymmetricAlgorithms : [])];
  const keyFor: JWTVerifyGetKey = async (header, token) => {
    if (header.alg === 'HS256' && secretKey) return secretKey;
    if (jwks && header.alg !== 'HS256') return jwks(header, token);
    throw invalidToken();
  };

  return {
    async verify(token) {
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(token, keyFor, {
          algorithms,
          audience: tokenAudience,
          currentDate: clock.now(),
          requiredClaims: ['exp', 'sub'],
        }));
      } catch {
        throw invalidToken();
      }
      return principalFromClaims(payload);
    },
  };
};

const principalFromClaims = (payload: JWTPayload): Principal => {
  const { sub, tenant_id: tenantId, roles } = payload as JWTPayload & { tenant_id?: unknown; roles?: unknown };
  if (typeof sub !== 'string' || sub === '' || !Array.isArray(roles)) throw invalidToken();
  const known = roles.filter(isRole);
  if (known.length === 0) throw invalidToken();
  const needsTenant = known.includes('tenant_admin') || known.includes('tenant_viewer');
  if (tenantId !== undefined && typeof tenantId !== 'string') throw invalidToken();
  if (needsTenant && (tenantId === undefined || tenantId === '')) throw invalidToken();
  return { userId: sub, tenantId: tenantId ?? null, roles: new Set(known) };
};

export interface TokenClaims {
  userId: string;
  tenantId?: string | undefined;
  roles: Role[];
}

/** Mints an HS256 token the way the platform's auth service does: for the CLI, scripts and tests. */
export const mintToken = (
  secret: string,
  { userId, tenantId, roles }: TokenClaims,
  clock: Clock,
  ttlSeconds = 3600,
): Promise<string> => {
  const issuedAt = Math.floor(clock.now().getTime() / 1000);
  return new SignJWT({ roles, ...(tenantId === undefined ? {} : { tenant_id: tenantId }) })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(userId)
    .setAudience(tokenAudience)
    .setIssuedAt(issuedAt)
    .setExpirationTime(issuedAt + ttlSeconds)
    .sign(new TextEncoder().encode(secret));
};
