/**
 * Account events for people: a client's feed (the client, their brokers, the primary broker's team
 * manager, compliance), the broker's unseen badge counts, positions, and the clients a corporate
 * action affects (scoped like conversations: src/account/account-feed.ts, corporate-actions.ts).
 */
import type { FastifyInstance } from 'fastify';
import type { AppDeps } from '../deps.ts';
import { QiaoError } from '../errors/codes.ts';
import { ActionView } from './account-ingest.routes.ts';
import { authenticate, bearerSecurity } from './auth-hook.ts';
import { PublicationSchema, errors } from './schemas.ts';
import { typed } from './type-provider.ts';

const ClientParam = { type: 'object', properties: { id: { type: 'string', format: 'uuid' } }, required: ['id'] } as const;
const Unseen = {
  type: 'object',
  properties: { clientId: { type: 'string' }, unseen: { type: 'integer' }, topOffset: { type: 'integer' }, seenOffset: { type: 'integer' } },
  required: ['clientId', 'unseen', 'topOffset', 'seenOffset'],
} as const;

export default async function accountEventsRoutes(scope: FastifyInstance, d: AppDeps): Promise<void> {
  const app = typed(scope);
  app.addHook('preHandler', authenticate(d.tokens));
  const { feed, positions, actions } = d.account;

  app.get(
    '/api/clients/:id/account-events',
    {
      schema: {
        tags: ['account'],
        summary: "A client's account events, newest first (the client, their brokers, the primary broker's manager, compliance)",
        security: bearerSecurity,
        params: ClientParam,
        querystring: {
          type: 'object',
          properties: { before: { type: 'integer', minimum: 1, description: 'offset of the oldest event of the previous page' }, limit: { type: 'integer', minimum: 1, maximum: 200, default: 50 } },
          additionalProperties: false,
        },
        response: {
          200: { type: 'object', properties: { events: { type: 'array', items: PublicationSchema }, nextBefore: { type: ['integer', 'null'] } }, required: ['events', 'nextBefore'] },
          ...errors(400, 401, 403, 404),
        },
      },
    },
    async (req) => {
      const { id } = req.params;
      const q = req.query;
      const events = await feed.page(req.principal, id, q);
      const last = events[events.length - 1];
      return { events, nextBefore: events.length === q.limit && last && last.offset > 1 ? last.offset : null };
    },
  );

  app.post(
    '/api/clients/:id/account-events/seen',
    {
      schema: {
        tags: ['account'],
        summary: "Marks the client's account events up to an offset as seen by me (clears the broker's badge)",
        security: bearerSecurity,
        params: ClientParam,
        body: { type: 'object', properties: { offset: { type: 'integer', minimum: 0 } }, required: ['offset'], additionalProperties: false },
        response: { 200: Unseen, ...errors(400, 401, 403, 404) },
      },
    },
    async (req) => feed.markSeen(req.principal, req.params.id, req.body.offset),
  );

  app.get(
    '/api/account-events/unseen',
    {
      schema: {
        tags: ['account'],
        summary: "Unseen account events per client, for the broker's badges (live updates: `account-unseen` signals)",
        security: bearerSecurity,
        response: { 200: { type: 'object', properties: { clients: { type: 'array', items: Unseen } }, required: ['clients'] }, ...errors(401, 403) },
      },
    },
    async (req) => {
      if (req.principal.role !== 'broker') throw new QiaoError('QIAO_FORBIDDEN', 'Badges are for brokers');
      return { clients: await feed.unseen(req.principal.id) };
    },
  );

  app.get(
    '/api/clients/:id/positions',
    {
      schema: {
        tags: ['account'],
        summary: "A client's positions (as of the last snapshot and today's fills), scoped like the account events",
        security: bearerSecurity,
        params: ClientParam,
        response: {
          200: {
            type: 'object',
            properties: { positions: { type: 'array', items: { type: 'object', properties: { symbol: { type: 'string' }, qty: { type: 'integer' }, updatedAt: { type: 'string', format: 'date-time' } }, required: ['symbol', 'qty', 'updatedAt'] } } },
            required: ['positions'],
          },
          ...errors(400, 401, 403, 404),
        },
      },
    },
    async (req) => {
      const { id } = req.params;
      await feed.assertCanRead(req.principal, id);
      return { positions: await positions.forClient(id) };
    },
  );

  app.get(
    '/api/corporate-actions/:id/affected-clients',
    {
      schema: {
        tags: ['account'],
        summary: 'The clients a corporate action affects (holding its symbol now) that I look after',
        security: bearerSecurity,
        params: ClientParam,
        response: {
          200: {
            type: 'object',
            properties: {
              action: ActionView,
              clients: {
                type: 'array',
                items: { type: 'object', properties: { id: { type: 'string' }, displayName: { type: 'string' }, accountNo: { type: ['string', 'null'] }, qty: { type: 'integer' } }, required: ['id', 'displayName', 'accountNo', 'qty'] },
              },
            },
            required: ['action', 'clients'],
          },
          ...errors(400, 401, 403, 404),
        },
      },
    },
    async (req) => actions.affectedClients(req.principal, req.params.id),
  );
}
