/**
 * Login (throttled), logout, password change and the current user (docs/accounts.md).
 *
 * Login throttling: attempts per client address per minute (QIAO_LOGIN_RATE_MAX, any outcome), and
 * failures per login name and per client address within QIAO_LOGIN_LOCKOUT_S
 * (QIAO_LOGIN_MAX_FAILURES_PER_ACCOUNT / _PER_ADDRESS). Past a limit: 429 QIAO_LOGIN_THROTTLED with
 * Retry-After, audited (`login.lockout` when a limit is reached, `login.throttled` per refused
 * attempt). Unknown logins count like known ones and cost the same password hash, so answers and
 * timing do not tell whether a login exists. Counters live in Redis in services mode (every node
 * shares them).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { verifyPassword } from '../auth/password.ts';
import { assertPasswordPolicy } from '../auth/password-policy.ts';
import type { AppDeps } from '../deps.ts';
import { QiaoError } from '../errors/codes.ts';
import { AdminRepo } from '../store/admin-repo.ts';
import { toPrincipal, toPublicUser } from '../store/users-repo.ts';
import { authenticate, bearerSecurity } from './auth-hook.ts';
import { PublicUserSchema, errors } from './schemas.ts';

// A real hash of a random password, so unknown logins cost the same time as wrong passwords.
const DUMMY_HASH = 'scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';

type Limiter = ReturnType<FastifyInstance['createRateLimit']>;
type LimitState = Awaited<ReturnType<Limiter>>;

const loginOf = (req: FastifyRequest) => String((req.body as { login?: unknown } | undefined)?.login ?? '').toLowerCase();

export default async function authRoutes(app: FastifyInstance, d: AppDeps): Promise<void> {
  const sec = d.config.security;
  const admin = new AdminRepo(d.db.db, d.archive);
  const failureWindow = { timeWindow: sec.loginLockoutS * 1000 };
  const byAccount: Limiter = app.createRateLimit({ ...failureWindow, max: sec.loginMaxFailuresPerAccount, keyGenerator: (req) => `login-fail-acct:${loginOf(req)}` });
  const byAddress: Limiter = app.createRateLimit({ ...failureWindow, max: sec.loginMaxFailuresPerAddress, keyGenerator: (req) => `login-fail-addr:${req.ip}` });
  const exhausted = (s: LimitState) => !s.isAllowed && s.remaining <= 0;

  async function throttled(req: FastifyRequest, reply: FastifyReply, states: LimitState[], reached: boolean): Promise<never> {
    const retryAfter = Math.max(1, ...states.filter(exhausted).map((s) => (s.isAllowed ? 0 : s.ttlInSeconds)));
    reply.header('retry-after', String(retryAfter));
    const which = states.filter(exhausted).map((s) => (s.key.startsWith('login-fail-acct:') ? 'account' : 'address'));
    await d.audit
      .append({ actorId: loginOf(req), action: reached ? 'login.lockout' : 'login.throttled', outcome: 'refused', detail: { limits: which, retryAfter }, ip: req.ip })
      .catch(() => {});
    throw new QiaoError('QIAO_LOGIN_THROTTLED', undefined, { retryAfter });
  }

  app.post(
    '/api/auth/login',
    {
      config: {
        // Every attempt from one address, whatever its outcome (the failure lockouts are below).
        rateLimit: {
          max: sec.loginRateMax,
          timeWindow: 60_000,
          keyGenerator: (req: FastifyRequest) => `login-addr:${req.ip}`,
          errorResponseBuilder: () => new QiaoError('QIAO_LOGIN_THROTTLED'),
        },
      },
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
          ...errors(400, 401, 429),
        },
      },
    },
    async (req, reply) => {
      const { login, password } = req.body as { login: string; password: string };
      const before = await Promise.all([byAccount(req, { increment: false }), byAddress(req, { increment: false })]);
      if (before.some(exhausted)) await throttled(req, reply, before, false);
      const user = await d.users.findByLogin(login);
      const ok = await verifyPassword(password, user?.passwordHash ?? DUMMY_HASH);
      // A disabled account answers as a wrong password: the login page tells nobody who has left.
      if (!user || !ok || !user.active) {
        await d.audit.append({ actorId: login, action: 'login', outcome: 'refused', ip: req.ip });
        const after = await Promise.all([byAccount(req), byAddress(req)]);
        if (after.some(exhausted)) {
          await d.audit
            .append({ actorId: login, action: 'login.lockout', outcome: 'refused', detail: { limits: after.filter(exhausted).map((s) => (s.key.startsWith('login-fail-acct:') ? 'account' : 'address')) }, ip: req.ip })
            .catch(() => {});
        }
        throw new QiaoError('QIAO_AUTH_BAD_CREDENTIALS');
      }
      const { token, expiresAt } = await d.tokens.issue(toPrincipal(user));
      await d.audit.append({ actorId: user.id, action: 'login', outcome: 'ok', ip: req.ip });
      return { token, expiresAt, user: toPublicUser(user) };
    },
  );

  app.post(
    '/api/auth/logout',
    {
      preHandler: authenticate(d.tokens),
      schema: {
        tags: ['auth'],
        summary: 'Log out: every token of this user stops working at once, on every node (REST and both sockets)',
        security: bearerSecurity,
        response: { 204: { type: 'null', description: 'Logged out' }, ...errors(401) },
      },
    },
    async (req, reply) => {
      await admin.bumpSession(req.principal, req.principal.id, 'auth.logout', req.ip);
      await d.sessions.changed(req.principal.id, 'revoked');
      return reply.code(204).send();
    },
  );

  app.post(
    '/api/auth/password',
    {
      preHandler: authenticate(d.tokens),
      schema: {
        tags: ['auth'],
        summary: 'Change one’s own password (policy: QIAO_PASSWORD_WEAK); ends every other session and returns a new token',
        security: bearerSecurity,
        body: {
          type: 'object',
          properties: { oldPassword: { type: 'string', minLength: 1, maxLength: 256 }, newPassword: { type: 'string', minLength: 1, maxLength: 256 } },
          required: ['oldPassword', 'newPassword'],
          additionalProperties: false,
        },
        response: {
          200: { type: 'object', properties: { token: { type: 'string' }, expiresAt: { type: 'string', format: 'date-time' } }, required: ['token', 'expiresAt'] },
          ...errors(400, 401, 403, 422),
        },
      },
    },
    async (req) => {
      const { oldPassword, newPassword } = req.body as { oldPassword: string; newPassword: string };
      const user = await d.users.findById(req.principal.id);
      if (!user) throw new QiaoError('QIAO_SESSION_REVOKED');
      if (!(await verifyPassword(oldPassword, user.passwordHash))) {
        await d.audit.append({ actorId: user.id, action: 'auth.password', target: user.id, outcome: 'refused', detail: { code: 'QIAO_OLD_PASSWORD_WRONG' }, ip: req.ip });
        throw new QiaoError('QIAO_OLD_PASSWORD_WRONG');
      }
      try {
        assertPasswordPolicy(newPassword, user.login);
        if (newPassword === oldPassword) throw new QiaoError('QIAO_PASSWORD_WEAK', undefined, { reasons: ['unchanged'] });
      } catch (e) {
        await d.audit.append({ actorId: user.id, action: 'auth.password', target: user.id, outcome: 'refused', detail: { code: 'QIAO_PASSWORD_WEAK' }, ip: req.ip });
        throw e;
      }
      const after = await admin.setPassword(req.principal, user.id, newPassword, 'auth.password', req.ip);
      await d.sessions.changed(user.id, 'revoked');
      return d.tokens.issue(toPrincipal(after));
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
