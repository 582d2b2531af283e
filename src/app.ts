/**
 * buildApp(config) assembles one hub node and returns the fastify instance without listening, so tests
 * can `inject` or listen on port 0. Embedded mode (PGlite + memory bus) or services mode (Postgres +
 * Redis) is decided by the config alone.
 */
import AjvCompiler from '@fastify/ajv-compiler';
import websocketPlugin from '@fastify/websocket';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import type { Server as IoServer } from 'socket.io';
import { createTokenService } from './auth/token.ts';
import type { Bus } from './bus/bus.ts';
import { MemoryBus } from './bus/bus-memory.ts';
import type { Config } from './config/config.ts';
import type { AppDeps } from './deps.ts';
import { ERRORS, QiaoError, isQiaoError } from './errors/codes.ts';
import { SessionRegistry } from './gateway/session-registry.ts';
import { socketIoGateway } from './gateway/socketio.ts';
import { websocketGateway } from './gateway/websocket.ts';
import { Hub } from './hub/hub.ts';
import { Publisher } from './hub/publisher.ts';
import { createMetrics } from './metrics.ts';
import authRoutes from './routes/auth.routes.ts';
import channelRoutes from './routes/channels.routes.ts';
import healthRoutes from './routes/health.routes.ts';
import ingestRoutes from './routes/ingest.routes.ts';
import subscriptionRoutes from './routes/subscriptions.routes.ts';
import webRoutes from './routes/web.ts';
import { ArchiveRepo } from './store/archive-repo.ts';
import { AuditRepo } from './store/audit-repo.ts';
import { openPglite, openPostgres, type DbHandle } from './store/db.ts';
import { MessagesRepo } from './store/messages-repo.ts';
import { seedDemo } from './store/seed.ts';
import { SubscriptionsRepo } from './store/subscriptions-repo.ts';
import { UsersRepo } from './store/users-repo.ts';

declare module 'fastify' {
  interface FastifyInstance {
    qiao: AppDeps;
    io: IoServer;
    /** SIGTERM path: refuse new connections, ask clients to reconnect elsewhere, finish in-flight publishes, close. */
    drain(): Promise<void>;
  }
}

export interface BuildOptions {
  /** Use an in-memory PGlite in embedded mode instead of files under dataDir (tests). */
  inMemoryDb?: boolean;
  /** Inject a bus (tests); otherwise memory or Redis by config. */
  bus?: Bus;
  /** Seed the demo firm when the database is empty (default: config.seedDemo). */
  seed?: boolean;
  logger?: boolean | object;
}

export async function openDb(config: Config, inMemory = false): Promise<DbHandle> {
  return config.databaseUrl ? openPostgres(config.databaseUrl, config.pgPoolSize) : openPglite(inMemory ? undefined : config.dataDir);
}

export async function openBus(config: Config, logger: AppDeps['logger']): Promise<Bus> {
  if (!config.redisUrl) return new MemoryBus();
  const { RedisBus } = await import('./bus/bus-redis.ts');
  return new RedisBus({ url: config.redisUrl, prefix: config.redisPrefix, logger });
}

const ajvCompilers = AjvCompiler();
const bodyStrictValidator: typeof ajvCompilers = (externalSchemas, options) => {
  const coercing = ajvCompilers(externalSchemas, options);
  const strict = ajvCompilers(externalSchemas, { ...options, customOptions: { ...options?.customOptions, coerceTypes: false } } as typeof options);
  return (route) => (route.httpPart === 'body' ? strict : coercing)(route);
};

export async function buildApp(config: Config, opts: BuildOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    logger: opts.logger ?? { level: config.logLevel },
    // The REST body limit leaves room for the envelope; the payload itself is checked exactly.
    bodyLimit: config.maxPayloadBytes + 4096,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true } },
    // JSON bodies are typed: `"kind": 5` is a bad request, not "5". Only query strings, params and
    // headers (which arrive as text) are coerced.
    schemaController: { compilersFactory: { buildValidator: bodyStrictValidator } },
    return503OnClosing: true,
    forceCloseConnections: true,
  });

  const db = await openDb(config, opts.inMemoryDb);
  await db.migrate();
  if (opts.seed ?? config.seedDemo) {
    if (await seedDemo(db.db)) app.log.info('seeded the demo firm');
  }
  const bus = opts.bus ?? (await openBus(config, app.log));
  const metrics = createMetrics(config.nodeId);
  const users = new UsersRepo(db.db);
  const archive = new ArchiveRepo(db.db);
  const messages = new MessagesRepo(db.db, archive);
  const audit = new AuditRepo(db.db);
  const hub = new Hub({ bus, messages, metrics, logger: app.log });
  const publisher = new Publisher({ bus, messages, audit, access: users, metrics, logger: app.log, maxPayloadBytes: config.maxPayloadBytes });
  const registry = new SessionRegistry();
  const deps: AppDeps = {
    config,
    logger: app.log,
    db,
    bus,
    tokens: createTokenService(config.jwtSecret, config.tokenTtlS),
    users,
    subscriptions: new SubscriptionsRepo(db.db),
    messages,
    archive,
    audit,
    metrics,
    hub,
    publisher,
    registry,
  };
  app.decorate('qiao', deps);

  app.setErrorHandler((err: FastifyError | QiaoError, req, reply) => {
    let e: QiaoError;
    if (isQiaoError(err)) e = err;
    else if ((err as FastifyError).code === 'FST_ERR_CTP_BODY_TOO_LARGE') e = new QiaoError('QIAO_PAYLOAD_TOO_LARGE');
    else if ((err as FastifyError).code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') e = new QiaoError('QIAO_BAD_REQUEST', 'Content-Type must be application/json');
    else if (
      err instanceof SyntaxError ||
      (err as FastifyError).code === 'FST_ERR_CTP_EMPTY_JSON_BODY' ||
      (err as FastifyError).code === 'FST_ERR_CTP_INVALID_JSON_BODY'
    )
      e = new QiaoError('QIAO_BAD_JSON');
    else if ((err as FastifyError).validation) e = new QiaoError('QIAO_BAD_REQUEST', err.message);
    else if ((err as FastifyError).statusCode && (err as FastifyError).statusCode! < 500) e = new QiaoError('QIAO_BAD_REQUEST', err.message);
    else {
      req.log.error({ err }, 'unhandled error');
      e = new QiaoError('QIAO_INTERNAL');
    }
    if (e.status === 401 && e.code !== 'QIAO_AUTH_BAD_CREDENTIALS') reply.header('www-authenticate', `Bearer error="invalid_token", error_description="${e.code}"`);
    reply.code(e.status).send({ error: e.toJSON() });
  });

  await app.register(swagger, {
    openapi: {
      info: { title: 'Qiao (桥) hub API', version: '0.1.0', description: 'REST API of the Qiao messaging hub. Socket protocol: docs/protocol.md. Error codes: ' + Object.keys(ERRORS).join(', ') },
      components: {
        securitySchemes: {
          bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
          apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
        },
      },
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  await app.register(websocketPlugin, {
    options: { maxPayload: config.maxPayloadBytes * 4, perMessageDeflate: false },
  });

  const sessionDeps = {
    hub,
    publisher,
    access: users,
    logger: app.log,
    limits: {
      maxPayloadBytes: config.maxPayloadBytes,
      maxSubscriptions: config.maxSubscriptions,
      ratePerS: config.rateLimitPerS,
      burst: config.rateLimitBurst,
    },
  };
  const gw = { sessionDeps, tokens: deps.tokens, hub, registry, metrics, nodeId: config.nodeId, slowConsumerBytes: config.slowConsumerBytes };
  await app.register(async (scope) => websocketGateway(scope, gw));
  await app.register(async (scope) => authRoutes(scope, deps));
  await app.register(async (scope) => channelRoutes(scope, deps));
  await app.register(async (scope) => subscriptionRoutes(scope, deps));
  await app.register(async (scope) => ingestRoutes(scope, deps));
  await app.register(async (scope) => healthRoutes(scope, deps));
  await app.register(webRoutes, {});
  app.setNotFoundHandler(async () => {
    throw new QiaoError('QIAO_NOT_FOUND');
  });

  const io = socketIoGateway(app, gw);
  app.decorate('io', io);

  let draining: Promise<void> | null = null;
  app.decorate('drain', function drain(): Promise<void> {
    draining ??= (async () => {
      registry.draining = true;
      // Ask everyone to reconnect (to any node) with their offsets; stagger so nodes are not stampeded.
      for (const s of registry.all()) s.push({ t: 'reconnect', reason: 'node draining', afterMs: Math.floor(Math.random() * config.reconnectAfterMs) });
      await new Promise((r) => setTimeout(r, 50));
      await publisher.idle(config.drainTimeoutMs);
      for (const s of registry.all()) s.close(ERRORS.QIAO_DRAINING.wsClose, 'QIAO_DRAINING');
      await app.close();
    })();
    return draining;
  });

  app.addHook('onClose', async () => {
    await new Promise<void>((resolve) => io.close(() => resolve()));
    await hub.close();
    await bus.close().catch(() => {});
    await db.close().catch(() => {});
  });
  return app;
}
