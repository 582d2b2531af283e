/**
 * A manager's view of the team: per broker, the workstation's numbers summed (conversations, unread
 * backlog, clients waiting for an answer and the longest wait). Managers see the brokers of the teams
 * they lead; admin and compliance every team of their firm, or one (`teamId`). Anyone else: QIAO_FORBIDDEN.
 */
import type { FastifyInstance } from 'fastify';
import { UUID_RE } from '../../channels/family.ts';
import type { AppDeps } from '../deps.ts';
import { QiaoError } from '../errors/codes.ts';
import { authenticate, bearerSecurity } from './auth-hook.ts';
import { errors } from './schemas.ts';
import { typed } from './type-provider.ts';

const BrokerOverview = {
  type: 'object',
  properties: {
    brokerId: { type: 'string' },
    displayName: { type: 'string' },
    teamId: { type: 'string' },
    teamName: { type: 'string' },
    clients: { type: 'integer', description: 'clients assigned or shared to the broker' },
    openConversations: { type: 'integer', description: 'of those, clients with a conversation' },
    unreadBacklog: { type: 'integer', description: 'client chat messages the broker has not read' },
    waitingClients: { type: 'integer', description: 'clients whose last message has no answer from the broker side yet' },
    oldestWaiting: {
      type: ['object', 'null'],
      properties: { clientId: { type: 'string' }, displayName: { type: 'string' }, since: { type: 'string', format: 'date-time' } },
      required: ['clientId', 'displayName', 'since'],
    },
  },
  required: ['brokerId', 'displayName', 'teamId', 'teamName', 'clients', 'openConversations', 'unreadBacklog', 'waitingClients', 'oldestWaiting'],
} as const;

export default async function teamRoutes(scope: FastifyInstance, d: AppDeps): Promise<void> {
  const app = typed(scope);
  app.addHook('preHandler', authenticate(d.tokens));

  app.get(
    '/api/team/overview',
    {
      schema: {
        tags: ['conversations'],
        summary: 'Team overview: per broker, open conversations, unread backlog, waiting clients and the longest wait',
        description: 'Managers: the brokers of the teams they lead (`teamId`: one of them). Admin and compliance: every team of the firm, or one (`teamId`).',
        security: bearerSecurity,
        querystring: {
          type: 'object',
          properties: { teamId: { type: 'string', pattern: `^${UUID_RE}$` } },
          additionalProperties: false,
        },
        response: {
          200: { type: 'object', properties: { brokers: { type: 'array', items: BrokerOverview }, generatedAt: { type: 'string', format: 'date-time' } }, required: ['brokers', 'generatedAt'] },
          ...errors(400, 401, 403, 404),
        },
      },
    },
    async (req) => {
      const p = req.principal;
      const { teamId } = req.query;
      if (p.role !== 'manager' && p.role !== 'admin' && p.role !== 'compliance') {
        throw new QiaoError('QIAO_FORBIDDEN', 'Only managers, compliance and admin see the team overview');
      }
      const teams = await d.conversations.teams(p.firmId);
      let teamIds: string[] | undefined;
      if (p.role === 'manager') {
        const led = teams.filter((t) => t.managerId === p.id).map((t) => t.id);
        if (teamId && !led.includes(teamId)) throw new QiaoError('QIAO_FORBIDDEN', 'You do not lead this team');
        teamIds = teamId ? [teamId] : led;
      } else if (teamId) {
        if (!teams.some((t) => t.id === teamId)) throw new QiaoError('QIAO_NOT_FOUND', 'No such team in your firm');
        teamIds = [teamId];
      }
      return { brokers: await d.conversations.teamOverview({ firmId: p.firmId, teamIds }), generatedAt: new Date().toISOString() };
    },
  );
}
