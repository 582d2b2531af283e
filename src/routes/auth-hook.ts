/** Authentication for REST: a preHandler that verifies the bearer token and sets `request.principal`. */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Principal } from '../auth/principal.ts';
import type { TokenService } from '../auth/token.ts';

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal;
  }
}

export function bearerToken(req: FastifyRequest): string | undefined {
  const h = req.headers.authorization;
  return h?.startsWith('Bearer ') ? h.slice(7).trim() : undefined;
}

export function authenticate(tokens: TokenService) {
  return async (req: FastifyRequest, _reply: FastifyReply): Promise<void> => {
    req.principal = await tokens.verify(bearerToken(req));
  };
}

export const bearerSecurity = [{ bearerAuth: [] }];
