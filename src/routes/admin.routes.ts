/**
 * Firm administration of people (admin; compliance may read users and client profiles): users of every
 * role and client profiles (branches and teams: admin-org.routes.ts). Every change is audited and archived with old → new;
 * afterwards every node is told (SessionGuard.changed): disabling, sign-out everywhere and role
 * changes end the user's sessions at once (REST refused, sockets closed), a re-grade or team move
 * re-authorises live subscriptions with the new entitlements (docs/accounts.md).
 */
import type { FastifyInstance } from 'fastify';
import { UUID_RE } from '../../channels/family.ts';
import { assertPasswordPolicy } from '../auth/password-policy.ts';
import type { AppDeps } from '../deps.ts';
import { AdminRepo, adminUserView, clientProfile, type ClientProfilePatch, type NewUser, type UserPatch } from '../store/admin-repo.ts';
import { adminGuards, AdminUserSchema, Email, idParam, Name, NullableDate, Phone, ProfileSchema, Risk, Tier, Uuid } from './admin-shared.ts';
import { authenticate, bearerSecurity } from './auth-hook.ts';
import { errors } from './schemas.ts';
import { normaliseCnMobile } from '../domain/phone.ts';
import { typed } from './type-provider.ts';

/** A phone number is stored normalised (+86…) or refused with QIAO_PHONE_INVALID before anything is written. */
function withPhone<T extends { phone?: string | null }>(body: T): T {
  return typeof body.phone === 'string' && body.phone.trim() ? { ...body, phone: normaliseCnMobile(body.phone) } : body.phone === '' ? { ...body, phone: null } : body;
}

export default async function adminRoutes(scope: FastifyInstance, d: AppDeps): Promise<void> {
  const app = typed(scope);
  const repo = new AdminRepo(d.db.db, d.archive);
  app.addHook('preHandler', authenticate(d.tokens));
  const { requireAdmin, requireAdminOrCompliance, guarded } = adminGuards(d);

  // ---------------------------------------------------------------------------------------------
  // Users

  app.get(
    '/api/admin/users',
    {
      schema: {
        tags: ['admin'],
        summary: 'Users of the firm, by login; filter by role, team, active, or text in login / name',
        security: bearerSecurity,
        querystring: {
          type: 'object',
          properties: {
            role: { type: 'string', enum: ['client', 'broker', 'manager', 'research', 'compliance', 'admin'] },
            teamId: Uuid,
            active: { type: 'boolean' },
            q: { type: 'string', maxLength: 64 },
            limit: { type: 'integer', minimum: 1, maximum: 200, default: 50 },
            cursor: { type: 'string', maxLength: 64 },
          },
          additionalProperties: false,
        },
        response: { 200: { type: 'object', properties: { users: { type: 'array', items: AdminUserSchema }, nextCursor: { type: ['string', 'null'] } }, required: ['users', 'nextCursor'] }, ...errors(400, 401, 403) },
      },
    },
    async (req) => {
      requireAdminOrCompliance(req);
      return repo.listUsers(req.principal.firmId!, req.query);
    },
  );

  app.get(
    '/api/admin/users/:userId',
    { schema: { tags: ['admin'], summary: 'One user', security: bearerSecurity, params: idParam('userId'), response: { 200: AdminUserSchema, ...errors(400, 401, 403, 404) } } },
    async (req) => {
      requireAdminOrCompliance(req);
      return adminUserView(await repo.getUser(req.principal.firmId!, req.params.userId));
    },
  );

  app.post(
    '/api/admin/users',
    {
      schema: {
        tags: ['admin'],
        summary: 'Create a user of any role with an initial password (password policy: QIAO_PASSWORD_WEAK)',
        description:
          'Brokers and managers need an open team (their branch is the team’s); clients need a tier and may carry a risk level. ' +
          'Unknown role: QIAO_ROLE_INVALID; unknown or closed team: QIAO_TEAM_NOT_FOUND / QIAO_TEAM_CLOSED; login in use (case-insensitive): QIAO_LOGIN_TAKEN.',
        security: bearerSecurity,
        body: {
          type: 'object',
          properties: {
            login: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{2,63}$' },
            password: { type: 'string', minLength: 1, maxLength: 256 },
            displayName: Name,
            role: { type: 'string', maxLength: 32 },
            teamId: { type: ['string', 'null'], pattern: `^${UUID_RE}$` },
            branchId: { type: ['string', 'null'], pattern: `^${UUID_RE}$` },
            email: Email,
            phone: Phone,
            tier: Tier,
            riskLevel: Risk,
            riskAssessedOn: NullableDate,
            riskExpiresOn: NullableDate,
            professionalInvestor: { type: 'boolean' },
            locale: { type: 'string', enum: ['zh-CN', 'en'] },
            timeZone: { type: 'string', minLength: 1, maxLength: 64 },
            serviceDesk: { type: 'boolean', description: 'Staff of the branch’s client service desk (客服); staff only (a client: QIAO_USER_INVALID)' },
          },
          required: ['login', 'password', 'displayName', 'role'],
          additionalProperties: false,
        },
        response: { 201: AdminUserSchema, ...errors(400, 401, 403, 404, 409, 422) },
      },
    },
    async (req, reply) => {
      requireAdmin(req);
      const body = withPhone(req.body);
      const u = await guarded(req, 'user.create', body.login, () => repo.createUser(req.principal, body));
      return reply.code(201).send(u);
    },
  );

  app.patch(
    '/api/admin/users/:userId',
    {
      schema: {
        tags: ['admin'],
        summary: 'Edit a user: profile (name, email, phone, locale, time zone), role, team or branch, service-desk (客服) flag',
        description:
          'A role change ends the user’s sessions (tokens refused with QIAO_SESSION_REVOKED, sockets closed 4606); a team move keeps them and re-authorises live subscriptions. ' +
          'Client ↔ staff role changes are refused (QIAO_ROLE_INVALID).',
        security: bearerSecurity,
        params: idParam('userId'),
        body: {
          type: 'object',
          properties: {
            displayName: Name,
            email: Email,
            phone: Phone,
            role: { type: 'string', maxLength: 32 },
            teamId: { type: ['string', 'null'], pattern: `^${UUID_RE}$` },
            branchId: { type: ['string', 'null'], pattern: `^${UUID_RE}$` },
            locale: { type: 'string', enum: ['zh-CN', 'en'] },
            timeZone: { type: 'string', minLength: 1, maxLength: 64 },
            serviceDesk: { type: 'boolean', description: 'Staff of the branch’s client service desk (客服); staff only (a client: QIAO_USER_INVALID)' },
          },
          minProperties: 1,
          additionalProperties: false,
        },
        response: { 200: AdminUserSchema, ...errors(400, 401, 403, 404, 409, 422) },
      },
    },
    async (req) => {
      requireAdmin(req);
      const { userId } = req.params;
      const { user, revoke } = await guarded(req, 'user.update', userId, () => repo.updateUser(req.principal, userId, withPhone(req.body)));
      await d.sessions.changed(userId, revoke ? 'revoked' : 'changed');
      return user;
    },
  );

  for (const [path, active] of [
    ['disable', false],
    ['enable', true],
  ] as const) {
    app.post(
      `/api/admin/users/:userId/${path}`,
      {
        schema: {
          tags: ['admin'],
          summary: active
            ? 'Re-enable a disabled user (tokens from before the disable stay invalid)'
            : 'Disable a user at once on every node: tokens refused (QIAO_ACCOUNT_DISABLED), sockets closed (4607); records stay',
          security: bearerSecurity,
          params: idParam('userId'),
          response: { 200: AdminUserSchema, ...errors(400, 401, 403, 404, 409) },
        },
      },
      async (req) => {
        requireAdmin(req);
        const { userId } = req.params;
        const u = await guarded(req, active ? 'user.enable' : 'user.disable', userId, () => repo.setActive(req.principal, userId, active));
        await d.sessions.changed(userId, active ? 'changed' : 'disabled');
        return u;
      },
    );
  }

  app.post(
    '/api/admin/users/:userId/sign-out',
    {
      schema: {
        tags: ['admin'],
        summary: 'Sign a user out everywhere: every existing token stops working on every node (REST and both sockets)',
        security: bearerSecurity,
        params: idParam('userId'),
        response: { 204: { type: 'null', description: 'Signed out' }, ...errors(400, 401, 403, 404) },
      },
    },
    async (req, reply) => {
      requireAdmin(req);
      const { userId } = req.params;
      await guarded(req, 'user.sign-out', userId, () => repo.bumpSession(req.principal, userId, 'user.sign-out', req.ip));
      await d.sessions.changed(userId, 'revoked');
      return reply.code(204).send();
    },
  );

  app.post(
    '/api/admin/users/:userId/password',
    {
      schema: {
        tags: ['admin'],
        summary: 'Set a new initial password for a user (policy applies); ends the user’s sessions',
        security: bearerSecurity,
        params: idParam('userId'),
        body: { type: 'object', properties: { password: { type: 'string', minLength: 1, maxLength: 256 } }, required: ['password'], additionalProperties: false },
        response: { 204: { type: 'null', description: 'Password set' }, ...errors(400, 401, 403, 404, 422) },
      },
    },
    async (req, reply) => {
      requireAdmin(req);
      const { userId } = req.params;
      await guarded(req, 'user.password-reset', userId, async () => {
        const u = await repo.getUser(req.principal.firmId!, userId);
        assertPasswordPolicy(req.body.password, u.login);
        return repo.setPassword(req.principal, userId, req.body.password, 'user.password-reset', req.ip);
      });
      await d.sessions.changed(userId, 'revoked');
      return reply.code(204).send();
    },
  );

  app.post(
    '/api/admin/users/:userId/totp/reset',
    {
      schema: {
        tags: ['admin'],
        summary: 'Reset a user’s authenticator (TOTP) and recovery codes, e.g. after a lost phone; ends the user’s sessions (audited: user.totp-reset)',
        security: bearerSecurity,
        params: idParam('userId'),
        response: { 204: { type: 'null', description: 'Reset' }, ...errors(400, 401, 403, 404) },
      },
    },
    async (req, reply) => {
      const { userId } = req.params;
      // A non-admin's attempt is audited too (resetting someone's second factor is sensitive).
      await guarded(req, 'user.totp-reset', userId, async () => {
        requireAdmin(req);
        return repo.resetTotp(req.principal, userId, req.ip);
      });
      await d.sessions.changed(userId, 'revoked');
      return reply.code(204).send();
    },
  );

  // ---------------------------------------------------------------------------------------------
  // Client profile

  app.get(
    '/api/admin/clients/:clientId/profile',
    {
      schema: {
        tags: ['admin'],
        summary: 'A client’s tier, risk level (C1–C5) with assessment and expiry dates, and professional-investor flag',
        security: bearerSecurity,
        params: idParam('clientId'),
        response: { 200: ProfileSchema, ...errors(400, 401, 403, 404, 422) },
      },
    },
    async (req) => {
      requireAdminOrCompliance(req);
      return clientProfile(await repo.getClient(req.principal.firmId!, req.params.clientId));
    },
  );

  app.patch(
    '/api/admin/clients/:clientId/profile',
    {
      schema: {
        tags: ['admin'],
        summary: 'Re-grade a client: tier, a new risk assessment (level, date, expiry), professional-investor flag',
        description:
          'Audited and archived (suitability records) with old → new. A tier change applies at once: live subscriptions the new tier is not entitled to end with `unsubscribed` ' +
          '(QIAO_ENTITLEMENT_REQUIRED) on every node. Recommendations check the new risk level from the next request. A new riskLevel without riskAssessedOn is dated today.',
        security: bearerSecurity,
        params: idParam('clientId'),
        body: {
          type: 'object',
          properties: { tier: Tier, riskLevel: Risk, riskAssessedOn: NullableDate, riskExpiresOn: NullableDate, professionalInvestor: { type: 'boolean' } },
          minProperties: 1,
          additionalProperties: false,
        },
        response: { 200: ProfileSchema, ...errors(400, 401, 403, 404, 422) },
      },
    },
    async (req) => {
      requireAdmin(req);
      const { clientId } = req.params;
      const { profile } = await guarded(req, 'client.profile', clientId, () => repo.updateClientProfile(req.principal, clientId, req.body));
      await d.sessions.changed(clientId, 'changed');
      return profile;
    },
  );
}
