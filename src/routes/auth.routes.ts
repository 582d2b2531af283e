/** Login and the current user. */
import type { FastifyInstance } from 'fastify';
import { verifyPassword } from '../auth/password.ts';
import type { AppDeps } from '../deps.ts';
import { QiaoError } from '../errors/codes.ts';
import { toPrincipal, toPublicUser } from '../store/users-repo.ts';
import { authenticate, bearerSecurity } from './auth-hook.ts';
import { PublicUserSchema, errors } from './schemas.ts';

// A real hash of a random password, so unknown logins cost the same time as wrong passwords.
const DUMMY_HASH = 'scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';

export default async function authRoutes(app: FastifyInstance, d: AppDeps): Promise<void> {
  app.post(
    '/api/auth/login',
    {
      schema: {
        tags: ['auth'],
        summary: 'Log in with login and password; returns a signed, expiring token',
        body: {
          type: 'object',
          properties: { login: { type: 'string', minLength: 1, maxLength: 64, pattern: '^[^\\u0000]*$' }, password: { type: 'string', minLength: 1, maxLength: 256 } },
          required: ['login', 'password'],
          additionalProperties: false,
        },
        response: {
          200: {
            type: 'object',
            properties: { token: { type: 'string' }, expiresAt: { type: 'string', format: 'date-time' }, user: PublicUserSchema },
            required: ['token', 'expiresAt', 'user'],
          },
          ...errors(400, 401),
        },
      },
    },
    async (req) => {
      const { login, password } = req.body as { login: string; password: string };
      const user = await d.users.findByLogin(login);
      const ok = await verifyPassword(password, user?.passwordHash ?? DUMMY_HASH);
      if (!user || !ok || !user.active) {
        await d.audit.append({ actorId: login, action: 'login', outcome: 'refused', ip: req.ip });
        throw new QiaoError('QIAO_AUTH_BAD_CREDENTIALS');
      }
      const { token, expiresAt } = await d.tokens.issue(toPrincipal(user));
      await d.audit.append({ actorId: user.id, action: 'login', outcome: 'ok', ip: req.ip });
      return { token, expiresAt, user: toPublicUser(user) };
    },
  );

  app.get(
    '/api/me',
    { preHandler: authenticate(d.tokens), schema: { tags: ['auth'], summary: 'The current user', security: bearerSecurity, response: { 200: PublicUserSchema, ...errors(401) } } },
    async (req) => {
      const user = await d.users.findById(req.principal.id);
      if (!user) throw new QiaoError('QIAO_NOT_FOUND', 'User no longer exists');
      return toPublicUser(user);
    },
  );
}
