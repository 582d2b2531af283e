/**
 * GET /asyncapi.json: the AsyncAPI document of the socket protocol, the committed docs/asyncapi.json
 * (generated from src/gateway/protocol.ts by `npm run gen:docs`). Open like /docs (QIAO_OPS_ALLOW).
 */
import type { FastifyInstance } from 'fastify';
import { readFile } from 'node:fs/promises';
import { QiaoError } from '../errors/codes.ts';
import { errors } from './schemas.ts';

const FILE = new URL('../../docs/asyncapi.json', import.meta.url);

export default async function asyncApiRoutes(app: FastifyInstance): Promise<void> {
  // Read once, on first use: the file only changes with a deploy.
  let cached: string | null = null;
  app.get(
    '/asyncapi.json',
    {
      schema: {
        tags: ['ops'],
        summary: 'AsyncAPI 3.0 document of the socket protocol (raw WebSocket and socket.io)',
        response: { 200: { description: 'AsyncAPI document', type: 'object', additionalProperties: true }, ...errors(403, 404) },
      },
    },
    async (_req, reply) => {
      cached ??= await readFile(FILE, 'utf8').catch(() => null);
      if (cached === null) throw new QiaoError('QIAO_NOT_FOUND', 'docs/asyncapi.json is missing from this deployment');
      return reply.type('application/json; charset=utf-8').send(cached);
    },
  );
}
