/** Liveness, readiness (Postgres and the bus) and Prometheus metrics. */
import type { FastifyInstance } from 'fastify';
import type { AppDeps } from '../deps.ts';
import { probe } from '../health-probe.ts';

const Probe = {
  type: 'object',
  properties: { ok: { type: 'boolean' }, ms: { type: 'integer' }, error: { type: 'string' }, kind: { type: 'string' } },
  required: ['ok', 'ms', 'kind'],
} as const;

const Live = { type: 'object', properties: { status: { type: 'string', enum: ['ok'] }, node: { type: 'string' } }, required: ['status', 'node'] } as const;

const Ready = {
  type: 'object',
  properties: {
    status: { type: 'string', enum: ['ready', 'draining', 'unavailable'] },
    node: { type: 'string' },
    mode: { type: 'string', enum: ['embedded', 'services'] },
    checks: { type: 'object', properties: { postgres: Probe, redis: Probe }, required: ['postgres', 'redis'] },
  },
  required: ['status', 'node', 'mode', 'checks'],
} as const;

export default async function healthRoutes(app: FastifyInstance, d: AppDeps): Promise<void> {
  app.get('/health/live', { schema: { tags: ['ops'], summary: 'Liveness', response: { 200: Live } } }, async () => ({ status: 'ok', node: d.config.nodeId }));

  app.get('/health/ready', { schema: { tags: ['ops'], summary: 'Readiness of Postgres and Redis (or their embedded stand-ins)', response: { 200: Ready, 503: Ready } } }, async (_req, reply) => {
    const [postgres, bus] = await Promise.all([probe(() => d.db.ping()), probe(() => d.bus.ping())]);
    const ready = postgres.ok && bus.ok && !d.registry.draining;
    reply.code(ready ? 200 : 503);
    return {
      status: ready ? 'ready' : d.registry.draining ? 'draining' : 'unavailable',
      node: d.config.nodeId,
      mode: d.config.mode,
      checks: { postgres: { ...postgres, kind: d.db.kind }, redis: { ...bus, kind: d.config.mode === 'embedded' ? 'memory' : 'redis' } },
    };
  });

  app.get('/metrics', {
      schema: {
        tags: ['ops'],
        summary: 'Prometheus metrics',
        // Text, sent as is (a string reply with a non-JSON content type is never serialised).
        response: { 200: { description: 'Prometheus text exposition format', content: { 'text/plain': { schema: { type: 'string' } } } } },
      },
    }, async (_req, reply) => {
    reply.header('content-type', d.metrics.registry.contentType);
    return d.metrics.registry.metrics();
  });
}
