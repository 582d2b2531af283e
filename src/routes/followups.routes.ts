/**
 * Follow-ups (客户回访): rules, listing by scope, scheduling by hand, recording with the content
 * checklist, cancelling, and the coverage report (JSON and CSV). src/service/followup*.ts.
 */
import type { FastifyInstance } from 'fastify';
import { sql } from 'drizzle-orm';
import type { AppDeps } from '../deps.ts';
import { QiaoError } from '../errors/codes.ts';
import { coverageCsv } from '../service/followup-coverage.ts';
import { staffScope } from '../service/followup-scope.ts';
import { shanghaiYear } from '../service/followup-sweep.ts';
import type { Checklist, Outcome } from '../service/followups.ts';
import { rows } from '../store/db.ts';
import { authenticate, bearerSecurity } from './auth-hook.ts';
import { errors, errorsAsJson } from './schemas.ts';
import { emptyBodyIsObject } from './tasks.routes.ts';
import { typed } from './type-provider.ts';

const UUID = { type: 'string', format: 'uuid' } as const;
const IdParam = { type: 'object', properties: { id: UUID }, required: ['id'], additionalProperties: false } as const;
const nstr = { type: ['string', 'null'] } as const;

const CHECKLIST = {
  type: 'object',
  properties: {
    identityConfirmed: { type: 'boolean', description: '身份已确认 identity confirmed' },
    riskExplained: { type: 'boolean', description: '已说明风险等级与产品 risk level and products explained' },
    noReturnPromise: { type: 'boolean', description: '未承诺收益 no promise of returns' },
    complaintChannelTold: { type: 'boolean', description: '已告知投诉渠道 complaint channel told' },
  },
  required: ['identityConfirmed', 'riskExplained', 'noReturnPromise', 'complaintChannelTold'],
  additionalProperties: false,
} as const;

const Rule = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    code: { type: 'string' },
    kind: { type: 'string', enum: ['new_account', 'annual_sample', 'periodic'] },
    params: { type: 'object', additionalProperties: true, description: 'new_account {withinDays}; annual_sample {percent}; periodic {tier, everyDays}' },
    independent: { type: 'boolean' },
    active: { type: 'boolean' },
    builtin: { type: 'boolean' },
    updatedBy: nstr,
    updatedAt: { type: 'string', format: 'date-time' },
  },
} as const;

const Followup = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    clientId: { type: 'string' },
    clientName: { type: 'string' },
    brokerId: nstr,
    brokerName: nstr,
    teamId: nstr,
    branchId: nstr,
    assigneeId: nstr,
    assigneeName: nstr,
    ruleId: nstr,
    ruleCode: nstr,
    independent: { type: 'boolean', description: 'must be done by staff other than the client’s broker' },
    reason: { type: 'string' },
    dueAt: { type: 'string', format: 'date-time' },
    state: { type: 'string', enum: ['open', 'done', 'cancelled'] },
    overdue: { type: 'boolean' },
    outcome: { type: ['string', 'null'], enum: ['reached', 'unreachable', 'declined', null] },
    notes: nstr,
    checklist: { type: ['object', 'null'], properties: CHECKLIST.properties },
    doneBy: nstr,
    doneByName: nstr,
    doneAt: { type: ['string', 'null'], format: 'date-time' },
    escalatedAt: { type: ['string', 'null'], format: 'date-time' },
    createdAt: { type: 'string', format: 'date-time' },
  },
} as const;

const count = { type: 'integer' } as const;
const Coverage = {
  type: 'object',
  properties: {
    year: count,
    generatedAt: { type: 'string', format: 'date-time' },
    branches: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          branchId: { type: 'string' },
          branchCode: { type: 'string' },
          branchName: { type: 'string' },
          newAccounts: {
            type: 'object',
            properties: { withinDays: count, active: { type: 'boolean' }, opened: count, inWindow: count, late: count, missing: count, pending: count },
          },
          annualSample: {
            type: 'object',
            properties: { percent: count, active: { type: 'boolean' }, existingClients: count, required: count, done: count, scheduled: count },
          },
          periodic: {
            type: 'array',
            items: {
              type: 'object',
              properties: { ruleId: { type: 'string' }, code: { type: 'string' }, tier: { type: 'string' }, everyDays: count, active: { type: 'boolean' }, due: count, done: count, overdue: count },
            },
          },
          completed: count,
          fullChecklist: count,
          checklistShare: { type: ['number', 'null'] },
          doneByOwnBroker: { type: 'integer', description: 'independent follow-ups done by the client’s own broker (must be 0)' },
        },
      },
    },
  },
} as const;

const YearQuery = { type: 'object', properties: { year: { type: 'integer', minimum: 2000, maximum: 2100 } }, additionalProperties: false } as const;

export default async function followupRoutes(scope: FastifyInstance, d: AppDeps): Promise<void> {
  const app = typed(scope);
  app.addHook('preHandler', authenticate(d.tokens));
  app.addHook('preValidation', emptyBodyIsObject);
  const f = d.followups!;

  app.get(
    '/api/followups/rules',
    {
      schema: {
        tags: ['followups'],
        summary: 'Follow-up rules of my firm (the built-in regulator floor is created on first use)',
        security: bearerSecurity,
        response: { 200: { type: 'object', properties: { rules: { type: 'array', items: Rule } } }, ...errors(401, 403) },
      },
    },
    async (req) => ({ rules: await f.rules.list(req.principal) }),
  );

  app.post(
    '/api/followups/rules',
    {
      schema: {
        tags: ['followups'],
        summary: 'Add a periodic follow-up rule for a client tier (admin, compliance; one per tier)',
        security: bearerSecurity,
        body: {
          type: 'object',
          properties: { tier: { type: 'string' }, everyDays: { type: 'integer' }, independent: { type: 'boolean' } },
          required: ['tier', 'everyDays'],
          additionalProperties: false,
        },
        response: { 201: { type: 'object', properties: { rule: Rule } }, ...errors(400, 401, 403, 422) },
      },
    },
    async (req, reply) => {
      const b = req.body;
      reply.code(201);
      return { rule: await f.rules.addPeriodic(req.principal, b) };
    },
  );

  app.patch(
    '/api/followups/rules/:id',
    {
      schema: {
        tags: ['followups'],
        summary: 'Change a follow-up rule (admin, compliance): params (merged, then checked), active, independent; archived',
        description: 'Bad values (days 1–366, percent 1–100, an unknown tier, unknown keys): QIAO_FOLLOWUP_RULE_INVALID.',
        security: bearerSecurity,
        params: IdParam,
        body: {
          type: 'object',
          properties: { params: { type: 'object', additionalProperties: true }, active: { type: 'boolean' }, independent: { type: 'boolean' } },
          additionalProperties: false,
        },
        response: { 200: { type: 'object', properties: { rule: Rule } }, ...errors(400, 401, 403, 404, 422) },
      },
    },
    async (req) => {
      const { id } = req.params;
      return { rule: await f.rules.update(req.principal, id, req.body) };
    },
  );

  app.get(
    '/api/followups',
    {
      schema: {
        tags: ['followups'],
        summary: 'Follow-ups I see: assigned to me; a manager its teams’; a branch head its branch’s; service desk its branch’s independent ones; compliance and admin all',
        security: bearerSecurity,
        querystring: {
          type: 'object',
          properties: {
            mine: { type: 'string', enum: ['1', 'team', 'branch'], description: '1: assigned to me; team: of the teams I lead; branch: of my branch' },
            state: { type: 'string', enum: ['open', 'overdue', 'done', 'cancelled'] },
            limit: { type: 'integer', minimum: 1, maximum: 500, default: 200 },
          },
          additionalProperties: false,
        },
        response: { 200: { type: 'object', properties: { now: { type: 'string', format: 'date-time' }, followups: { type: 'array', items: Followup } } }, ...errors(400, 401, 403) },
      },
    },
    async (req) => {
      const q = req.query;
      const now = new Date();
      const mine = q.mine === '1' ? 'mine' : q.mine;
      return { now: now.toISOString(), followups: await f.service.list(req.principal, { mine, state: q.state, limit: q.limit }, now) };
    },
  );

  app.post(
    '/api/followups',
    {
      schema: {
        tags: ['followups'],
        summary: 'Schedule a follow-up by hand (manager of the client’s broker’s team, branch head, admin)',
        description:
          'Without assigneeId it goes to independent staff (service desk of the branch, else branch head, else team manager; never the broker). ' +
          'Assigned to the client’s broker it is not independent. dueAt in the future, at most 366 days ahead.',
        security: bearerSecurity,
        body: {
          type: 'object',
          properties: { clientId: UUID, dueAt: { type: 'string', format: 'date-time' }, assigneeId: UUID, reason: { type: 'string', maxLength: 500, default: '' } },
          required: ['clientId', 'dueAt'],
          additionalProperties: false,
        },
        response: { 201: { type: 'object', properties: { followup: Followup } }, ...errors(400, 401, 403, 404, 503) },
      },
    },
    async (req, reply) => {
      const b = req.body;
      const followup = await f.service.schedule(req.principal, b);
      reply.code(201);
      return { followup };
    },
  );

  app.get(
    '/api/followups/schedulable',
    {
      schema: {
        tags: ['followups'],
        summary: 'Clients I may schedule follow-ups for (managers: clients of their teams; branch heads: of their branch; admin: all, first 500)',
        security: bearerSecurity,
        response: {
          200: {
            type: 'object',
            properties: {
              clients: {
                type: 'array',
                items: { type: 'object', properties: { id: { type: 'string' }, displayName: { type: 'string' }, tier: nstr, brokerId: nstr, brokerName: nstr } },
              },
            },
          },
          ...errors(401, 403),
        },
      },
    },
    async (req) => {
      const p = req.principal;
      if (p.role !== 'manager' && p.role !== 'admin') throw new QiaoError('QIAO_FORBIDDEN');
      const s = await staffScope(d.db.db, p);
      const ids = (a: string[]) => sql`${`{${a.join(',')}}`}::uuid[]`;
      const where =
        p.role === 'admin'
          ? sql`c.firm_id = ${p.firmId ?? ''}`
          : sql`(b.team_id = any(${ids(s.ledTeamIds)}) or coalesce(b.branch_id, c.branch_id) = any(${ids(s.headOfBranchIds)}))`;
      const r = await rows<Record<string, unknown>>(
        d.db.db,
        sql`select c.id::text, c.display_name, c.tier, b.id::text as broker_id, b.display_name as broker_name
              from users c
              left join broker_clients bc on bc.client_id = c.id and bc.relation = 'primary'
              left join users b on b.id = bc.broker_id
             where c.role = 'client' and c.active and ${where}
             order by c.display_name, c.id limit 500`,
      );
      return { clients: r.map((x) => ({ id: x.id, displayName: x.display_name, tier: x.tier ?? null, brokerId: x.broker_id ?? null, brokerName: x.broker_name ?? null })) };
    },
  );

  app.get(
    '/api/followups/coverage',
    {
      schema: {
        tags: ['followups'],
        summary: 'Coverage report of a year (default: this year, Asia/Shanghai) per branch and rule (compliance, admin; branch heads their branch)',
        security: bearerSecurity,
        querystring: YearQuery,
        response: { 200: Coverage, ...errors(400, 401, 403) },
      },
    },
    async (req) => {
      const { year } = req.query;
      return f.coverage.report(req.principal, year ?? shanghaiYear(new Date()));
    },
  );

  app.get(
    '/api/followups/coverage.csv',
    {
      schema: {
        tags: ['followups'],
        summary: 'The coverage report as CSV (UTF-8 with BOM), one row per branch and rule',
        security: bearerSecurity,
        querystring: YearQuery,
        produces: ['text/csv'],
        response: { 200: { type: 'string', description: 'CSV' }, ...errorsAsJson(400, 401, 403) },
      },
    },
    async (req, reply) => {
      const { year } = req.query;
      const y = year ?? shanghaiYear(new Date());
      const csv = coverageCsv(await f.coverage.report(req.principal, y));
      reply.header('content-type', 'text/csv; charset=utf-8').header('content-disposition', `attachment; filename="followup-coverage-${y}.csv"`);
      return csv;
    },
  );

  app.get(
    '/api/followups/:id',
    {
      schema: {
        tags: ['followups'],
        summary: 'One follow-up (QIAO_FOLLOWUP_NOT_FOUND when I do not see it)',
        security: bearerSecurity,
        params: IdParam,
        response: { 200: { type: 'object', properties: { followup: Followup } }, ...errors(400, 401, 403, 404) },
      },
    },
    async (req) => ({ followup: await f.service.get(req.principal, req.params.id) }),
  );

  app.post(
    '/api/followups/:id/complete',
    {
      schema: {
        tags: ['followups'],
        summary: 'Record a follow-up: outcome, notes and the content checklist (the assignee, or independent staff of the branch taking it over)',
        description:
          'reached needs every checklist item (QIAO_FOLLOWUP_CHECKLIST_INCOMPLETE); the client’s own broker on an independent one: QIAO_FOLLOWUP_NOT_INDEPENDENT; ' +
          'done or cancelled: QIAO_FOLLOWUP_CLOSED; not visible: QIAO_FOLLOWUP_NOT_FOUND. Archived (retention client-followups).',
        security: bearerSecurity,
        params: IdParam,
        body: {
          type: 'object',
          properties: {
            outcome: { type: 'string', enum: ['reached', 'unreachable', 'declined'] },
            notes: { type: 'string', maxLength: 2000, default: '' },
            checklist: CHECKLIST,
          },
          required: ['outcome', 'checklist'],
          additionalProperties: false,
        },
        response: { 200: { type: 'object', properties: { followup: Followup } }, ...errors(400, 401, 403, 404, 409, 422) },
      },
    },
    async (req) => {
      const b = req.body;
      return { followup: await f.service.complete(req.principal, req.params.id, b) };
    },
  );

  app.post(
    '/api/followups/:id/cancel',
    {
      schema: {
        tags: ['followups'],
        summary: 'Cancel an open follow-up with a reason (the team’s manager, the branch head, admin)',
        security: bearerSecurity,
        params: IdParam,
        body: { type: 'object', properties: { reason: { type: 'string', minLength: 1, maxLength: 500 } }, required: ['reason'], additionalProperties: false },
        response: { 200: { type: 'object', properties: { followup: Followup } }, ...errors(400, 401, 403, 404, 409) },
      },
    },
    async (req) => ({ followup: await f.service.cancel(req.principal, req.params.id, req.body.reason) }),
  );
}
