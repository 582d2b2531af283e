/** Authentication for REST: a preHandler that verifies the bearer token and sets `request.principal`. */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Principal } from '../auth/principal.ts';
import type { TokenService } from '../auth/token.ts';
import { QiaoError } from '../errors/codes.ts';

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal;
  }
}

export function bearerToken(req: FastifyRequest): string | undefined {
  const h = req.headers.authorization;
  return h?.startsWith('Bearer ') ? h.slice(7).trim() : undefined;
}

/**
 * What a user who must enrol TOTP and has not may still call (docs/accounts.md#totp-second-factor):
 * who am I, the enrolment itself, logout and password change.
 */
const OPEN_BEFORE_TOTP = /^\/api\/(me|auth\/totp(\/[a-z-]+)?|auth\/logout|auth\/password)$/;

export function authenticate(tokens: TokenService) {
  return async (req: FastifyRequest, _reply: FastifyReply): Promise<void> => {
    const p = await tokens.verify(bearerToken(req));
    if (p.totpPending && !OPEN_BEFORE_TOTP.test(req.url.split('?')[0])) throw new QiaoError('QIAO_TOTP_ENROLMENT_REQUIRED');
    req.principal = p;
  };
}

export const bearerSecurity = [{ bearerAuth: [] }];
