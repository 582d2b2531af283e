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
import { QiaoError, type ErrorCode } from '../errors/codes.ts';
import { AdminRepo } from '../store/admin-repo.ts';
import { toPrincipal, toPublicUser, type UserRow } from '../store/users-repo.ts';
import { authenticate, bearerSecurity } from './auth-hook.ts';
import { PublicUserDef, PublicUserSchema, errors } from './schemas.ts';
import { typed } from './type-provider.ts';

// A real hash of a random password, so unknown logins cost the same time as wrong passwords.
const DUMMY_HASH = 'scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';

type Limiter = ReturnType<FastifyInstance['createRateLimit']>;
type LimitState = Awaited<ReturnType<Limiter>>;

/** The login name a request counts against: the body's, or the one of a verified TOTP challenge. */
const challengeLogin = new WeakMap<FastifyRequest, string>();
// A plain FastifyRequest (the rate limiter's key and the failure hooks of several routes): the body is not typed here.
const loginOf = (req: FastifyRequest) => challengeLogin.get(req) ?? String((req.body as { login?: unknown } | undefined)?.login ?? '').toLowerCase();

const TokenAnswer = {
  type: 'object',
  properties: { token: { type: 'string' }, expiresAt: { type: 'string', format: 'date-time' } },
  required: ['token', 'expiresAt'],
} as const;
/** The current user with its second-factor state. */
export const MeSchema = {
  type: 'object',
  properties: {
    ...PublicUserDef.properties,
    totpEnrolled: { type: 'boolean', description: 'an authenticator (TOTP) is enrolled' },
    totpRequired: { type: 'boolean', description: 'the role must enrol TOTP (QIAO_TOTP_REQUIRED_ROLES); until it has, only account endpoints answer' },
  },
  required: [...PublicUserDef.required, 'totpEnrolled', 'totpRequired'],
} as const;
const SessionAnswer = {
  type: 'object',
  properties: { ...TokenAnswer.properties, user: MeSchema },
  required: ['token', 'expiresAt', 'user'],
  additionalProperties: false,
} as const;
const TotpCode = { type: 'string', pattern: '^\\s*\\d{6}\\s*$', description: 'six digits from the authenticator app' } as const;
const RecoveryCode = { type: 'string', minLength: 8, maxLength: 32, pattern: '^[A-Za-z0-9 -]+$', description: 'one of the recovery codes shown at enrolment (xxxxx-xxxxx)' } as const;

export default async function authRoutes(scope: FastifyInstance, d: AppDeps): Promise<void> {
  const app = typed(scope);
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

  /** A failed login step: audited, counted for the lockouts (and the lockout audited when reached); throws `code`. */
  async function failed(req: FastifyRequest, login: string, code: ErrorCode, userId?: string): Promise<never> {
    await d.audit.append({ actorId: userId ?? login, action: 'login', outcome: 'refused', detail: code === 'QIAO_AUTH_BAD_CREDENTIALS' ? {} : { code }, ip: req.ip });
    const after = await Promise.all([byAccount(req), byAddress(req)]);
    if (after.some(exhausted)) {
      await d.audit
        .append({ actorId: login, action: 'login.lockout', outcome: 'refused', detail: { limits: after.filter(exhausted).map((s) => (s.key.startsWith('login-fail-acct:') ? 'account' : 'address')) }, ip: req.ip })
        .catch(() => {});
    }
    throw new QiaoError(code);
  }

  async function me(user: UserRow) {
    return { ...toPublicUser(user), totpEnrolled: await d.totp.isEnrolled(user.id), totpRequired: d.totp.isRequired(user.role) };
  }

  /** A completed login: the session token and the user. */
  async function session(req: FastifyRequest, user: UserRow, factor: 'password' | 'totp' | 'recovery-code') {
    const { token, expiresAt } = await d.tokens.issue(toPrincipal(user));
    await d.audit.append({ actorId: user.id, action: 'login', outcome: 'ok', detail: factor === 'password' ? {} : { factor }, ip: req.ip });
    return { token, expiresAt, user: await me(user) };
  }

  // Every login attempt from one address, whatever its outcome — both steps share the one budget (the
  // failure lockouts per account and per address are checked in the handlers).
  const loginAddressLimit = {
    max: sec.loginRateMax,
    timeWindow: 60_000,
    keyGenerator: (req: FastifyRequest) => `login-addr:${req.ip}`,
    errorResponseBuilder: () => new QiaoError('QIAO_LOGIN_THROTTLED'),
  };

  app.post(
    '/api/auth/login',
    {
      config: { rateLimit: loginAddressLimit },
      schema: {
        tags: ['auth'],
        summary: 'Log in with login and password; returns a signed, expiring token',
        body: {
          type: 'object',
          properties: { login: { type: 'string', minLength: 1, maxLength: 64, pattern: '^[^\\u0000]*$' }, password: { type: 'string', minLength: 1, maxLength: 256 } },
          required: ['login', 'password'],
          additionalProperties: false,
        },
        description:
          'For a user with an authenticator (TOTP) the answer is `{totpRequired: true, challenge}` instead of a token: send the challenge (valid 5 minutes) ' +
          'with a code or a recovery code to POST /api/auth/login/totp.',
        response: {
          200: {
            anyOf: [
              SessionAnswer,
              {
                type: 'object',
                properties: { totpRequired: { type: 'boolean', enum: [true] }, challenge: { type: 'string' } },
                required: ['totpRequired', 'challenge'],
                additionalProperties: false,
              },
            ],
          },
          ...errors(400, 401, 429),
        },
      },
    },
    async (req, reply) => {
      const { login, password } = req.body;
      const before = await Promise.all([byAccount(req, { increment: false }), byAddress(req, { increment: false })]);
      if (before.some(exhausted)) await throttled(req, reply, before, false);
      const user = await d.users.findByLogin(login);
      const ok = await verifyPassword(password, user?.passwordHash ?? DUMMY_HASH);
      // A disabled account answers as a wrong password: the login page tells nobody who has left.
      if (!user || !ok || !user.active) await failed(req, login, 'QIAO_AUTH_BAD_CREDENTIALS');
      if (await d.totp.isEnrolled(user!.id)) {
        // Second step: no token yet, only a short-lived proof that the password was right.
        await d.audit.append({ actorId: user!.id, action: 'login.password', outcome: 'ok', ip: req.ip });
        return { totpRequired: true as const, challenge: await d.totp.challenge(user!.id, user!.login, user!.sessionVersion) };
      }
      return session(req, user!, 'password');
    },
  );

  app.post(
    '/api/auth/login/totp',
    {
      config: { rateLimit: loginAddressLimit },
      schema: {
        tags: ['auth'],
        summary: 'Second login step: the challenge from /api/auth/login with an authenticator code or a recovery code',
        description:
          'A code is accepted once (QIAO_TOTP_REUSED for a code of an already used time step), within one 30-second step either side; a recovery code is consumed. ' +
          'Wrong codes (QIAO_TOTP_INVALID, QIAO_TOTP_RECOVERY_CODE_INVALID) and reused ones count as failed logins for the lockout (QIAO_LOGIN_THROTTLED).',
        body: {
          type: 'object',
          properties: { challenge: { type: 'string', minLength: 1, maxLength: 2048 }, code: TotpCode, recoveryCode: RecoveryCode },
          required: ['challenge'],
          oneOf: [{ required: ['code'] }, { required: ['recoveryCode'] }],
          additionalProperties: false,
        },
        response: { 200: SessionAnswer, ...errors(400, 401, 429) },
      },
    },
    async (req, reply) => {
      const { challenge, code, recoveryCode } = req.body;
      const c = await d.totp.readChallenge(challenge);
      challengeLogin.set(req, c.login);
      const before = await Promise.all([byAccount(req, { increment: false }), byAddress(req, { increment: false })]);
      if (before.some(exhausted)) await throttled(req, reply, before, false);
      const user = await d.users.findById(c.userId);
      // A password change, logout or disable since the password step ends the challenge too.
      if (!user || !user.active || user.sessionVersion !== c.sv) throw new QiaoError('QIAO_TOTP_CHALLENGE_INVALID');
      try {
        if (code !== undefined) await d.totp.checkCode(user.id, code);
        else await d.totp.useRecoveryCode(user.id, recoveryCode!);
      } catch (e) {
        if (e instanceof QiaoError && e.code === 'QIAO_TOTP_NOT_ENROLLED') throw new QiaoError('QIAO_TOTP_CHALLENGE_INVALID');
        if (e instanceof QiaoError) await failed(req, c.login, e.code, user.id);
        throw e;
      }
      return session(req, user, code !== undefined ? 'totp' : 'recovery-code');
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
      const { oldPassword, newPassword } = req.body;
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
    { preHandler: authenticate(d.tokens), schema: { tags: ['auth'], summary: 'The current user, with its second-factor state', security: bearerSecurity, response: { 200: MeSchema, ...errors(401) } } },
    async (req) => {
      const user = await d.users.findById(req.principal.id);
      if (!user) throw new QiaoError('QIAO_NOT_FOUND', 'User no longer exists');
      return me(user);
    },
  );

  // ---------------------------------------------------------------------------------------------
  // TOTP second factor (docs/accounts.md#totp-second-factor)

  const own = { preHandler: authenticate(d.tokens), security: bearerSecurity };

  app.get(
    '/api/auth/totp',
    {
      preHandler: own.preHandler,
      schema: {
        tags: ['auth'],
        summary: 'One’s own second-factor state',
        security: bearerSecurity,
        response: {
          200: {
            type: 'object',
            properties: { enrolled: { type: 'boolean' }, required: { type: 'boolean' }, enabledAt: { type: ['string', 'null'] }, recoveryCodesLeft: { type: 'integer' } },
            required: ['enrolled', 'required', 'enabledAt', 'recoveryCodesLeft'],
          },
          ...errors(401),
        },
      },
    },
    async (req) => ({ ...(await d.totp.status(req.principal.id)), required: d.totp.isRequired(req.principal.role) }),
  );

  app.post(
    '/api/auth/totp/enrol',
    {
      preHandler: own.preHandler,
      schema: {
        tags: ['auth'],
        summary: 'Start enrolling an authenticator app: a new secret, its otpauth:// URL and a QR code (PNG data: URL); confirm with a code',
        security: bearerSecurity,
        response: {
          200: {
            type: 'object',
            properties: { secret: { type: 'string', description: 'base32, for manual entry' }, otpauthUrl: { type: 'string' }, qrDataUrl: { type: 'string' } },
            required: ['secret', 'otpauthUrl', 'qrDataUrl'],
          },
          ...errors(401, 409),
        },
      },
    },
    async (req) => {
      const user = await d.users.findById(req.principal.id);
      if (!user) throw new QiaoError('QIAO_SESSION_REVOKED');
      const r = await d.totp.enrol(user.id, user.login);
      await d.audit.append({ actorId: user.id, action: 'auth.totp-enrol', target: user.id, outcome: 'ok', ip: req.ip });
      return r;
    },
  );

  app.post(
    '/api/auth/totp/confirm',
    {
      preHandler: own.preHandler,
      schema: {
        tags: ['auth'],
        summary: 'Confirm the enrolment with a first code: TOTP is on; returns 10 one-time recovery codes (shown only now) and a new token (other sessions end)',
        security: bearerSecurity,
        body: { type: 'object', properties: { code: TotpCode }, required: ['code'], additionalProperties: false },
        response: {
          200: {
            type: 'object',
            properties: { ...TokenAnswer.properties, recoveryCodes: { type: 'array', items: { type: 'string' } } },
            required: ['token', 'expiresAt', 'recoveryCodes'],
          },
          ...errors(400, 401, 409),
        },
      },
    },
    async (req) => {
      const { code } = req.body;
      let recoveryCodes: string[];
      try {
        recoveryCodes = await d.totp.confirm(req.principal.id, code);
      } catch (e) {
        if (e instanceof QiaoError) await d.audit.append({ actorId: req.principal.id, action: 'auth.totp-enable', target: req.principal.id, outcome: 'refused', detail: { code: e.code }, ip: req.ip }).catch(() => {});
        throw e;
      }
      await admin.bumpSession(req.principal, req.principal.id, 'auth.totp-enable', req.ip);
      await d.sessions.changed(req.principal.id, 'revoked');
      const user = await d.users.findById(req.principal.id);
      return { ...(await d.tokens.issue(toPrincipal(user!))), recoveryCodes };
    },
  );

  app.post(
    '/api/auth/totp/disable',
    {
      preHandler: own.preHandler,
      schema: {
        tags: ['auth'],
        summary: 'Turn one’s authenticator off, proven with a current code or the password (not for roles that require it: QIAO_TOTP_REQUIRED); returns a new token',
        security: bearerSecurity,
        body: {
          type: 'object',
          properties: { code: TotpCode, password: { type: 'string', minLength: 1, maxLength: 256 } },
          oneOf: [{ required: ['code'] }, { required: ['password'] }],
          additionalProperties: false,
        },
        response: { 200: TokenAnswer, ...errors(400, 401, 403, 409) },
      },
    },
    async (req) => {
      const { code, password } = req.body;
      const user = await d.users.findById(req.principal.id);
      if (!user) throw new QiaoError('QIAO_SESSION_REVOKED');
      try {
        if (d.totp.isRequired(user.role)) throw new QiaoError('QIAO_TOTP_REQUIRED');
        if (!(await d.totp.isEnrolled(user.id))) throw new QiaoError('QIAO_TOTP_NOT_ENROLLED');
        if (code !== undefined) await d.totp.checkCode(user.id, code);
        else if (!(await verifyPassword(password!, user.passwordHash))) throw new QiaoError('QIAO_OLD_PASSWORD_WRONG');
      } catch (e) {
        if (e instanceof QiaoError) await d.audit.append({ actorId: user.id, action: 'auth.totp-disable', target: user.id, outcome: 'refused', detail: { code: e.code }, ip: req.ip }).catch(() => {});
        throw e;
      }
      await d.totp.remove(user.id);
      await admin.bumpSession(req.principal, user.id, 'auth.totp-disable', req.ip);
      await d.sessions.changed(user.id, 'revoked');
      const after = await d.users.findById(user.id);
      return d.tokens.issue(toPrincipal(after!));
    },
  );
}
