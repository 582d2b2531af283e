/**
 * Market-data feed ingest of ticks and corporate events. Registered inside ingest.routes.ts, so the
 * X-API-Key check of that scope applies.
 *
 * - POST /api/ingest/ticks: a batch of {symbol, price, time?, name?}, evaluated in order against the
 *   price-alert index (src/domain/alert-engine.ts). Answers after the resulting notifications are
 *   published, with how many rules were looked at and fired.
 * - POST /api/ingest/events: IPO, rights issue, dividend, suspension, resumption. Each is published
 *   as an `alert` to `alerts.<symbol>` (IPOs, and events without a symbol, to `alerts.market`). The
 *   feed's event id is the idempotency key, so a re-sent batch publishes nothing twice.
 */
import type { FastifyInstance } from 'fastify';
import { SYMBOL_RE } from '../../channels/family.ts';
import type { Principal } from '../auth/principal.ts';
import type { AppDeps } from '../deps.ts';
import { errors } from './schemas.ts';
import { typed } from './type-provider.ts';

const FEED: Principal = { id: 'feed', role: 'feed', displayName: 'Market data feed' };

export const MAX_TICKS_PER_BATCH = 5000;
export const MAX_EVENTS_PER_BATCH = 100;

export const EVENT_TYPES = ['ipo', 'rights-issue', 'dividend', 'suspension', 'resumption'] as const;
type EventType = (typeof EVENT_TYPES)[number];

const EVENT_LABEL: Record<EventType, string> = {
  ipo: '新股发行',
  'rights-issue': '配股',
  dividend: '分红派息',
  suspension: '停牌',
  resumption: '复牌',
};

interface FeedEvent {
  id: string;
  type: EventType;
  symbol?: string;
  name?: string;
  title?: string;
  body?: string;
  severity?: 'info' | 'warning' | 'critical';
  price?: number;
}

export function eventChannel(e: Pick<FeedEvent, 'type' | 'symbol'>): string {
  // A new listing has no subscribers on its own channel yet: IPOs are market-wide news.
  return e.type === 'ipo' || !e.symbol ? 'alerts.market' : `alerts.${e.symbol}`;
}

export function eventPayload(e: FeedEvent): Record<string, unknown> {
  const who = [e.name, e.symbol].filter(Boolean).join(' ');
  return {
    ...(e.symbol ? { symbol: e.symbol } : {}),
    title: e.title ?? `${EVENT_LABEL[e.type]}${who ? '：' + who : ''}`,
    body: e.body ?? '',
    severity: e.severity ?? (e.type === 'suspension' ? 'warning' : 'info'),
    event: e.type,
    ...(e.price !== undefined ? { price: e.price } : {}),
  };
}

export default async function marketIngestRoutes(scope: FastifyInstance, d: AppDeps): Promise<void> {
  const app = typed(scope);
  app.post(
    '/api/ingest/ticks',
    {
      // 5,000 ticks of ~80 bytes.
      bodyLimit: 1024 * 1024,
      schema: {
        tags: ['ingest'],
        summary: 'Market-data feed posts a batch of ticks; price alerts they trigger are notified before the answer',
        security: [{ apiKey: [] }],
        body: {
          type: 'object',
          properties: {
            ticks: {
              type: 'array',
              minItems: 1,
              maxItems: MAX_TICKS_PER_BATCH,
              items: {
                type: 'object',
                properties: {
                  symbol: { type: 'string', pattern: SYMBOL_RE.source },
                  price: { type: 'number', exclusiveMinimum: 0, maximum: 1_000_000 },
                  time: { type: 'string', format: 'date-time' },
                  name: { type: 'string', minLength: 1, maxLength: 32 },
                },
                required: ['symbol', 'price'],
                additionalProperties: false,
              },
            },
          },
          required: ['ticks'],
          additionalProperties: false,
        },
        response: {
          200: {
            type: 'object',
            properties: { ticks: { type: 'integer' }, evaluated: { type: 'integer' }, fired: { type: 'integer' }, rearmed: { type: 'integer' } },
          },
          ...errors(400, 401, 413, 503),
        },
      },
    },
    async (req) => {
      const { ticks } = req.body;
      return d.alerts.ingest(ticks);
    },
  );

  app.post(
    '/api/ingest/events',
    {
      schema: {
        tags: ['ingest'],
        summary: 'Market-data feed posts corporate events (IPO, rights issue, dividend, suspension, resumption)',
        security: [{ apiKey: [] }],
        body: {
          type: 'object',
          properties: {
            events: {
              type: 'array',
              minItems: 1,
              maxItems: MAX_EVENTS_PER_BATCH,
              items: {
                type: 'object',
                properties: {
                  id: { type: 'string', pattern: '^[A-Za-z0-9._:-]{1,64}$' },
                  type: { type: 'string', enum: EVENT_TYPES },
                  symbol: { type: 'string', pattern: SYMBOL_RE.source },
                  name: { type: 'string', minLength: 1, maxLength: 32 },
                  title: { type: 'string', minLength: 1, maxLength: 200 },
                  body: { type: 'string', maxLength: 4000 },
                  severity: { type: 'string', enum: ['info', 'warning', 'critical'] },
                  price: { type: 'number', exclusiveMinimum: 0 },
                },
                required: ['id', 'type'],
                additionalProperties: false,
              },
            },
          },
          required: ['events'],
          additionalProperties: false,
        },
        response: {
          200: {
            type: 'object',
            properties: {
              published: {
                type: 'array',
                items: { type: 'object', properties: { id: { type: 'string' }, channel: { type: 'string' }, offset: { type: 'integer' }, duplicate: { type: 'boolean' } } },
              },
            },
          },
          ...errors(400, 401, 413, 503),
        },
      },
    },
    async (req) => {
      const { events } = req.body;
      const published = [];
      // In order, one at a time: a failure stops the batch, and the feed re-sends it (ids dedupe).
      for (const e of events) {
        const { pub, duplicate } = await d.publisher.publish(FEED, { channel: eventChannel(e), kind: 'alert', payload: eventPayload(e), idempotencyKey: `event:${e.id}` });
        published.push({ id: e.id, channel: pub.channel, offset: pub.offset, duplicate });
      }
      return { published };
    },
  );
}
