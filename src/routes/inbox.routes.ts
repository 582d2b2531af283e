/** The in-app inbox: items with unread/read/archived state, and server-side counts. */
import type { FastifyInstance } from 'fastify';
import type { AppDeps } from '../deps.ts';
import { QiaoError } from '../errors/codes.ts';
import type { InboxState } from '../store/inbox-repo.ts';
import { authenticate, bearerSecurity } from './auth-hook.ts';
import { PublicationSchema, errors } from './schemas.ts';
import { typed } from './type-provider.ts';

const MessageIdParam = {
  type: 'object',
  properties: { messageId: { type: 'string', format: 'uuid' } },
  required: ['messageId'],
} as const;

const Counts = {
  type: 'object',
  properties: { unread: { type: 'integer' }, read: { type: 'integer' }, archived: { type: 'integer' } },
  required: ['unread', 'read', 'archived'],
} as const;

const Item = {
  type: 'object',
  properties: {
    messageId: { type: 'string' },
    channel: { type: 'string' },
    state: { type: 'string', enum: ['unread', 'read', 'archived'] },
    createdAt: { type: 'string', format: 'date-time' },
    publication: PublicationSchema,
  },
} as const;

export default async function inboxRoutes(scope: FastifyInstance, d: AppDeps): Promise<void> {
  const app = typed(scope);
  app.addHook('preHandler', authenticate(d.tokens));
  const inbox = d.delivery.inbox;

  app.get(
    '/api/inbox',
    {
      schema: {
        tags: ['inbox'],
        summary: 'My inbox, newest first (default: unread and read; archived only when asked)',
        security: bearerSecurity,
        querystring: {
          type: 'object',
          properties: {
            state: { type: 'string', enum: ['unread', 'read', 'archived'] },
            limit: { type: 'integer', minimum: 1, maximum: 200, default: 50 },
            before: { type: 'string', format: 'date-time', description: 'createdAt of the last item of the previous page' },
          },
          additionalProperties: false,
        },
        response: {
          200: { type: 'object', properties: { items: { type: 'array', items: Item }, nextBefore: { type: ['string', 'null'] } } },
          ...errors(400, 401),
        },
      },
    },
    async (req) => {
      const q = req.query;
      const items = await inbox.list(req.principal.id, { state: q.state, limit: q.limit, before: q.before ? new Date(q.before) : undefined });
      return { items, nextBefore: items.length === q.limit ? items[items.length - 1].createdAt : null };
    },
  );

  app.get(
    '/api/inbox/counts',
    { schema: { tags: ['inbox'], summary: 'Unread, read and archived counts', security: bearerSecurity, response: { 200: Counts, ...errors(401) } } },
    async (req) => inbox.counts(req.principal.id),
  );

  for (const action of ['read', 'archive'] as const) {
    app.post(
      `/api/inbox/:messageId/${action}`,
      {
        schema: {
          tags: ['inbox'],
          summary: action === 'read' ? 'Mark an item read (the read receipt: stops escalation)' : 'Archive an item (also counts as read)',
          security: bearerSecurity,
          params: MessageIdParam,
          response: {
            200: { type: 'object', properties: { messageId: { type: 'string' }, state: { type: 'string' }, counts: Counts } },
            ...errors(400, 401, 404),
          },
        },
      },
      async (req) => {
        const { messageId } = req.params;
        const state = await inbox.setState(req.principal.id, messageId, action === 'read' ? 'read' : 'archived');
        if (!state) throw new QiaoError('QIAO_NOT_FOUND', 'No such item in your inbox');
        return { messageId, state, counts: await inbox.counts(req.principal.id) };
      },
    );
  }
}
