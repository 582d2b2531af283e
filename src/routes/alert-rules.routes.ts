/**
 * My price alerts: "tell me when 600519.SH goes above 1800" (once, or every time it crosses again).
 * Rules are stored in Postgres and indexed in memory on every hub node (src/domain/alert-engine.ts);
 * a firing arrives in my inbox as an `alert` (event `price`) and from there by web, push or email
 * per my notification preferences.
 */
import type { FastifyInstance } from 'fastify';
import { SYMBOL_RE } from '../../channels/family.ts';
import type { AppDeps } from '../deps.ts';
import { QiaoError } from '../errors/codes.ts';
import { ruleState, ruleView } from '../store/alert-rules-repo.ts';
import { authenticate, bearerSecurity } from './auth-hook.ts';
import { errors } from './schemas.ts';

const Rule = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    symbol: { type: 'string' },
    direction: { type: 'string', enum: ['above', 'below'] },
    price: { type: 'number' },
    repeat: { type: 'boolean' },
    active: { type: 'boolean' },
    armed: { type: 'boolean' },
    lastFiredAt: { type: ['string', 'null'] },
    createdAt: { type: 'string' },
  },
} as const;

export default async function alertRuleRoutes(app: FastifyInstance, d: AppDeps): Promise<void> {
  app.addHook('preHandler', authenticate(d.tokens));

  app.get(
    '/api/alert-rules',
    {
      schema: {
        tags: ['alerts'],
        summary: 'My price-alert rules (active first)',
        security: bearerSecurity,
        response: { 200: { type: 'object', properties: { rules: { type: 'array', items: Rule }, limit: { type: 'integer' } } }, ...errors(401) },
      },
    },
    async (req) => ({ rules: (await d.alertRules.listByUser(req.principal.id)).map(ruleView), limit: d.config.alertRulesPerUser }),
  );

  app.post(
    '/api/alert-rules',
    {
      schema: {
        tags: ['alerts'],
        summary: 'Create a price alert: above/below a price, one-shot (default) or repeating',
        description:
          'An above rule fires on a tick at or above the price, a below rule at or below it. A one-shot rule then turns inactive; ' +
          'a repeating rule re-arms once the price has moved back past the threshold by the hysteresis band (QIAO_ALERT_HYSTERESIS_BP).',
        security: bearerSecurity,
        body: {
          type: 'object',
          properties: {
            symbol: { type: 'string', pattern: SYMBOL_RE.source },
            direction: { type: 'string', enum: ['above', 'below'] },
            price: { type: 'number', exclusiveMinimum: 0, maximum: 1_000_000 },
            repeat: { type: 'boolean' },
          },
          required: ['symbol', 'direction', 'price'],
          additionalProperties: false,
        },
        response: { 201: { type: 'object', properties: { rule: Rule } }, ...errors(400, 401, 429) },
      },
    },
    async (req, reply) => {
      const b = req.body as { symbol: string; direction: 'above' | 'below'; price: number; repeat?: boolean };
      const max = d.config.alertRulesPerUser;
      const row = await d.alertRules.create({ userId: req.principal.id, symbol: b.symbol, direction: b.direction, price: b.price, repeat: b.repeat ?? false }, max);
      if (!row) throw new QiaoError('QIAO_ALERT_RULE_LIMIT', `At most ${max} active price alerts per user`);
      await d.alerts.ruleCreated(ruleState(row));
      reply.code(201);
      return { rule: ruleView(row) };
    },
  );

  app.delete(
    '/api/alert-rules/:id',
    {
      schema: {
        tags: ['alerts'],
        summary: 'Delete one of my price alerts',
        security: bearerSecurity,
        params: { type: 'object', properties: { id: { type: 'string', maxLength: 64 } }, required: ['id'] },
        response: errors(401, 404),
      },
    },
    async (req, reply) => {
      const { id } = req.params as { id: string };
      if (!(await d.alertRules.delete(req.principal.id, id))) throw new QiaoError('QIAO_NOT_FOUND', 'No such price alert of yours');
      await d.alerts.ruleDeleted(id);
      reply.code(204);
    },
  );
}
