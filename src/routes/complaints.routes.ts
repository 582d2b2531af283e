/**
 * Complaints (投诉处理) over REST: a client files and follows their own; the branch's service desk,
 * head and managers handle them; compliance and admin see all and download the yearly report
 * (src/service/complaints.ts, complaint-report.ts; docs/service.md).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AppDeps } from '../deps.ts';
import { QiaoError } from '../errors/codes.ts';
import { assertReportYear, complaintReport, reportCsv, reportXlsx } from '../service/complaint-report.ts';
import { COMPLAINT_CATEGORIES, COMPLAINT_STATUSES } from '../service/complaint-views.ts';
import type { ComplaintsService } from '../service/complaints.ts';
import { authenticate, bearerSecurity } from './auth-hook.ts';
import { errorWith, errors, errorsAsJson, IdempotencyKeyHeaders } from './schemas.ts';
import { emptyBodyIsObject } from './tasks.routes.ts';
import { typed } from './type-provider.ts';

const UUID = { type: 'string', format: 'uuid' } as const;
const NStr = { type: ['string', 'null'] } as const;
const IdParam = { type: 'object', properties: { id: UUID }, required: ['id'] } as const;
const Text2000 = { type: 'string', minLength: 1, maxLength: 2000, pattern: '\\S' } as const;

const ComplaintSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    branchId: NStr,
    branchName: NStr,
    clientId: { type: 'string' },
    clientName: { type: 'string' },
    brokerId: { ...NStr, description: 'The broker it is about (null for the client)' },
    brokerName: NStr,
    conversationId: NStr,
    category: { type: 'string', enum: [...COMPLAINT_CATEGORIES] },
    text: { type: 'string' },
    status: { type: 'string', enum: [...COMPLAINT_STATUSES] },
    assigneeId: NStr,
    assigneeName: NStr,
    ackDueAt: { type: 'string' },
    resolveDueAt: { type: 'string' },
    acknowledgedAt: NStr,
    closedAt: NStr,
    reply: NStr,
    escalationLevel: { type: 'integer', description: '0 none, 1 acknowledgement overdue, 2 resolution overdue' },
    overdue: { type: ['string', 'null'], enum: ['ack', 'resolve', null] },
    createdAt: { type: 'string' },
    updatedAt: { type: 'string' },
  },
  required: ['id', 'clientId', 'clientName', 'category', 'text', 'status', 'ackDueAt', 'resolveDueAt', 'escalationLevel', 'overdue', 'createdAt', 'updatedAt'],
} as const;

const EventSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    action: { type: 'string', enum: ['filed', 'assigned', 'acknowledged', 'note', 'escalated', 'resolved', 'rejected'] },
    actorId: NStr,
    actorName: NStr,
    note: NStr,
    clientVisible: { type: 'boolean' },
    at: { type: 'string' },
  },
  required: ['id', 'action', 'actorId', 'actorName', 'note', 'clientVisible', 'at'],
} as const;

const DetailSchema = {
  type: 'object',
  properties: {
    ...ComplaintSchema.properties,
    events: { type: 'array', items: EventSchema },
    can: {
      type: 'object',
      properties: { acknowledge: { type: 'boolean' }, assign: { type: 'boolean' }, note: { type: 'boolean' }, resolve: { type: 'boolean' } },
      required: ['acknowledge', 'assign', 'note', 'resolve'],
    },
  },
  required: [...ComplaintSchema.required, 'events', 'can'],
} as const;

const N = { type: ['number', 'null'] } as const;
const ReportRowProps = {
  filed: { type: 'integer' },
  resolved: { type: 'integer' },
  rejected: { type: 'integer' },
  stillOpen: { type: 'integer' },
  openAtYearEnd: { type: 'integer' },
  ackAvgH: N,
  ackMedianH: N,
  handleAvgH: N,
  handleMedianH: N,
  ackOverdue: { type: 'integer' },
  resolveOverdue: { type: 'integer' },
} as const;
const ReportRowRequired = Object.keys(ReportRowProps) as Array<keyof typeof ReportRowProps>;

const ReportSchema = {
  type: 'object',
  properties: {
    year: { type: 'integer' },
    asOf: { type: 'string' },
    totals: { type: 'object', properties: ReportRowProps, required: ReportRowRequired },
    byCategory: {
      type: 'array',
      items: { type: 'object', properties: { category: { type: 'string' }, categoryName: { type: 'string' }, ...ReportRowProps }, required: ['category', 'categoryName', ...ReportRowRequired] },
    },
    byBranch: {
      type: 'array',
      items: { type: 'object', properties: { branchId: NStr, branchCode: { type: 'string' }, branchName: { type: 'string' }, ...ReportRowProps }, required: ['branchId', 'branchCode', 'branchName', ...ReportRowRequired] },
    },
    byOutcome: {
      type: 'array',
      items: { type: 'object', properties: { outcome: { type: 'string', enum: ['resolved', 'rejected', 'open'] }, outcomeName: { type: 'string' }, count: { type: 'integer' } }, required: ['outcome', 'outcomeName', 'count'] },
    },
  },
  required: ['year', 'asOf', 'totals', 'byCategory', 'byBranch', 'byOutcome'],
} as const;

export default async function complaintRoutes(scope: FastifyInstance, d: AppDeps & { complaints: ComplaintsService }): Promise<void> {
  const app = typed(scope);
  app.addHook('preHandler', authenticate(d.tokens));
  const svc = d.complaints;

  app.post(
    '/api/complaints',
    {
      schema: {
        tags: ['complaints'],
        summary: 'File a complaint (投诉; clients): routed to the client’s branch service desk',
        description:
          'conversationId: one of the client’s own broker conversations (else QIAO_COMPLAINT_CONVERSATION_INVALID); the complaint is about that conversation’s broker, else the client’s primary broker. ' +
          'Send an Idempotency-Key: a retry with the same body returns the same complaint (200); with a different body QIAO_IDEMPOTENCY_MISMATCH.',
        security: bearerSecurity,
        headers: IdempotencyKeyHeaders,
        body: {
          type: 'object',
          properties: { category: { type: 'string', enum: [...COMPLAINT_CATEGORIES] }, text: Text2000, conversationId: { type: 'string', maxLength: 64 } },
          required: ['category', 'text'],
          additionalProperties: false,
        },
        response: { 201: DetailSchema, 200: DetailSchema, ...errors(400, 401, 403, 409, 422, 503) },
      },
    },
    async (req, reply) => {
      const key = req.headers['idempotency-key'];
      const body = req.body;
      const out = await svc.file(req.principal, { ...body, idempotencyKey: typeof key === 'string' ? key : undefined });
      reply.code(out.duplicate ? 200 : 201);
      return out.complaint;
    },
  );

  app.get(
    '/api/complaints',
    {
      schema: {
        tags: ['complaints'],
        summary: 'Complaints I may see, newest first (client: own; service desk, branch head, managers: their branch but not those about themselves; compliance, admin: all)',
        security: bearerSecurity,
        querystring: {
          type: 'object',
          properties: {
            status: { type: 'string', enum: [...COMPLAINT_STATUSES] },
            branchId: UUID,
            overdue: { type: 'string', enum: ['1', '0', 'true', 'false'] },
            limit: { type: 'integer', minimum: 1, maximum: 500, default: 200 },
          },
          additionalProperties: false,
        },
        response: { 200: { type: 'object', properties: { complaints: { type: 'array', items: ComplaintSchema } }, required: ['complaints'] }, ...errors(400, 401, 403) },
      },
    },
    async (req) => {
      const q = req.query;
      return { complaints: await svc.list(req.principal, { status: q.status, branchId: q.branchId, overdue: q.overdue === '1' || q.overdue === 'true', limit: q.limit }) };
    },
  );

  app.get(
    '/api/complaints/report',
    {
      schema: {
        tags: ['complaints'],
        summary: 'The yearly complaint report for the regulator (compliance, admin): JSON, or format=csv (UTF-8 with BOM) / xlsx (one sheet per table)',
        description: 'Complaints filed in the calendar year (Asia/Shanghai). A year before 2000 or after the current one: QIAO_COMPLAINT_REPORT_YEAR_INVALID.',
        security: bearerSecurity,
        produces: ['application/json', 'text/csv', 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet'],
        querystring: {
          type: 'object',
          properties: { year: { type: 'string', maxLength: 8 }, format: { type: 'string', enum: ['json', 'csv', 'xlsx'], default: 'json' } },
          required: ['year'],
          additionalProperties: false,
        },
        response: { 200: ReportSchema, ...errorsAsJson(400, 401, 403) },
      },
    },
    async (req, reply) => {
      const p = req.principal;
      if (p.role !== 'compliance' && p.role !== 'admin') throw new QiaoError('QIAO_COMPLAINT_FORBIDDEN', 'The complaint report is for compliance and administrators');
      const q = req.query;
      const year = assertReportYear(q.year, new Date());
      const report = await complaintReport(d.db.db, p.firmId!, year);
      await d.audit.append({ actorId: p.id, action: 'complaints.report', target: String(year), outcome: 'ok', detail: { format: q.format }, ip: req.ip });
      if (q.format === 'csv') {
        reply.header('content-type', 'text/csv; charset=utf-8').header('content-disposition', `attachment; filename="complaints-${year}.csv"`);
        return reply.send(await reportCsv(report));
      }
      if (q.format === 'xlsx') {
        reply
          .header('content-type', 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet')
          .header('content-disposition', `attachment; filename="complaints-${year}.xlsx"`);
        return reply.send(await reportXlsx(report));
      }
      return report;
    },
  );

  app.get(
    '/api/complaints/:id',
    {
      schema: {
        tags: ['complaints'],
        summary: 'One complaint with its events (the client sees the client-visible ones)',
        security: bearerSecurity,
        params: IdParam,
        response: { 200: DetailSchema, ...errors(400, 401, 403, 404) },
      },
    },
    async (req) => svc.get(req.principal, req.params.id),
  );

  app.get(
    '/api/complaints/:id/assignable',
    {
      schema: {
        tags: ['complaints'],
        summary: 'Staff of the complaint’s branch it may be assigned to (empty unless the caller may assign)',
        security: bearerSecurity,
        params: IdParam,
        response: {
          200: {
            type: 'object',
            properties: { staff: { type: 'array', items: { type: 'object', properties: { id: { type: 'string' }, displayName: { type: 'string' }, role: { type: 'string' } }, required: ['id', 'displayName', 'role'] } } },
            required: ['staff'],
          },
          ...errors(400, 401, 403, 404),
        },
      },
    },
    async (req) => ({ staff: await svc.assignable(req.principal, req.params.id) }),
  );

  const step = (path: string, summary: string, body: object, run: (p: FastifyRequest['principal'], id: string, b: Record<string, string | undefined>) => ReturnType<ComplaintsService['get']>) =>
    app.post(
      `/api/complaints/:id/${path}`,
      {
        preValidation: emptyBodyIsObject,
        schema: {
          tags: ['complaints'],
          summary,
          description: 'A step not possible in the current status (or lost to a concurrent step): QIAO_COMPLAINT_TRANSITION_INVALID (409).',
          security: bearerSecurity,
          params: IdParam,
          body,
          response: { 200: DetailSchema, ...errors(400, 401, 403, 404, 422, 503), 409: errorWith('QIAO_COMPLAINT_TRANSITION_INVALID') },
        },
      },
      // The body schema is this helper's parameter, so its type is `run`'s: the one cast left in the routes' handlers.
      async (req) => run(req.principal, req.params.id, req.body as Record<string, string | undefined>),
    );

  step('acknowledge', 'Acknowledge (受理): open → acknowledged, with an optional note the client sees', { type: 'object', properties: { note: { type: 'string', maxLength: 2000 } }, additionalProperties: false }, (p, id, b) =>
    svc.acknowledge(p, id, b.note),
  );
  step('assign', 'Assign to a broker or manager of the branch (the broker it is about sees it only then)', { type: 'object', properties: { assigneeId: UUID }, required: ['assigneeId'], additionalProperties: false }, (p, id, b) =>
    svc.assign(p, id, b.assigneeId!),
  );
  step('note', 'An internal note (not shown to the client)', { type: 'object', properties: { text: Text2000 }, required: ['text'], additionalProperties: false }, (p, id, b) => svc.note(p, id, b.text!));
  step('resolve', 'Resolve with a reply the client sees: acknowledged → resolved', { type: 'object', properties: { reply: Text2000 }, required: ['reply'], additionalProperties: false }, (p, id, b) =>
    svc.resolve(p, id, b.reply!),
  );
  step('reject', 'Reject (not upheld) with a reply the client sees: acknowledged → rejected', { type: 'object', properties: { reply: Text2000 }, required: ['reply'], additionalProperties: false }, (p, id, b) =>
    svc.reject(p, id, b.reply!),
  );
}
