/**
 * My price alerts: "tell me when 600519.SH goes above 1800" (once, or every time it crosses again).
 * Rules are stored in Postgres and indexed in memory on every hub node (src/domain/alert-engine.ts);
 * a firing arrives in my inbox as an `alert` (event `price`) and from there by web, push or email
 * per my notification preferences.
 */
import type { FastifyInstance } from 'fastify';
import { SYMBOL_RE } from '../../channels/family.ts';
import type { AppDeps } from '../deps.ts';
import { MAX_MOVE_PERCENT } from '../domain/alert-index.ts';
import { QiaoError } from '../errors/codes.ts';
import { ruleState, ruleView } from '../store/alert-rules-repo.ts';
import { authenticate, bearerSecurity } from './auth-hook.ts';
import { NoContent, errors } from './schemas.ts';
import { typed } from './type-provider.ts';

const Rule = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    symbol: { type: 'string' },
    direction: { type: 'string', enum: ['above', 'below', 'move'] },
    /** Threshold of an above/below rule; for a move rule its reference price (= basePrice). */
    price: { type: 'number' },
    percent: { type: ['number', 'null'], description: 'move rules: the move in percent of basePrice; null otherwise' },
    basePrice: { type: ['number', 'null'], description: 'move rules: the reference price; null otherwise' },
    repeat: { type: 'boolean' },
    active: { type: 'boolean', description: 'evaluated; false when paused or when a one-shot rule has fired' },
    armed: { type: 'boolean' },
    pausedAt: { type: ['string', 'null'], format: 'date-time', description: 'set while paused by the owner' },
    lastFiredAt: { type: ['string', 'null'], format: 'date-time' },
    createdAt: { type: 'string', format: 'date-time' },
  },
  required: ['id', 'symbol', 'direction', 'price', 'percent', 'basePrice', 'repeat', 'active', 'armed', 'pausedAt', 'lastFiredAt', 'createdAt'],
} as const;

const symbol = { type: 'string', pattern: SYMBOL_RE.source } as const;
const repeat = { type: 'boolean' } as const;
const price = { type: 'number', exclusiveMinimum: 0, maximum: 1_000_000 } as const;
const RuleIdParams = { type: 'object', properties: { id: { type: 'string', maxLength: 64 } }, required: ['id'] } as const;

type NewRuleBody =
  | { symbol: string; direction: 'above' | 'below'; price: number; repeat?: boolean }
  | { symbol: string; direction: 'move'; percent: number; basePrice: number; repeat?: boolean };

export default async function alertRuleRoutes(scope: FastifyInstance, d: AppDeps): Promise<void> {
  const app = typed(scope);
  app.addHook('preHandler', authenticate(d.tokens));

  app.get(
    '/api/alert-rules',
    {
      schema: {
        tags: ['alerts'],
        summary: 'My price-alert rules (active first)',
        security: bearerSecurity,
        response: { 200: { type: 'object', properties: { rules: { type: 'array', items: Rule }, limit: { type: 'integer' } }, required: ['rules', 'limit'] }, ...errors(401) },
      },
    },
    async (req) => ({ rules: (await d.alertRules.listByUser(req.principal.id)).map(ruleView), limit: d.config.alertRulesPerUser }),
  );

  app.post(
    '/api/alert-rules',
    {
      schema: {
        tags: ['alerts'],
        summary: 'Create a price alert: above/below a price, or a percent move from a reference price; one-shot (default) or repeating',
        description:
          'An above rule fires on a tick at or above the price, a below rule at or below it. A move rule (`direction: "move"`, ' +
          `\`percent\` in (0, ${MAX_MOVE_PERCENT}], \`basePrice\` the reference price, e.g. the last price the client knows) fires on a tick at or above ` +
          'basePrice·(1 + percent/100) or at or below basePrice·(1 − percent/100). A one-shot rule then turns inactive; ' +
          'a repeating rule re-arms once the price has moved back past the threshold (a move rule: back inside its band) by the hysteresis band (QIAO_ALERT_HYSTERESIS_BP).',
        security: bearerSecurity,
        body: {
          oneOf: [
            {
              type: 'object',
              properties: { symbol, direction: { type: 'string', enum: ['above', 'below'] }, price, repeat },
              required: ['symbol', 'direction', 'price'],
              additionalProperties: false,
            },
            {
              type: 'object',
              properties: {
                symbol,
                direction: { type: 'string', enum: ['move'] },
                percent: { type: 'number', exclusiveMinimum: 0, maximum: MAX_MOVE_PERCENT },
                basePrice: price,
                repeat,
              },
              required: ['symbol', 'direction', 'percent', 'basePrice'],
              additionalProperties: false,
            },
          ],
        },
        response: { 201: { type: 'object', properties: { rule: Rule }, required: ['rule'] }, ...errors(400, 401, 429) },
      },
    },
    async (req, reply) => {
      const b = req.body;
      const max = d.config.alertRulesPerUser;
      const userId = req.principal.id;
      const repeat = b.repeat ?? false;
      const row = await d.alertRules.create(
        b.direction === 'move'
          ? { userId, symbol: b.symbol, direction: 'move', price: b.basePrice, percent: b.percent, repeat }
          : { userId, symbol: b.symbol, direction: b.direction, price: b.price, repeat },
        max,
      );
      if (!row) throw new QiaoError('QIAO_ALERT_RULE_LIMIT', `At most ${max} active price alerts per user`);
      await d.alerts.ruleCreated(ruleState(row));
      reply.code(201);
      return { rule: ruleView(row) };
    },
  );

  app.patch(
    '/api/alert-rules/:id',
    {
      schema: {
        tags: ['alerts'],
        summary: 'Pause (active: false) or resume (active: true) one of my price alerts',
        description:
          'A paused rule is not evaluated and never fires, on any node. Resuming arms it again (also a one-shot rule that has fired), ' +
          'so it fires on the next tick past its threshold; resumed rules count against the limit of active rules (QIAO_ALERT_RULE_LIMIT). ' +
          'Setting the state a rule already has changes nothing.',
        security: bearerSecurity,
        params: RuleIdParams,
        body: { type: 'object', properties: { active: { type: 'boolean' } }, required: ['active'], additionalProperties: false },
        response: { 200: { type: 'object', properties: { rule: Rule }, required: ['rule'] }, ...errors(400, 401, 404, 429) },
      },
    },
    async (req) => {
      const { id } = req.params;
      const { active } = req.body;
      const max = d.config.alertRulesPerUser;
      const row = await d.alertRules.setActive(req.principal.id, id, active, max);
      if (!row) throw new QiaoError('QIAO_NOT_FOUND', 'No such price alert of yours');
      if (row === 'limit') throw new QiaoError('QIAO_ALERT_RULE_LIMIT', `At most ${max} active price alerts per user`);
      await d.alerts.ruleUpdated({ ...ruleState(row), active: row.active });
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
        params: RuleIdParams,
        response: { 204: NoContent('Deleted'), ...errors(401, 404) },
      },
    },
    async (req, reply) => {
      const { id } = req.params;
      if (!(await d.alertRules.delete(req.principal.id, id))) throw new QiaoError('QIAO_NOT_FOUND', 'No such price alert of yours');
      await d.alerts.ruleDeleted(id);
      reply.code(204);
    },
  );
}
