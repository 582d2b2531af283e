/**
 * Session tokens: HS256 JWTs (jose). Verification distinguishes malformed, expired and forged tokens,
 * each with its own stable error code.
 */
import { SignJWT, errors as joseErrors, jwtVerify } from 'jose';
import { QiaoError } from '../errors/codes.ts';
import type { Principal } from './principal.ts';

const ISSUER = 'qiao';
const AUDIENCE = 'qiao-api';

export interface TokenService {
  issue(p: Principal): Promise<{ token: string; expiresAt: string }>;
  verify(token: string | undefined | null): Promise<Principal>;
}

export function createTokenService(secret: string, ttlS: number, now: () => number = Date.now): TokenService {
  const key = new TextEncoder().encode(secret);
  return {
    async issue(p) {
      const iat = Math.floor(now() / 1000);
      const exp = iat + ttlS;
      const token = await new SignJWT({
        role: p.role,
        name: p.displayName,
        firm: p.firmId,
        branch: p.branchId ?? null,
        team: p.teamId ?? null,
        tier: p.tier ?? null,
        sv: p.sv ?? 1,
      })
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .setSubject(p.id)
        .setIssuer(ISSUER)
        .setAudience(AUDIENCE)
        .setIssuedAt(iat)
        .setExpirationTime(exp)
        .sign(key);
      return { token, expiresAt: new Date(exp * 1000).toISOString() };
    },
    async verify(token) {
      if (!token) throw new QiaoError('QIAO_AUTH_REQUIRED');
      if (token.length > 4096 || token.split('.').length !== 3) throw new QiaoError('QIAO_TOKEN_MALFORMED');
      try {
        const { payload } = await jwtVerify(token, key, {
          issuer: ISSUER,
          audience: AUDIENCE,
          algorithms: ['HS256'],
          currentDate: new Date(now()),
        });
        if (typeof payload.sub !== 'string' || typeof payload.role !== 'string') {
          throw new QiaoError('QIAO_TOKEN_MALFORMED');
        }
        return {
          id: payload.sub,
          role: payload.role as Principal['role'],
          displayName: String(payload.name ?? ''),
          firmId: payload.firm as string | undefined,
          branchId: (payload.branch as string | null) ?? null,
          teamId: (payload.team as string | null) ?? null,
          tier: (payload.tier as Principal['tier']) ?? null,
          // Tokens from before session versions count as version 1 (the column's initial value).
          sv: typeof payload.sv === 'number' && Number.isSafeInteger(payload.sv) ? payload.sv : 1,
        };
      } catch (e) {
        if (e instanceof QiaoError) throw e;
        if (e instanceof joseErrors.JWTExpired) throw new QiaoError('QIAO_TOKEN_EXPIRED');
        if (e instanceof joseErrors.JWSSignatureVerificationFailed) throw new QiaoError('QIAO_TOKEN_INVALID_SIGNATURE');
        throw new QiaoError('QIAO_TOKEN_MALFORMED');
      }
    },
  };
}
