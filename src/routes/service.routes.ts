/**
 * Service-quality dashboards (服务质量, src/service/quality.ts; docs/service.md "Service quality"):
 * GET /api/service/quality (JSON), /api/service/quality.csv (the same report as CSV) and
 * /api/service/scopes (what the caller may view). Brokers see their own figures; managers the teams
 * they lead and, as branch head, their branch; admin and compliance the firm
 * (QIAO_SERVICE_SCOPE_FORBIDDEN otherwise). A bad period, bucket or hours: QIAO_SERVICE_RANGE_INVALID.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { UUID_RE } from '../../channels/family.ts';
import type { AppDeps } from '../deps.ts';
import { QUALITY_CSV_HEADER, qualityCsv } from '../service/quality-csv.ts';
import { QualityScopes, SCOPES, type ScopeKind } from '../service/quality-scope.ts';
import { BUCKETS, HOURS, MAX_PERIOD_DAYS, QualityService, parsePeriod, type QualityReport } from '../service/quality.ts';
import { authenticate, bearerSecurity } from './auth-hook.ts';
import { errors, errorsAsJson } from './schemas.ts';
import { typed } from './type-provider.ts';

const Int = { type: 'integer' } as const;
const NInt = { type: ['integer', 'null'] } as const;
const NStr = { type: ['string', 'null'] } as const;

const PeriodFigureProps = {
  answered: { ...Int, description: 'client waits answered (first responses) in the period' },
  p50: { ...NInt, description: 'first-response time p50, seconds, in the hours shown (upper edge of its bin; null without answers)' },
  p90: { ...NInt, description: 'first-response time p90, seconds, likewise' },
  recsSent: { ...Int, description: 'recommendations delivered (or being delivered) to clients' },
  recsRefused: { ...Int, description: 'recommendations refused by the suitability rules' },
  recsHeld: { ...Int, description: 'recommendations held for compliance approval' },
  tasksOnTime: { ...Int, description: 'task assignments due in the period and done by their due time' },
  tasksOverdue: { ...Int, description: 'task assignments due in the period whose due time passed before they were done' },
  followupsDone: { ...Int, description: "follow-ups of the broker's clients due in the period and done" },
  followupsOverdue: { ...Int, description: 'follow-ups due in the period, still open and past due' },
  complaints: { ...Int, description: 'complaints about the broker filed in the period' },
  surveys: { ...Int, description: 'satisfaction surveys answered in the period' },
  surveyAvg: { type: ['number', 'null'], description: 'their average score (1–5, 2 decimals)' },
} as const;
const PERIOD_KEYS = Object.keys(PeriodFigureProps);

const CurrentFigureProps = {
  waiting: { ...Int, description: "clients now waiting for a first answer in the broker's conversations" },
  oldestWaiting: {
    type: ['object', 'null'],
    properties: { clientId: { type: 'string' }, displayName: { type: 'string' }, since: { type: 'string', format: 'date-time' } },
    required: ['clientId', 'displayName', 'since'],
  },
  book: { ...Int, description: 'clients whose primary broker it is' },
  contacted: { ...Int, description: 'of those, contacted by the broker side in the last 30 days' },
  coverage: { type: ['number', 'null'], description: 'contacted / book, percent with 1 decimal' },
} as const;
const CURRENT_KEYS = Object.keys(CurrentFigureProps);

const GroupRowSchema = {
  type: 'object',
  properties: { id: NStr, name: NStr, brokers: Int, ...PeriodFigureProps, ...CurrentFigureProps },
  required: ['id', 'name', 'brokers', ...PERIOD_KEYS, ...CURRENT_KEYS],
} as const;

const BrokerRowSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    name: { type: 'string' },
    active: { type: 'boolean' },
    teamId: NStr,
    teamName: NStr,
    branchId: NStr,
    branchName: NStr,
    ...PeriodFigureProps,
    ...CurrentFigureProps,
  },
  required: ['id', 'name', 'active', 'teamId', 'teamName', 'branchId', 'branchName', ...PERIOD_KEYS, ...CURRENT_KEYS],
} as const;

const ReportSchema = {
  type: 'object',
  properties: {
    scope: {
      type: 'object',
      properties: { kind: { type: 'string', enum: [...SCOPES] }, id: { type: 'string' }, name: { type: 'string' } },
      required: ['kind', 'id', 'name'],
    },
    period: {
      type: 'object',
      properties: {
        from: { type: 'string', format: 'date' },
        to: { type: 'string', format: 'date' },
        bucket: { type: 'string', enum: [...BUCKETS] },
        hours: { type: 'string', enum: [...HOURS], description: 'which hours the first-response times count: trading sessions only, or all hours' },
      },
      required: ['from', 'to', 'bucket', 'hours'],
    },
    generatedAt: { type: 'string', format: 'date-time' },
    total: GroupRowSchema,
    branches: { type: 'array', items: GroupRowSchema },
    teams: { type: 'array', items: GroupRowSchema },
    brokers: { type: 'array', items: BrokerRowSchema },
    series: {
      type: 'array',
      items: {
        type: 'object',
        properties: { bucket: { type: 'string', format: 'date', description: 'first day of the bucket' }, ...PeriodFigureProps },
        required: ['bucket', ...PERIOD_KEYS],
      },
    },
  },
  required: ['scope', 'period', 'generatedAt', 'total', 'branches', 'teams', 'brokers', 'series'],
} as const;

const QualityQuery = {
  type: 'object',
  properties: {
    scope: { type: 'string', enum: [...SCOPES], description: 'default: the caller’s default scope (GET /api/service/scopes)' },
    id: { type: 'string', pattern: `^${UUID_RE}$`, description: 'the broker, team or branch (not for firm; a broker may leave it out for its own figures)' },
    from: { type: 'string', maxLength: 32, description: 'first day, YYYY-MM-DD (Asia/Shanghai); default: 29 days before `to`' },
    to: { type: 'string', maxLength: 32, description: 'last day, YYYY-MM-DD; default: today' },
    bucket: { type: 'string', maxLength: 16, description: `day, week or month (default day); at most ${MAX_PERIOD_DAYS} days in all` },
    hours: { type: 'string', maxLength: 16, description: 'trading (default) or all: the hours first-response times are counted in' },
  },
  additionalProperties: false,
} as const;

const ScopesSchema = {
  type: 'object',
  properties: {
    self: { type: ['object', 'null'], properties: { id: { type: 'string' }, displayName: { type: 'string' } }, required: ['id', 'displayName'] },
    firm: { type: ['object', 'null'], properties: { id: { type: 'string' }, name: { type: 'string' } }, required: ['id', 'name'] },
    branches: {
      type: 'array',
      items: { type: 'object', properties: { id: { type: 'string' }, code: { type: 'string' }, name: { type: 'string' } }, required: ['id', 'code', 'name'] },
    },
    teams: {
      type: 'array',
      items: {
        type: 'object',
        properties: { id: { type: 'string' }, code: { type: 'string' }, name: { type: 'string' }, branchId: { type: 'string' } },
        required: ['id', 'code', 'name', 'branchId'],
      },
    },
    default: {
      type: ['object', 'null'],
      properties: { scope: { type: 'string', enum: [...SCOPES] }, id: { type: 'string' } },
      required: ['scope', 'id'],
    },
  },
  required: ['self', 'firm', 'branches', 'teams', 'default'],
} as const;

interface QualityQueryT {
  scope?: ScopeKind;
  id?: string;
  from?: string;
  to?: string;
  bucket?: string;
  hours?: string;
}

export default async function serviceRoutes(scope: FastifyInstance, d: AppDeps): Promise<void> {
  const app = typed(scope);
  app.addHook('preHandler', authenticate(d.tokens));
  const scopes = new QualityScopes(d.db.db);
  const quality = new QualityService(d.db.db);

  /** One report for both answers (JSON and CSV): the period checked first, then the scope. */
  const report = async (p: FastifyRequest['principal'], q: QualityQueryT): Promise<QualityReport> => {
    const now = new Date();
    const period = parsePeriod(q, now);
    const v = await scopes.viewable(p);
    const kind = q.scope ?? v.default?.scope ?? 'broker';
    const id = q.id ?? (q.scope ? undefined : v.default?.id);
    const scope = await scopes.resolve(p, kind, id, v);
    return quality.report(scope, period, { now });
  };

  app.get(
    '/api/service/quality',
    {
      schema: {
        tags: ['service'],
        summary: 'Service quality (服务质量): per broker, team and branch of a scope, and per day / week / month of a period',
        description:
          'First-response p50/p90 (trading or all hours, `period.hours` says which) and answers, waiting clients, coverage of the book, recommendations, ' +
          'tasks, follow-ups, complaints and satisfaction, computed from the stored rows (docs/service.md). Brokers: their own figures; managers: the ' +
          'teams they lead and the branch they head; admin and compliance: the firm. Else QIAO_SERVICE_SCOPE_FORBIDDEN; a bad period: QIAO_SERVICE_RANGE_INVALID.',
        security: bearerSecurity,
        querystring: QualityQuery,
        response: { 200: ReportSchema, ...errors(400, 401, 403) },
      },
    },
    async (req) => report(req.principal, req.query),
  );

  app.get(
    '/api/service/quality.csv',
    {
      schema: {
        tags: ['service'],
        summary: 'The same service-quality report as CSV (UTF-8 with BOM; one row per total, branch, team, broker and bucket)',
        description: `Columns: ${QUALITY_CSV_HEADER.join(' | ')}. Same query, checks and codes as GET /api/service/quality.`,
        security: bearerSecurity,
        produces: ['text/csv'],
        querystring: QualityQuery,
        response: { 200: { type: 'string', description: 'CSV text' }, ...errorsAsJson(400, 401, 403) },
      },
    },
    async (req, reply) => {
      const r = await report(req.principal, req.query);
      const name = `service-quality-${r.scope.kind}-${r.period.from}-${r.period.to}.csv`;
      reply.header('content-type', 'text/csv; charset=utf-8').header('content-disposition', `attachment; filename="${name}"`);
      return reply.send(qualityCsv(r));
    },
  );

  app.get(
    '/api/service/scopes',
    {
      schema: {
        tags: ['service'],
        summary: 'The service-quality scopes the caller may view (own figures, teams, branches, the firm) and the one it opens with',
        security: bearerSecurity,
        response: { 200: ScopesSchema, ...errors(401) },
      },
    },
    async (req) => scopes.viewable(req.principal),
  );
}
