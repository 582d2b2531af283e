/**
 * Market-data feed ingest, authenticated by API key (`X-API-Key`), not by user token.
 * An alert with a symbol goes to `alerts.<symbol>`, one without to `alerts.market`.
 */
import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Principal } from '../auth/principal.ts';
import type { AppDeps } from '../deps.ts';
import { QiaoError } from '../errors/codes.ts';
import marketIngestRoutes from './market-ingest.routes.ts';
import { PublishedSchema, errors } from './schemas.ts';
import { typed } from './type-provider.ts';

const FEED: Principal = { id: 'feed', role: 'feed', displayName: 'Market data feed' };

function keyMatches(given: unknown, expected: string): boolean {
  if (typeof given !== 'string') return false;
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

export default async function ingestRoutes(scope: FastifyInstance, d: AppDeps): Promise<void> {
  const app = typed(scope);
  // onRequest: the key is checked before the body is read or validated (an unauthenticated caller
  // learns nothing about the schema and cannot make the server parse a 1 MB tick batch).
  app.addHook('onRequest', async (req: FastifyRequest) => {
    if (!keyMatches(req.headers['x-api-key'], d.config.feedApiKey)) throw new QiaoError('QIAO_API_KEY_INVALID');
  });

  app.post(
    '/api/ingest/alerts',
    {
      schema: {
        tags: ['ingest'],
        summary: 'Market-data feed posts an alert (per symbol or market-wide)',
        security: [{ apiKey: [] }],
        body: { type: 'object' },
        response: { 201: PublishedSchema, 200: PublishedSchema, ...errors(400, 401, 413, 503) },
      },
    },
    async (req, reply) => {
      const body = req.body;
      const channel = body.symbol === undefined ? 'alerts.market' : `alerts.${String(body.symbol)}`;
      const key = req.headers['idempotency-key'];
      const { pub, duplicate } = await d.publisher.publish(FEED, {
        channel,
        kind: 'alert',
        payload: req.body,
        idempotencyKey: typeof key === 'string' ? key : undefined,
      });
      reply.code(duplicate ? 200 : 201);
      return { channel: pub.channel, id: pub.id, offset: pub.offset, duplicate };
    },
  );

  // Ticks (price alerts) and corporate events, under the same API-key check.
  await marketIngestRoutes(app, d);
}
