/** My subscriptions (persisted, with delivery preferences). Authorised from the channel catalogue. */
import type { FastifyInstance } from 'fastify';
import { authorizeSubscribe, resolveChannel } from '../../channels/catalogue.ts';
import type { AppDeps } from '../deps.ts';
import { QiaoError } from '../errors/codes.ts';
import { authenticate, bearerSecurity } from './auth-hook.ts';
import { ChannelNameParam, ChannelNameSchema } from './channel-name.ts';
import { NoContent, errors } from './schemas.ts';
import { typed } from './type-provider.ts';

/** Most stored subscriptions per user. */
export const MAX_STORED_SUBSCRIPTIONS = 500;

/**
 * A refused name as the audit log can hold it: any string reaches the catalogue (which answers
 * QIAO_CHANNEL_BAD_NAME), but Postgres text cannot store U+0000 or unpaired surrogates, and a
 * 10,000-character name need not be kept whole.
 */
function auditableName(name: string): string {
  const cut = name.length > 256 ? `${name.slice(0, 256)}…` : name;
  return cut.replace(/\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd');
}

const Prefs = {
  type: 'object',
  properties: {
    muted: { type: 'boolean' },
    transports: {
      type: 'object',
      properties: { web: { type: 'boolean' }, inbox: { type: 'boolean' }, email: { type: 'boolean' }, push: { type: 'boolean' } },
      additionalProperties: false,
    },
    digest: { type: 'string', enum: ['immediate', 'hourly', 'daily'] },
  },
  additionalProperties: false,
} as const;

/** Answer to a subscribe: 201 when new, 200 when it existed (its preferences replaced). */
const Subscribed = {
  type: 'object',
  properties: {
    channel: { type: 'string', description: 'the channel name as stored' },
    prefs: { ...Prefs, description: 'the subscription’s preferences as sent ({} when none)' },
    created: { type: 'boolean' },
  },
  required: ['channel', 'prefs', 'created'],
} as const;
const SubscribedResponses = { 200: Subscribed, 201: Subscribed } as const;

export default async function subscriptionRoutes(scope: FastifyInstance, d: AppDeps): Promise<void> {
  const app = typed(scope);
  app.addHook('preHandler', authenticate(d.tokens));

  app.get('/api/subscriptions', { schema: { tags: ['subscriptions'], summary: 'My subscriptions', security: bearerSecurity, response: { 200: { type: 'object', properties: { subscriptions: { type: 'array', items: { type: 'object', properties: { channel: { type: 'string' }, prefs: { type: 'object', additionalProperties: true }, createdAt: { type: 'string', format: 'date-time' } }, required: ['channel', 'prefs', 'createdAt'] } } }, required: ['subscriptions'] }, ...errors(401) } } }, async (req) => ({
    subscriptions: await d.subscriptions.list(req.principal.id),
  }));

  const put = async (userId: string, channel: string, prefs: Record<string, unknown>) => {
    const existing = await d.subscriptions.list(userId);
    if (!existing.some((s) => s.channel === channel) && existing.length >= MAX_STORED_SUBSCRIPTIONS) {
      throw new QiaoError('QIAO_TOO_MANY_SUBSCRIPTIONS', `At most ${MAX_STORED_SUBSCRIPTIONS} subscriptions per user`);
    }
    return d.subscriptions.put(userId, channel, prefs);
  };

  app.put(
    '/api/subscriptions/:channel',
    {
      schema: {
        tags: ['subscriptions'],
        summary: 'Subscribe to a channel (or update its preferences)',
        security: bearerSecurity,
        params: ChannelNameParam,
        body: { anyOf: [{ type: 'null' }, { type: 'object', properties: { prefs: Prefs }, additionalProperties: false }] },
        response: { ...SubscribedResponses, ...errors(400, 401, 403, 404, 429) },
      },
    },
    async (req, reply) => {
      const { channel } = req.params;
      const prefs = (req.body?.prefs ?? {}) as Record<string, unknown>;
      const r = await authorizeSubscribe(req.principal, channel, d.users).catch(async (e) => {
        await d.audit.append({ actorId: req.principal.id, action: 'subscription.create', target: auditableName(channel), outcome: 'refused', detail: { code: e.code } });
        throw e;
      });
      const created = await put(req.principal.id, r.parsed.name, prefs);
      await d.audit.append({ actorId: req.principal.id, action: created ? 'subscription.create' : 'subscription.update', target: r.parsed.name, outcome: 'ok' });
      reply.code(created ? 201 : 200);
      return { channel: r.parsed.name, prefs, created };
    },
  );

  app.post(
    '/api/subscriptions',
    {
      schema: {
        tags: ['subscriptions'],
        summary: 'Subscribe to a channel (same as PUT /api/subscriptions/:channel)',
        security: bearerSecurity,
        body: { type: 'object', properties: { channel: ChannelNameSchema, prefs: Prefs }, required: ['channel'], additionalProperties: false },
        response: { ...SubscribedResponses, ...errors(400, 401, 403, 404, 429) },
      },
    },
    async (req, reply) => {
      const body = req.body;
      const r = await authorizeSubscribe(req.principal, body.channel, d.users);
      const created = await put(req.principal.id, r.parsed.name, body.prefs ?? {});
      await d.audit.append({ actorId: req.principal.id, action: created ? 'subscription.create' : 'subscription.update', target: r.parsed.name, outcome: 'ok' });
      reply.code(created ? 201 : 200);
      return { channel: r.parsed.name, prefs: body.prefs ?? {}, created };
    },
  );

  app.delete(
    '/api/subscriptions/:channel',
    { schema: { tags: ['subscriptions'], summary: 'Unsubscribe', security: bearerSecurity, params: ChannelNameParam, response: { 204: NoContent('Unsubscribed'), ...errors(400, 401, 404) } } },
    async (req, reply) => {
      const { channel } = req.params;
      resolveChannel(channel);
      const removed = await d.subscriptions.remove(req.principal.id, channel);
      if (!removed) throw new QiaoError('QIAO_NOT_FOUND', 'Not subscribed to this channel');
      await d.audit.append({ actorId: req.principal.id, action: 'subscription.delete', target: channel, outcome: 'ok' });
      reply.code(204);
    },
  );
}
