/**
 * Delivery tracking and the dead-letter lists:
 * - GET /api/deliveries?messageId= — per-recipient, per-transport statuses of one message, for its
 *   sender, compliance and admin;
 * - GET /api/admin/dead-letters?queue=, POST /api/admin/dead-letters/:queue/:id/replay — admin only.
 */
import { TRACKED_TRANSPORTS } from '../domain/routing.ts';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AppDeps } from '../deps.ts';
import { QiaoError } from '../errors/codes.ts';
import { QUEUES } from '../queue/jobs.ts';
import { authenticate, bearerSecurity } from './auth-hook.ts';
import { errors } from './schemas.ts';
import { typed } from './type-provider.ts';

const QUEUE_NAMES = Object.keys(QUEUES) as Array<keyof typeof QUEUES>;

function requireAdmin(req: FastifyRequest): void {
  if (req.principal.role !== 'admin') throw new QiaoError('QIAO_FORBIDDEN', 'Administrators only');
}

const DeadLetter = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    queue: { type: 'string' },
    name: { type: 'string' },
    data: {},
    reason: { type: 'string' },
    attempts: { type: 'integer' },
    failedAt: { type: 'string' },
  },
} as const;

const STATUSES = ['queued', 'held', 'sending', 'sent', 'delivered', 'read', 'failed', 'suppressed'] as const;
const TRACKED = TRACKED_TRANSPORTS;

/** One delivery row (DeliveriesRepo.listByMessage). */
const DeliveryRowSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    userId: { type: 'string' },
    login: { type: 'string' },
    transport: { type: 'string', enum: TRACKED },
    status: { type: 'string', enum: STATUSES },
    reason: { type: ['string', 'null'] },
    attempts: { type: 'integer' },
    dueAt: { type: ['string', 'null'], format: 'date-time' },
    lastError: { type: ['string', 'null'] },
    updatedAt: { type: 'string', format: 'date-time' },
  },
  required: ['id', 'userId', 'login', 'transport', 'status', 'reason', 'attempts', 'dueAt', 'lastError', 'updatedAt'],
} as const;

const DeliveriesView = {
  type: 'object',
  properties: {
    messageId: { type: 'string' },
    channel: { type: 'string' },
    summary: {
      type: 'object',
      description: 'row counts by transport, then by status (only transports and statuses that occur)',
      properties: Object.fromEntries(TRACKED.map((t) => [t, { type: 'object', properties: Object.fromEntries(STATUSES.map((s) => [s, { type: 'integer' }])) }])),
    },
    deliveries: { type: 'array', items: DeliveryRowSchema },
    nextAfter: { type: ['string', 'null'], description: 'pass as `after` for the next page' },
  },
  required: ['messageId', 'channel', 'summary', 'deliveries', 'nextAfter'],
} as const;

export default async function deliveryRoutes(scope: FastifyInstance, d: AppDeps): Promise<void> {
  const app = typed(scope);
  app.addHook('preHandler', authenticate(d.tokens));
  const { deliveries, recipients } = d.delivery;

  app.get(
    '/api/deliveries',
    {
      schema: {
        tags: ['deliveries'],
        summary: "Delivery statuses of one message (its sender, compliance or admin): queued, held, sending, sent, delivered, read, failed, suppressed — with the reason",
        description: 'Live web delivery is not tracked per recipient (the socket protocol has offsets for that); inbox, email and push are.',
        security: bearerSecurity,
        querystring: {
          type: 'object',
          properties: {
            messageId: { type: 'string', format: 'uuid' },
            limit: { type: 'integer', minimum: 1, maximum: 1000, default: 200 },
            after: { type: 'string', format: 'uuid', description: 'last delivery id of the previous page' },
          },
          required: ['messageId'],
          additionalProperties: false,
        },
        response: { 200: DeliveriesView, ...errors(400, 401, 403, 404) },
      },
    },
    async (req) => {
      const q = req.query;
      const msg = await recipients.message(q.messageId);
      if (!msg) throw new QiaoError('QIAO_NOT_FOUND', 'No such message');
      const p = req.principal;
      if (msg.senderId !== p.id && p.role !== 'admin' && p.role !== 'compliance') throw new QiaoError('QIAO_FORBIDDEN', 'Only the sender, compliance or an administrator may see deliveries');
      const [rows, summary] = await Promise.all([deliveries.listByMessage(q.messageId, { limit: q.limit, afterId: q.after }), deliveries.summary(q.messageId)]);
      return {
        messageId: q.messageId,
        channel: msg.channel,
        summary,
        deliveries: rows.map((r) => ({ ...r, dueAt: r.dueAt?.toISOString() ?? null, updatedAt: r.updatedAt.toISOString() })),
        nextAfter: rows.length === q.limit ? rows[rows.length - 1].id : null,
      };
    },
  );

  app.get(
    '/api/admin/dead-letters',
    {
      schema: {
        tags: ['admin'],
        summary: 'Jobs that failed for good (unrecoverable input, or out of retries), with the reason',
        security: bearerSecurity,
        querystring: {
          type: 'object',
          properties: { queue: { type: 'string', enum: QUEUE_NAMES }, limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 } },
          required: ['queue'],
          additionalProperties: false,
        },
        response: { 200: { type: 'object', properties: { queue: { type: 'string' }, deadLetters: { type: 'array', items: DeadLetter } } }, ...errors(400, 401, 403) },
      },
    },
    async (req) => {
      requireAdmin(req);
      const q = req.query;
      return { queue: q.queue, deadLetters: await d.queue.deadLetters(QUEUES[q.queue], q.limit) };
    },
  );

  app.post(
    '/api/admin/dead-letters/:queue/:id/replay',
    {
      schema: {
        tags: ['admin'],
        summary: 'Run a dead-lettered job again, with a fresh set of attempts (deliveries already sent are not resent)',
        security: bearerSecurity,
        params: {
          type: 'object',
          properties: { queue: { type: 'string', enum: QUEUE_NAMES }, id: { type: 'string', minLength: 1, maxLength: 200 } },
          required: ['queue', 'id'],
        },
        response: { 202: { type: 'object', properties: { queue: { type: 'string' }, id: { type: 'string' }, replayed: { type: 'boolean' } } }, ...errors(400, 401, 403, 404) },
      },
    },
    async (req, reply) => {
      requireAdmin(req);
      const { queue, id } = req.params;
      const ok = await d.queue.replay(QUEUES[queue], id);
      await d.audit.append({ actorId: req.principal.id, action: 'dead-letter.replay', target: `${queue}/${id}`, outcome: ok ? 'ok' : 'refused' });
      if (!ok) throw new QiaoError('QIAO_NOT_FOUND', 'No such dead letter');
      reply.code(202);
      return { queue, id, replayed: true };
    },
  );
}
