/** The channel catalogue, channel history and publishing over REST. */
import type { FastifyInstance } from 'fastify';
import { authorizeSubscribe, listChannels } from '../../channels/catalogue.ts';
import type { AppDeps } from '../deps.ts';
import { QiaoError } from '../errors/codes.ts';
import { authenticate, bearerSecurity } from './auth-hook.ts';
import { ChannelNameParam } from './channel-name.ts';
import { PendingPublishSchema, PublicationPageSchema, PublishedSchema, TitleSchema, errors, IdempotencyKeyHeaders } from './schemas.ts';
import { typed } from './type-provider.ts';

const ChannelEntrySchema = {
  type: 'object',
  properties: {
    name: { type: 'string' },
    family: { type: 'string' },
    title: TitleSchema,
    entitled: { type: 'boolean' },
    canPublish: { type: 'boolean' },
    subscribed: { type: 'boolean' },
  },
  required: ['name', 'family', 'title', 'entitled', 'canPublish', 'subscribed'],
} as const;

export default async function channelRoutes(scope: FastifyInstance, d: AppDeps): Promise<void> {
  const app = typed(scope);
  app.addHook('preHandler', authenticate(d.tokens));

  app.get(
    '/api/channels',
    { schema: { tags: ['channels'], summary: 'Channels I can see, with entitlement and my subscription state', security: bearerSecurity, response: { 200: { type: 'object', properties: { channels: { type: 'array', items: ChannelEntrySchema } }, required: ['channels'] }, ...errors(401) } } },
    async (req) => {
      const [entries, subs] = await Promise.all([listChannels(req.principal, d.users), d.subscriptions.list(req.principal.id)]);
      const subscribed = new Set(subs.map((s) => s.channel));
      const listed = new Set(entries.map((e) => e.name));
      const channels = entries.map((e) => ({ ...e, subscribed: subscribed.has(e.name) }));
      // Subscribed channels outside the static list (e.g. a watchlist symbol) are listed too.
      for (const s of subs) {
        if (listed.has(s.channel)) continue;
        try {
          const r = await authorizeSubscribe(req.principal, s.channel, d.users);
          const pub = await r.family.canPublish(req.principal, r.parsed, d.users);
          channels.push({ name: s.channel, family: r.family.family, title: r.family.title(r.parsed), entitled: true, canPublish: pub === null, subscribed: true });
        } catch {
          // No longer allowed (tier changed): not listed; fanout will not deliver it either.
        }
      }
      return { channels };
    },
  );

  app.get(
    '/api/channels/:channel/history',
    {
      schema: {
        tags: ['channels'],
        summary: 'Stored history of a channel, newest page first (items oldest→newest within a page)',
        security: bearerSecurity,
        params: ChannelNameParam,
        querystring: {
          type: 'object',
          properties: {
            before: { type: 'integer', minimum: 1, description: 'exclusive upper offset bound (for the next page)' },
            limit: { type: 'integer', minimum: 1, maximum: 200, default: 50 },
          },
          additionalProperties: false,
        },
        response: {
          200: PublicationPageSchema,
          ...errors(400, 401, 403, 404),
        },
      },
    },
    async (req) => {
      const { channel } = req.params;
      const q = req.query;
      const r = await authorizeSubscribe(req.principal, channel, d.users);
      const publications = await d.messages.page(r.parsed.name, { before: q.before, limit: q.limit });
      const first = publications[0];
      return { publications, nextBefore: first && first.offset > 1 && publications.length === q.limit ? first.offset : null };
    },
  );

  app.post(
    '/api/channels/:channel/publications',
    {
      schema: {
        tags: ['channels'],
        summary: 'Publish to a channel (authorised per family: e.g. research desk → research.*)',
        description:
          'Send an `Idempotency-Key` header to make retries safe: a repeated key returns the first publication. ' +
          'A firm-wide broadcast (`firm.broadcast`) is not delivered at once: it answers 202 with `{ pending: true, approvalId }` ' +
          'and is delivered when a compliance user approves it (`POST /api/approvals/:id/approve`).',
        security: bearerSecurity,
        params: ChannelNameParam,
        headers: IdempotencyKeyHeaders,
        body: {
          type: 'object',
          properties: { kind: { type: 'string', minLength: 1, maxLength: 32 }, payload: {} },
          required: ['kind', 'payload'],
          additionalProperties: false,
        },
        response: {
          201: PublishedSchema,
          200: PublishedSchema,
          202: PendingPublishSchema,
          ...errors(400, 401, 403, 404, 413, 503),
        },
      },
    },
    async (req, reply) => {
      const { channel } = req.params;
      const body = req.body;
      const key = req.headers['idempotency-key'];
      const out = await d.publisher.submit(req.principal, {
        channel,
        kind: body.kind,
        payload: body.payload,
        idempotencyKey: typeof key === 'string' ? key : undefined,
      });
      if ('pending' in out) {
        reply.code(202);
        return { channel: out.channel, pending: true, approvalId: out.approvalId, duplicate: out.duplicate };
      }
      const { pub, duplicate } = out;
      reply.code(duplicate ? 200 : 201);
      return { channel: pub.channel, id: pub.id, offset: pub.offset, duplicate, ...(out.dlp ? { dlp: out.dlp } : {}) };
    },
  );
}
