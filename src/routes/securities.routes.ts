/**
 * Securities directory for any logged-in user: search by code prefix or name, and look one code up.
 * The directory is static (src/domain/securities.ts); names in Chinese and English.
 */
import type { FastifyInstance } from 'fastify';
import type { AppDeps } from '../deps.ts';
import { isSymbol } from '../domain/securities.ts';
import { QiaoError } from '../errors/codes.ts';
import { authenticate, bearerSecurity } from './auth-hook.ts';
import { errors } from './schemas.ts';
import { typed } from './type-provider.ts';

export const SECURITIES_MAX_LIMIT = 50;

const Security = {
  type: 'object',
  properties: {
    symbol: { type: 'string', description: 'code with exchange suffix, e.g. 600519.SH' },
    name: { type: 'object', properties: { zh: { type: 'string' }, en: { type: 'string' } }, required: ['zh', 'en'] },
    exchange: { type: 'string', enum: ['SH', 'SZ', 'BJ'] },
    kind: { type: 'string', enum: ['stock', 'etf'] },
  },
  required: ['symbol', 'name', 'exchange', 'kind'],
} as const;

export default async function securitiesRoutes(scope: FastifyInstance, d: AppDeps): Promise<void> {
  const app = typed(scope);
  app.addHook('preHandler', authenticate(d.tokens));

  app.get(
    '/api/securities',
    {
      schema: {
        tags: ['securities'],
        summary: 'Search the securities directory by code prefix (600, 600519.S) or name substring (茅台, moutai)',
        description: 'Best matches first: exact code, code prefix, Chinese name, English name (case-insensitive; full-width characters match their half-width forms). Without `q`: the directory in code order.',
        security: bearerSecurity,
        querystring: {
          type: 'object',
          properties: {
            q: { type: 'string', maxLength: 64 },
            limit: { type: 'integer', minimum: 1, maximum: SECURITIES_MAX_LIMIT, default: 20 },
          },
          additionalProperties: false,
        },
        response: { 200: { type: 'object', properties: { items: { type: 'array', items: Security } }, required: ['items'] }, ...errors(400, 401) },
      },
    },
    async (req) => {
      const { q, limit } = req.query;
      return { items: d.securities.search(q ?? '', limit) };
    },
  );

  app.get(
    '/api/securities/:symbol',
    {
      schema: {
        tags: ['securities'],
        summary: 'One security by code (e.g. 600519.SH)',
        security: bearerSecurity,
        params: { type: 'object', properties: { symbol: { type: 'string' } }, required: ['symbol'] },
        response: { 200: Security, ...errors(400, 401, 404) },
      },
    },
    async (req) => {
      const { symbol } = req.params;
      if (!isSymbol(symbol.toUpperCase())) throw new QiaoError('QIAO_SYMBOL_INVALID');
      const s = d.securities.get(symbol);
      if (!s) throw new QiaoError('QIAO_SECURITY_NOT_FOUND', `${symbol.toUpperCase()} is not in the securities directory`);
      return s;
    },
  );
}
