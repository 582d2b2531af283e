/**
 * The firm's organisation over REST (admin; compliance reads): branches (营业部) and their teams —
 * create, rename, move a team, set its manager, close when empty. Every change is audited and
 * archived with old → new; a team move re-authorises its members' live subscriptions (docs/accounts.md).
 */
import type { FastifyInstance } from 'fastify';
import { UUID_RE } from '../../channels/family.ts';
import type { AppDeps } from '../deps.ts';
import { OrgRepo } from '../store/org-repo.ts';
import { adminGuards, BranchSchema, Code, idParam, Name, TeamSchema, Uuid } from './admin-shared.ts';
import { authenticate, bearerSecurity } from './auth-hook.ts';
import { errors } from './schemas.ts';
import { typed } from './type-provider.ts';

export default async function adminOrgRoutes(scope: FastifyInstance, d: AppDeps): Promise<void> {
  const app = typed(scope);
  const org = new OrgRepo(d.db.db, d.archive);
  const { requireAdmin, requireAdminOrCompliance, guarded } = adminGuards(d);
  app.addHook('preHandler', authenticate(d.tokens));

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
      const b = await guarded(req, 'org.branch.create', undefined, () => org.createBranch(req.principal, req.body));
      return reply.code(201).send(b);
    },
  );

  app.patch(
    '/api/admin/branches/:branchId',
    {
      schema: {
        tags: ['admin'],
        summary: 'Rename a branch and/or name its head (营业部负责人)',
        description: 'headId: an active manager of this branch, or null (another branch’s user or a non-manager: QIAO_USER_INVALID; unknown: QIAO_USER_NOT_FOUND).',
        security: bearerSecurity,
        params: idParam('branchId'),
        body: { type: 'object', properties: { name: Name, headId: { type: ['string', 'null'], pattern: `^${UUID_RE}$` } }, minProperties: 1, additionalProperties: false },
        response: { 200: BranchSchema, ...errors(400, 401, 403, 404, 409) },
      },
    },
    async (req) => {
      requireAdmin(req);
      const { branchId } = req.params;
      return guarded(req, 'org.branch.update', branchId, () => org.updateBranch(req.principal, branchId, req.body));
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
      const { branchId } = req.params;
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
      const t = await guarded(req, 'org.team.create', undefined, () => org.createTeam(req.principal, req.body));
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
      const { teamId } = req.params;
      const { team, movedUsers } = await guarded(req, 'org.team.update', teamId, () => org.updateTeam(req.principal, teamId, req.body));
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
      const { teamId } = req.params;
      return guarded(req, 'org.team.close', teamId, () => org.closeTeam(req.principal, teamId));
    },
  );
}
