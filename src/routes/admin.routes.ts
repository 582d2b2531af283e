/**
 * Firm administration (admin; compliance may read users and client profiles): branches (营业部) and
 * teams, users of every role, client profiles. Every change is audited and archived with old → new;
 * afterwards every node is told (SessionGuard.changed): disabling, sign-out everywhere and role
 * changes end the user's sessions at once (REST refused, sockets closed), a re-grade or team move
 * re-authorises live subscriptions with the new entitlements (docs/accounts.md).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { UUID_RE } from '../../channels/family.ts';
import { assertPasswordPolicy } from '../auth/password-policy.ts';
import type { AppDeps } from '../deps.ts';
import { QiaoError } from '../errors/codes.ts';
import { AdminRepo, adminUserView, clientProfile, type ClientProfilePatch, type NewUser, type UserPatch } from '../store/admin-repo.ts';
import { OrgRepo } from '../store/org-repo.ts';
import { authenticate, bearerSecurity } from './auth-hook.ts';
import { PublicUserSchema, errors } from './schemas.ts';

const Uuid = { type: 'string', pattern: `^${UUID_RE}$` } as const;
const Code = { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9_-]{1,31}$', description: '2–32 letters, digits, "_" or "-"' } as const;
const Name = { type: 'string', minLength: 1, maxLength: 100, pattern: '\\S' } as const;
const NullableDate = { type: ['string', 'null'], pattern: '^\\d{4}-\\d{2}-\\d{2}$', description: 'YYYY-MM-DD' } as const;
const Tier = { type: 'string', enum: ['general', 'hnw', 'institutional'] } as const;
const Risk = { type: ['string', 'null'], enum: ['C1', 'C2', 'C3', 'C4', 'C5', null] } as const;
const Phone = { type: ['string', 'null'], pattern: '^\\+?[0-9 ()-]{5,32}$' } as const;
const Email = { type: ['string', 'null'], maxLength: 254, pattern: '^[^\\s@]+@[^\\s@]+$' } as const;

const BranchSchema = {
  type: 'object',
  properties: { id: { type: 'string' }, code: { type: 'string' }, name: { type: 'string' }, closedAt: { type: ['string', 'null'] }, createdAt: { type: 'string' } },
  required: ['id', 'code', 'name', 'closedAt', 'createdAt'],
} as const;
const TeamSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    branchId: { type: 'string' },
    code: { type: 'string' },
    name: { type: 'string' },
    managerId: { type: ['string', 'null'] },
    closedAt: { type: ['string', 'null'] },
    createdAt: { type: 'string' },
  },
  required: ['id', 'branchId', 'code', 'name', 'managerId', 'closedAt', 'createdAt'],
} as const;
const AdminUserSchema = {
  type: 'object',
  properties: {
    ...PublicUserSchema.properties,
    email: { type: ['string', 'null'] },
    phone: { type: ['string', 'null'] },
    active: { type: 'boolean' },
    disabledAt: { type: ['string', 'null'] },
    riskExpiresOn: { type: ['string', 'null'] },
    passwordChangedAt: { type: ['string', 'null'] },
    createdAt: { type: 'string' },
  },
  required: [...PublicUserSchema.required, 'email', 'phone', 'active', 'disabledAt', 'riskExpiresOn', 'passwordChangedAt', 'createdAt'],
} as const;
const ProfileSchema = {
  type: 'object',
  properties: {
    clientId: { type: 'string' },
    tier: Tier,
    riskLevel: { type: ['string', 'null'] },
    riskAssessedOn: { type: ['string', 'null'] },
    riskExpiresOn: { type: ['string', 'null'], description: 'null: two years after riskAssessedOn' },
    professionalInvestor: { type: 'boolean' },
  },
  required: ['clientId', 'tier', 'riskLevel', 'riskAssessedOn', 'riskExpiresOn', 'professionalInvestor'],
} as const;

const idParam = (name: string) => ({ type: 'object', properties: { [name]: Uuid }, required: [name], additionalProperties: false }) as const;

export default async function adminRoutes(app: FastifyInstance, d: AppDeps): Promise<void> {
  const repo = new AdminRepo(d.db.db, d.archive);
  const org = new OrgRepo(d.db.db, d.archive);
  app.addHook('preHandler', authenticate(d.tokens));

  const requireAdmin = (req: FastifyRequest) => {
    if (req.principal.role !== 'admin') throw new QiaoError('QIAO_FORBIDDEN', 'Firm administration is for administrators');
  };
  const requireAdminOrCompliance = (req: FastifyRequest) => {
    if (req.principal.role !== 'admin' && req.principal.role !== 'compliance') throw new QiaoError('QIAO_FORBIDDEN', 'Only administrators and compliance may read this');
  };
  /** Refusals of admin actions are audited too (who tried what). */
  const refused = async (req: FastifyRequest, action: string, target: string | undefined, e: unknown) => {
    if (e instanceof QiaoError && e.status < 500)
      await d.audit.append({ actorId: req.principal.id, action, target, outcome: 'refused', detail: { code: e.code }, ip: req.ip }).catch(() => {});
    throw e;
  };
  const guarded = <T>(req: FastifyRequest, action: string, target: string | undefined, fn: () => Promise<T>): Promise<T> => fn().catch((e) => refused(req, action, target, e));

  // ---------------------------------------------------------------------------------------------
  // Organisation

  app.get(
    '/api/admin/org',
    {
      schema: {
        tags: ['admin'],
        summary: 'The firm’s branches (营业部) with their teams, closed ones included',
        security: bearerSecurity,
        response: {
          200: { type: 'object', properties: { branches: { type: 'array', items: { type: 'object', properties: { ...BranchSchema.properties, teams: { type: 'array', items: TeamSchema } }, required: [...BranchSchema.required, 'teams'] } } }, required: ['branches'] },
          ...errors(401, 403),
        },
      },
    },
    async (req) => {
      requireAdminOrCompliance(req);
      return { branches: await org.listOrg(req.principal.firmId!) };
    },
  );

  app.post(
    '/api/admin/branches',
    {
      schema: {
        tags: ['admin'],
        summary: 'Create a branch (营业部)',
        security: bearerSecurity,
        body: { type: 'object', properties: { code: Code, name: Name }, required: ['code', 'name'], additionalProperties: false },
        response: { 201: BranchSchema, ...errors(400, 401, 403, 409) },
      },
    },
    async (req, reply) => {
      requireAdmin(req);
      const b = await guarded(req, 'org.branch.create', undefined, () => org.createBranch(req.principal, req.body as { code: string; name: string }));
      return reply.code(201).send(b);
    },
  );

  app.patch(
    '/api/admin/branches/:branchId',
    {
      schema: {
        tags: ['admin'],
        summary: 'Rename a branch',
        security: bearerSecurity,
        params: idParam('branchId'),
        body: { type: 'object', properties: { name: Name }, required: ['name'], additionalProperties: false },
        response: { 200: BranchSchema, ...errors(400, 401, 403, 404, 409) },
      },
    },
    async (req) => {
      requireAdmin(req);
      const { branchId } = req.params as { branchId: string };
      return guarded(req, 'org.branch.rename', branchId, () => org.renameBranch(req.principal, branchId, (req.body as { name: string }).name));
    },
  );

  app.post(
    '/api/admin/branches/:branchId/close',
    {
      schema: {
        tags: ['admin'],
        summary: 'Close an empty branch (no open teams, no active users); otherwise QIAO_ORG_NOT_EMPTY',
        security: bearerSecurity,
        params: idParam('branchId'),
        response: { 200: BranchSchema, ...errors(400, 401, 403, 404, 409) },
      },
    },
    async (req) => {
      requireAdmin(req);
      const { branchId } = req.params as { branchId: string };
      return guarded(req, 'org.branch.close', branchId, () => org.closeBranch(req.principal, branchId));
    },
  );

  app.post(
    '/api/admin/teams',
    {
      schema: {
        tags: ['admin'],
        summary: 'Create a team in an open branch',
        security: bearerSecurity,
        body: { type: 'object', properties: { branchId: Uuid, code: Code, name: Name }, required: ['branchId', 'code', 'name'], additionalProperties: false },
        response: { 201: TeamSchema, ...errors(400, 401, 403, 404, 409) },
      },
    },
    async (req, reply) => {
      requireAdmin(req);
      const t = await guarded(req, 'org.team.create', undefined, () => org.createTeam(req.principal, req.body as { branchId: string; code: string; name: string }));
      return reply.code(201).send(t);
    },
  );

  app.patch(
    '/api/admin/teams/:teamId',
    {
      schema: {
        tags: ['admin'],
        summary: 'Rename a team, move it to another branch (its members move with it), or name its manager',
        security: bearerSecurity,
        params: idParam('teamId'),
        body: {
          type: 'object',
          properties: { name: Name, branchId: Uuid, managerId: { type: ['string', 'null'], pattern: `^${UUID_RE}$` } },
          minProperties: 1,
          additionalProperties: false,
        },
        response: { 200: TeamSchema, ...errors(400, 401, 403, 404, 409, 422) },
      },
    },
    async (req) => {
      requireAdmin(req);
      const { teamId } = req.params as { teamId: string };
      const { team, movedUsers } = await guarded(req, 'org.team.update', teamId, () => org.updateTeam(req.principal, teamId, req.body as { name?: string; branchId?: string; managerId?: string | null }));
      for (const u of movedUsers) await d.sessions.changed(u, 'changed');
      return team;
    },
  );

  app.post(
    '/api/admin/teams/:teamId/close',
    {
      schema: {
        tags: ['admin'],
        summary: 'Close an empty team (no active members); otherwise QIAO_ORG_NOT_EMPTY',
        security: bearerSecurity,
        params: idParam('teamId'),
        response: { 200: TeamSchema, ...errors(400, 401, 403, 404, 409) },
      },
    },
    async (req) => {
      requireAdmin(req);
      const { teamId } = req.params as { teamId: string };
      return guarded(req, 'org.team.close', teamId, () => org.closeTeam(req.principal, teamId));
    },
  );

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
      return repo.listUsers(req.principal.firmId!, req.query as Parameters<AdminRepo['listUsers']>[1]);
    },
  );

  app.get(
    '/api/admin/users/:userId',
    { schema: { tags: ['admin'], summary: 'One user', security: bearerSecurity, params: idParam('userId'), response: { 200: AdminUserSchema, ...errors(400, 401, 403, 404) } } },
    async (req) => {
      requireAdminOrCompliance(req);
      return adminUserView(await repo.getUser(req.principal.firmId!, (req.params as { userId: string }).userId));
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
          },
          required: ['login', 'password', 'displayName', 'role'],
          additionalProperties: false,
        },
        response: { 201: AdminUserSchema, ...errors(400, 401, 403, 404, 409, 422) },
      },
    },
    async (req, reply) => {
      requireAdmin(req);
      const body = req.body as NewUser;
      const u = await guarded(req, 'user.create', body.login, () => repo.createUser(req.principal, body));
      return reply.code(201).send(u);
    },
  );

  app.patch(
    '/api/admin/users/:userId',
    {
      schema: {
        tags: ['admin'],
        summary: 'Edit a user: profile (name, email, phone, locale, time zone), role, team or branch',
        description:
          'A role change ends the user’s sessions (tokens refused with QIAO_SESSION_REVOKED, sockets closed 4406); a team move keeps them and re-authorises live subscriptions. ' +
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
          },
          minProperties: 1,
          additionalProperties: false,
        },
        response: { 200: AdminUserSchema, ...errors(400, 401, 403, 404, 409, 422) },
      },
    },
    async (req) => {
      requireAdmin(req);
      const { userId } = req.params as { userId: string };
      const { user, revoke } = await guarded(req, 'user.update', userId, () => repo.updateUser(req.principal, userId, req.body as UserPatch));
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
            : 'Disable a user at once on every node: tokens refused (QIAO_ACCOUNT_DISABLED), sockets closed (4407); records stay',
          security: bearerSecurity,
          params: idParam('userId'),
          response: { 200: AdminUserSchema, ...errors(400, 401, 403, 404, 409) },
        },
      },
      async (req) => {
        requireAdmin(req);
        const { userId } = req.params as { userId: string };
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
      const { userId } = req.params as { userId: string };
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
      const { userId } = req.params as { userId: string };
      await guarded(req, 'user.password-reset', userId, async () => {
        const u = await repo.getUser(req.principal.firmId!, userId);
        assertPasswordPolicy((req.body as { password: string }).password, u.login);
        return repo.setPassword(req.principal, userId, (req.body as { password: string }).password, 'user.password-reset', req.ip);
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
      const { userId } = req.params as { userId: string };
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
      return clientProfile(await repo.getClient(req.principal.firmId!, (req.params as { clientId: string }).clientId));
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
      const { clientId } = req.params as { clientId: string };
      const { profile } = await guarded(req, 'client.profile', clientId, () => repo.updateClientProfile(req.principal, clientId, req.body as ClientProfilePatch));
      await d.sessions.changed(clientId, 'changed');
      return profile;
    },
  );
}
