/**
 * Client list and search (GET /api/clients), scoped like conversations: a broker sees its own and
 * shared clients, a manager the clients whose primary broker is in a team it leads, admin and
 * compliance every client of the firm; clients and research get QIAO_FORBIDDEN. Asking for another
 * broker's clients (brokerId) outside one's scope is QIAO_FORBIDDEN too.
 */
import { sql, type SQL } from 'drizzle-orm';
import type { FastifyInstance } from 'fastify';
import { UUID_RE } from '../../channels/family.ts';
import type { AppDeps } from '../deps.ts';
import { ASSESSMENT_VALID_DAYS } from '../domain/suitability.ts';
import { QiaoError } from '../errors/codes.ts';
import { rows } from '../store/db.ts';
import { authenticate, bearerSecurity } from './auth-hook.ts';
import { errors } from './schemas.ts';
import { typed } from './type-provider.ts';

const Uuid = { type: 'string', pattern: `^${UUID_RE}$` } as const;

const ClientItem = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    login: { type: 'string' },
    displayName: { type: 'string' },
    tier: { type: 'string', enum: ['general', 'hnw', 'institutional'] },
    riskLevel: { type: ['string', 'null'] },
    riskAssessedOn: { type: ['string', 'null'] },
    riskExpiresOn: { type: ['string', 'null'], description: 'when the assessment stops being valid (set, or two years after it was made)' },
    professionalInvestor: { type: 'boolean' },
    branchId: { type: ['string', 'null'] },
    active: { type: 'boolean' },
    primaryBroker: { type: ['object', 'null'], properties: { id: { type: 'string' }, displayName: { type: 'string' } }, required: ['id', 'displayName'] },
  },
  required: ['id', 'login', 'displayName', 'tier', 'riskLevel', 'riskAssessedOn', 'riskExpiresOn', 'professionalInvestor', 'branchId', 'active', 'primaryBroker'],
} as const;

interface Query {
  q?: string;
  brokerId?: string;
  branchId?: string;
  tier?: string;
  riskLevel?: string;
  assessmentExpiresWithinDays?: number;
  limit: number;
  cursor?: string;
}

interface Row {
  id: string;
  login: string;
  display_name: string;
  tier: string;
  risk_level: string | null;
  risk_assessed_on: string | Date | null;
  risk_expires_on: string | Date | null;
  professional_investor: boolean;
  branch_id: string | null;
  active: boolean;
  primary_id: string | null;
  primary_name: string | null;
}

const day = (v: string | Date | null): string | null => (v == null ? null : typeof v === 'string' ? v.slice(0, 10) : v.toISOString().slice(0, 10));

export default async function clientListRoutes(scope: FastifyInstance, d: AppDeps): Promise<void> {
  const app = typed(scope);
  app.get(
    '/api/clients',
    {
      preHandler: authenticate(d.tokens),
      schema: {
        tags: ['assignment'],
        summary: 'List and search clients in one’s scope (broker: own and shared; manager: team’s; admin, compliance: all)',
        description:
          '`q` matches login or name; `assessmentExpiresWithinDays`: risk assessment expired or expiring within that many days. ' +
          'Ordered by login; pass `nextCursor` back as `cursor` for the next page.',
        security: bearerSecurity,
        querystring: {
          type: 'object',
          properties: {
            q: { type: 'string', maxLength: 64 },
            brokerId: Uuid,
            branchId: Uuid,
            tier: { type: 'string', enum: ['general', 'hnw', 'institutional'] },
            riskLevel: { type: 'string', enum: ['C1', 'C2', 'C3', 'C4', 'C5'] },
            assessmentExpiresWithinDays: { type: 'integer', minimum: 0, maximum: 3660 },
            limit: { type: 'integer', minimum: 1, maximum: 200, default: 50 },
            cursor: { type: 'string', maxLength: 128, pattern: '^[A-Za-z0-9_-]*$' },
          },
          additionalProperties: false,
        },
        response: {
          200: { type: 'object', properties: { clients: { type: 'array', items: ClientItem }, nextCursor: { type: ['string', 'null'] } }, required: ['clients', 'nextCursor'] },
          ...errors(400, 401, 403),
        },
      },
    },
    async (req) => {
      const p = req.principal;
      const f = req.query;
      const conds: SQL[] = [sql`u.role = 'client'`, sql`u.firm_id = ${p.firmId ?? null}`];
      switch (p.role) {
        case 'admin':
        case 'compliance':
          break;
        case 'broker':
          if (f.brokerId && f.brokerId !== p.id) throw new QiaoError('QIAO_FORBIDDEN', 'A broker lists only its own and shared clients');
          conds.push(sql`exists (select 1 from broker_clients bc where bc.client_id = u.id and bc.broker_id = ${p.id})`);
          break;
        case 'manager': {
          const led = sql`(select t.id from teams t where t.manager_id = ${p.id})`;
          if (f.brokerId) {
            const [ok] = await rows<{ x: number }>(d.db.db, sql`select 1 as x from users b where b.id = ${f.brokerId} and b.team_id in ${led}`);
            if (!ok) throw new QiaoError('QIAO_FORBIDDEN', 'A manager lists the clients of its own teams’ brokers');
          }
          conds.push(sql`exists (select 1 from broker_clients bc join users b on b.id = bc.broker_id where bc.client_id = u.id and bc.relation = 'primary' and b.team_id in ${led})`);
          break;
        }
        default:
          throw new QiaoError('QIAO_FORBIDDEN', 'Only staff who serve clients may list them');
      }
      if (f.brokerId) conds.push(sql`exists (select 1 from broker_clients bc2 where bc2.client_id = u.id and bc2.broker_id = ${f.brokerId})`);
      if (f.branchId) conds.push(sql`u.branch_id = ${f.branchId}`);
      if (f.tier) conds.push(sql`u.tier = ${f.tier}`);
      if (f.riskLevel) conds.push(sql`u.risk_level = ${f.riskLevel}`);
      if (f.q) {
        const like = `%${f.q.replace(/[\\%_]/g, (c) => '\\' + c)}%`;
        conds.push(sql`(u.login ilike ${like} or u.display_name ilike ${like})`);
      }
      const expires = sql`coalesce(u.risk_expires_on, u.risk_assessed_on + ${ASSESSMENT_VALID_DAYS}::int)`;
      if (f.assessmentExpiresWithinDays !== undefined) {
        // Dates are Asia/Shanghai calendar days, as in the suitability rule.
        conds.push(sql`(u.risk_assessed_on is null or ${expires} <= (now() at time zone 'Asia/Shanghai')::date + ${f.assessmentExpiresWithinDays}::int)`);
      }
      if (f.cursor) conds.push(sql`u.login > ${Buffer.from(f.cursor, 'base64url').toString('utf8')}`);
      const list = await rows<Row>(
        d.db.db,
        sql`select u.id, u.login, u.display_name, u.tier, u.risk_level, u.risk_assessed_on::text as risk_assessed_on, ${expires}::text as risk_expires_on,
                   u.professional_investor, u.branch_id, u.active, pb.id as primary_id, pb.display_name as primary_name
            from users u
            left join broker_clients pr on pr.client_id = u.id and pr.relation = 'primary'
            left join users pb on pb.id = pr.broker_id
            where ${sql.join(conds, sql` and `)}
            order by u.login
            limit ${f.limit + 1}`,
      );
      const more = list.length > f.limit;
      const page = list.slice(0, f.limit);
      return {
        clients: page.map((r) => ({
          id: r.id,
          login: r.login,
          displayName: r.display_name,
          tier: r.tier,
          riskLevel: r.risk_level,
          riskAssessedOn: day(r.risk_assessed_on),
          riskExpiresOn: r.risk_assessed_on == null ? null : day(r.risk_expires_on),
          professionalInvestor: r.professional_investor,
          branchId: r.branch_id,
          active: r.active,
          primaryBroker: r.primary_id ? { id: r.primary_id, displayName: r.primary_name ?? '' } : null,
        })),
        nextCursor: more ? Buffer.from(page[page.length - 1].login, 'utf8').toString('base64url') : null,
      };
    },
  );
}
