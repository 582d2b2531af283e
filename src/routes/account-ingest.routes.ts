/**
 * Ingest from the trading and back-office systems (docs/account-events.md), authenticated per source
 * by API key (`X-API-Key`; QIAO_INGEST_SOURCES names each source's keys). The key is checked before
 * the body is read, in constant time against every configured key; a missing or unknown key is
 * QIAO_API_KEY_INVALID (401).
 *
 * - POST /api/ingest/account-events: one account event → 201 (new) or 200 (same id and body again).
 * - POST /api/ingest/account-events/batch: up to 500 events, each answered on its own (status, and
 *   the result or the error code), in the order sent.
 * - PUT /api/ingest/positions/:accountNo: the client's daily positions snapshot, replacing the old one.
 * - POST /api/ingest/corporate-actions: a corporate action with its key dates.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { SYMBOL_RE } from '../../channels/family.ts';
import { MAX_ACCOUNT_EVENTS_PER_BATCH } from '../account/account-events.ts';
import type { AppDeps } from '../deps.ts';
import { QiaoError } from '../errors/codes.ts';
import { ErrorBodyRef, errors } from './schemas.ts';
import { typed } from './type-provider.ts';

declare module 'fastify' {
  interface FastifyRequest {
    ingestSource: string;
  }
}

const digest = (s: string) => createHash('sha256').update(s).digest();

/**
 * The source whose key this is. Digests of equal length are compared in constant time against every
 * configured key, without an early exit, so timing says neither which key nor how much of it matched.
 */
export function sourceOfKey(given: unknown, sources: ReadonlyArray<{ source: string; key: string }>): string | null {
  if (typeof given !== 'string' || given.length === 0 || given.length > 256) return null;
  const a = digest(given);
  let found: string | null = null;
  for (const s of sources) if (timingSafeEqual(a, digest(s.key))) found = s.source;
  return found;
}

const Accepted = {
  type: 'object',
  properties: {
    eventId: { type: 'string' },
    status: { type: 'integer', enum: [200, 201] },
    channel: { type: 'string' },
    id: { type: 'string', description: 'message id' },
    offset: { type: 'integer' },
    duplicate: { type: 'boolean' },
  },
  required: ['eventId', 'status', 'channel', 'id', 'offset', 'duplicate'],
} as const;

const EventBody = {
  type: 'object',
  description: 'An account event: id, type, accountNo, time, and the fields of its type (docs/account-events.md)',
  properties: {
    id: { type: 'string' },
    type: { type: 'string', enum: ['order.filled', 'order.partly-filled', 'order.rejected', 'order.cancelled', 'margin-call', 'liquidation-warning', 'funds.in', 'funds.out'] },
    accountNo: { type: 'string' },
    time: { type: 'string' },
  },
  required: ['id', 'type', 'accountNo', 'time'],
} as const;

const ActionView = {
  type: 'object',
  properties: {
    id: { type: 'string', format: 'uuid' },
    source: { type: 'string' },
    eventId: { type: 'string' },
    type: { type: 'string' },
    symbol: { type: 'string' },
    title: { type: 'string' },
    dates: { type: 'object', additionalProperties: { type: 'string' } },
    notified: { type: 'integer' },
    createdAt: { type: 'string', format: 'date-time' },
  },
  required: ['id', 'source', 'eventId', 'type', 'symbol', 'title', 'dates', 'notified', 'createdAt'],
} as const;
export { ActionView };

export default async function accountIngestRoutes(scope: FastifyInstance, d: AppDeps): Promise<void> {
  const app = typed(scope);
  app.decorateRequest('ingestSource', '');
  app.addHook('onRequest', async (req: FastifyRequest) => {
    const source = sourceOfKey(req.headers['x-api-key'], d.config.ingestSources);
    if (!source) throw new QiaoError('QIAO_API_KEY_INVALID');
    req.ingestSource = source;
  });
  const svc = d.account;

  app.post(
    '/api/ingest/account-events',
    {
      schema: {
        tags: ['ingest'],
        summary: 'A trading or back-office system posts one account event (fill, rejection, margin call, funds…)',
        security: [{ apiKey: [] }],
        body: EventBody,
        response: { 201: Accepted, 200: Accepted, ...errors(400, 401, 404, 409, 413, 422, 503) },
      },
    },
    async (req, reply) => {
      const r = await svc.events.ingest(req.ingestSource, req.body);
      reply.code(r.status);
      return r;
    },
  );

  app.post(
    '/api/ingest/account-events/batch',
    {
      // 500 events of a few hundred bytes.
      bodyLimit: 512 * 1024,
      schema: {
        tags: ['ingest'],
        summary: 'A batch of account events, each answered on its own, in the order sent',
        security: [{ apiKey: [] }],
        body: {
          type: 'object',
          properties: { events: { type: 'array', minItems: 1, maxItems: MAX_ACCOUNT_EVENTS_PER_BATCH, items: { type: 'object' } } },
          required: ['events'],
          additionalProperties: false,
        },
        response: {
          200: {
            type: 'object',
            properties: {
              results: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: { ...Accepted.properties, status: { type: 'integer' }, error: ErrorBodyRef },
                  required: ['eventId', 'status'],
                },
              },
            },
            required: ['results'],
          },
          ...errors(400, 401, 413, 503),
        },
      },
    },
    async (req) => ({ results: await svc.events.ingestBatch(req.ingestSource, req.body.events) }),
  );

  app.put(
    '/api/ingest/positions/:accountNo',
    {
      bodyLimit: 1024 * 1024,
      schema: {
        tags: ['ingest'],
        summary: "The back office posts a client's daily positions snapshot; it replaces the client's positions atomically",
        security: [{ apiKey: [] }],
        params: { type: 'object', properties: { accountNo: { type: 'string', pattern: '^[0-9A-Za-z-]{4,32}$' } }, required: ['accountNo'] },
        body: {
          type: 'object',
          properties: {
            asOf: { type: 'string', format: 'date-time' },
            positions: {
              type: 'array',
              maxItems: 5000,
              items: {
                type: 'object',
                properties: { symbol: { type: 'string', pattern: SYMBOL_RE.source }, qty: { type: 'integer', minimum: 0, maximum: 1e12 } },
                required: ['symbol', 'qty'],
                additionalProperties: false,
              },
            },
          },
          required: ['asOf', 'positions'],
          additionalProperties: false,
        },
        response: {
          200: { type: 'object', properties: { accountNo: { type: 'string' }, clientId: { type: 'string' }, positions: { type: 'integer' } }, required: ['accountNo', 'clientId', 'positions'] },
          ...errors(400, 401, 404, 413, 422, 503),
        },
      },
    },
    async (req) => {
      const { accountNo } = req.params;
      const body = req.body;
      const seen = new Set<string>();
      for (const p of body.positions) {
        if (!d.securities.get(p.symbol)) throw new QiaoError('QIAO_SECURITY_NOT_FOUND', `${p.symbol} is not in the securities directory; nothing was stored`);
        if (seen.has(p.symbol)) throw new QiaoError('QIAO_BAD_REQUEST', `${p.symbol} appears twice; nothing was stored`);
        seen.add(p.symbol);
      }
      const clientId = await svc.events.clientByAccount(accountNo);
      const n = await svc.positions.replaceSnapshot(clientId, body.positions, new Date(body.asOf));
      return { accountNo, clientId, positions: n };
    },
  );

  app.post(
    '/api/ingest/corporate-actions',
    {
      schema: {
        tags: ['ingest'],
        summary: 'The back office posts a corporate action (rights issue, IPO, warrant exercise, dividend, suspension…) with its key dates',
        security: [{ apiKey: [] }],
        body: { type: 'object', properties: { id: { type: 'string' }, type: { type: 'string' }, symbol: { type: 'string' }, dates: { type: 'object' } }, required: ['id', 'type', 'symbol', 'dates'] },
        response: {
          201: { type: 'object', properties: { action: ActionView, duplicate: { type: 'boolean' } }, required: ['action', 'duplicate'] },
          200: { type: 'object', properties: { action: ActionView, duplicate: { type: 'boolean' } }, required: ['action', 'duplicate'] },
          ...errors(400, 401, 404, 409, 413, 422, 503),
        },
      },
    },
    async (req, reply) => {
      const r = await svc.actions.ingest(req.ingestSource, req.body);
      reply.code(r.duplicate ? 200 : 201);
      return r;
    },
  );
}
