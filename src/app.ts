/**
 * buildApp(config) assembles one hub node and returns the fastify instance without listening, so tests
 * can `inject` or listen on port 0. Embedded mode (PGlite + memory bus) or services mode (Postgres +
 * Redis) is decided by the config alone.
 */
import AjvCompiler from '@fastify/ajv-compiler';
import helmet from '@fastify/helmet';
import rateLimit from '@fastify/rate-limit';
import websocketPlugin from '@fastify/websocket';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyRequest } from 'fastify';
import { decodeJwt } from 'jose';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Server as IoServer } from 'socket.io';
import { TotpService } from './auth/totp.ts';
import { SessionGuard } from './auth/sessions.ts';
import { createTokenService } from './auth/token.ts';
import type { Bus } from './bus/bus.ts';
import { MemoryBus } from './bus/bus-memory.ts';
import type { Config } from './config/config.ts';
import type { AppDeps } from './deps.ts';
import { ERRORS, QiaoError, isQiaoError, isUnavailableError } from './errors/codes.ts';
import { MAX_JSON_DEPTH, jsonDepthExceeds } from './domain/json-depth.ts';
import { SessionRegistry } from './gateway/session-registry.ts';
import { socketIoGateway } from './gateway/socketio.ts';
import { websocketGateway } from './gateway/websocket.ts';
import { Hub } from './hub/hub.ts';
import { Publisher } from './hub/publisher.ts';
import { Relay } from './hub/relay.ts';
import { createMetrics } from './metrics.ts';
import { createWorkerMetrics } from '../workers/worker-metrics.ts';
import authRoutes from './routes/auth.routes.ts';
import channelRoutes from './routes/channels.routes.ts';
import healthRoutes from './routes/health.routes.ts';
import complianceRoutes from './routes/compliance.routes.ts';
import { DlpService } from './compliance/dlp.ts';
import ingestRoutes from './routes/ingest.routes.ts';
import subscriptionRoutes from './routes/subscriptions.routes.ts';
import inboxRoutes from './routes/inbox.routes.ts';
import preferencesRoutes from './routes/preferences.routes.ts';
import deliveryRoutes from './routes/delivery.routes.ts';
import { MemoryQueue } from './queue/queue-memory.ts';
import type { JobQueue } from './queue/queue.ts';
import { DeliveriesRepo } from './store/deliveries-repo.ts';
import { InboxRepo } from './store/inbox-repo.ts';
import { PrefsRepo } from './store/prefs-repo.ts';
import { RecipientsRepo } from './store/recipients-repo.ts';
import webRoutes from './routes/web.ts';
import { ApprovalsService } from './advisory/approvals.ts';
import { RecommendationsService } from './advisory/recommendations.ts';
import { TasksService } from './advisory/tasks.ts';
import approvalRoutes from './routes/approvals.routes.ts';
import recommendationRoutes from './routes/recommendations.routes.ts';
import taskRoutes from './routes/tasks.routes.ts';
import alertRuleRoutes from './routes/alert-rules.routes.ts';
import pushRoutes from './routes/push.routes.ts';
import { publisherNotify, startAlertEngine } from './domain/alert-engine.ts';
import type { AlertSync } from './domain/alert-sync.ts';
import { AlertRulesRepo } from './store/alert-rules-repo.ts';
import { SECURITIES } from './domain/securities.ts';
import securitiesRoutes from './routes/securities.routes.ts';
import researchRoutes from './routes/research.routes.ts';
import teamRoutes from './routes/team.routes.ts';
import { PushRepo } from './store/push-repo.ts';
import { ArchiveRepo } from './store/archive-repo.ts';
import { AuditRepo } from './store/audit-repo.ts';
import { openPglite, openPostgres, type DbHandle } from './store/db.ts';
import { MessagesRepo } from './store/messages-repo.ts';
import { seedDemo } from './store/seed.ts';
import { SubscriptionsRepo } from './store/subscriptions-repo.ts';
import { UsersRepo } from './store/users-repo.ts';
import { ConversationLive } from './conversations/live.ts';
import { MemoryPresence } from './presence/presence-memory.ts';
import type { Presence } from './presence/presence.ts';
import clientRoutes from './routes/clients.routes.ts';
import adminOrgRoutes from './routes/admin-org.routes.ts';
import adminRoutes from './routes/admin.routes.ts';
import importRoutes from './routes/import.routes.ts';
import clientListRoutes from './routes/client-list.routes.ts';
import conversationRoutes from './routes/conversations.routes.ts';
import { AssignmentsRepo } from './store/assignments-repo.ts';
import { ConversationsRepo } from './store/conversations-repo.ts';
import { SweepRunner, type ServiceSweep } from './service/sweeps.ts';
import { AccountEventsService } from './account/account-events.ts';
import { AccountFeed } from './account/account-feed.ts';
import { CorporateActionsService } from './account/corporate-actions.ts';
import { PositionsRepo } from './account/positions.ts';
import { parseHolidays } from './domain/trading-sessions.ts';
import accountIngestRoutes from './routes/account-ingest.routes.ts';
import accountEventsRoutes from './routes/account-events.routes.ts';
import serviceRoutes from './routes/service.routes.ts';
import { ComplaintsService } from './service/complaints.ts';
import { ComplaintEscalationSweep } from './service/complaint-escalation.ts';
import complaintRoutes from './routes/complaints.routes.ts';
import { FollowupCoverage } from './service/followup-coverage.ts';
import { FollowupRules } from './service/followup-rules.ts';
import { FollowupSweep } from './service/followup-sweep.ts';
import { FollowupsService } from './service/followups.ts';
import { SurveysService } from './service/surveys.ts';
import followupRoutes from './routes/followups.routes.ts';
import surveyRoutes from './routes/surveys.routes.ts';
import { RemindersService } from './service/reminders.ts';
import { ReminderSweep } from './service/reminder-sweep.ts';
import reminderRoutes from './routes/reminders.routes.ts';
import asyncApiRoutes from './routes/asyncapi.routes.ts';
import { registerSharedSchemas } from './routes/schemas.ts';
import { addCommonErrors } from './routes/common-responses.ts';
import queueDashboardRoutes from './routes/queue-dashboard.routes.ts';

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
  /** Inject a job queue (tests); otherwise memory or BullMQ by config. */
  queue?: JobQueue;
  /** Where embedded workers write .eml files without SMTP (default <dataDir>/outbox; a temp folder with inMemoryDb). */
  outboxDir?: string;
  /**
   * Where embedded workers write SMS .json files without SMPP. Default <dataDir>/sms-outbox; with
   * inMemoryDb, `<outboxDir>/sms` (a test's own folder), so a test hub never writes under dataDir.
   */
  smsOutboxDir?: string;
  /** Share one alert-rule sync between apps (tests acting as several nodes); otherwise by config. */
  alertSync?: AlertSync;
}

export async function openDb(config: Config, inMemory = false, logger?: { warn(obj: object, msg: string): void }): Promise<DbHandle> {
  if (!config.databaseUrl) return openPglite(inMemory ? undefined : config.dataDir);
  // Throttled: a restart makes every pooled connection report at once.
  let lastLog = 0;
  return openPostgres(config.databaseUrl, config.pgPoolSize, (err) => {
    if (Date.now() - lastLog < 1000) return;
    lastLog = Date.now();
    logger?.warn({ err }, 'postgres connection error (the pool replaces the connection)');
  });
}

export async function openQueue(config: Config): Promise<JobQueue> {
  if (!config.redisUrl) return new MemoryQueue();
  const { BullQueue } = await import('./queue/queue-bullmq.ts');
  return new BullQueue({ url: config.redisUrl, prefix: config.redisPrefix, lockDurationMs: config.delivery.queueLockMs });
}

export async function openPresence(config: Config): Promise<Presence> {
  if (!config.redisUrl) return new MemoryPresence();
  const { RedisPresence } = await import('./presence/presence-redis.ts');
  return new RedisPresence({ url: config.redisUrl, prefix: config.redisPrefix });
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

/** Replaces the value of any `token` query parameter, so request logs never hold credentials. */
export function redactTokens(url: string): string {
  return url.replace(/([?&]token=)[^&#]*/gi, '$1[redacted]');
}

/**
 * The general REST limit counts per signed-in user when a bearer token names one, else per client
 * address: many brokers of a branch share one NAT address, and one user must not be throttled by
 * colleagues. The subject is read without verifying the token — that only picks the bucket; a forged
 * token is refused by authentication right after, at the cost of one HMAC.
 */
function rateLimitKey(req: FastifyRequest): string {
  const h = req.headers.authorization;
  if (typeof h === 'string' && h.startsWith('Bearer ')) {
    try {
      const sub = decodeJwt(h.slice(7)).sub;
      if (typeof sub === 'string' && sub.length <= 64) return `u:${sub}`;
    } catch {
      // Not a JWT: counted by address.
    }
  }
  return `ip:${req.ip}`;
}

/** Account events, positions and corporate actions, and the brokers' live badges (the reminder sweep runs with the service sweeps). */
function buildAccount(config: Config, db: DbHandle['db'], publisher: Publisher, messages: MessagesRepo, bus: Bus, logger: AppDeps['logger']): AppDeps['account'] {
  const positions = new PositionsRepo(db);
  const events = new AccountEventsService({ db, publisher, positions, securities: SECURITIES });
  const actions = new CorporateActionsService({ db, publisher, positions, securities: SECURITIES, holidays: parseHolidays(config.delivery.marketHolidays.join(',')) });
  const feed = new AccountFeed({ db, messages, bus, logger });
  publisher.onPublished((_p, pub, family) => feed.onPublished(pub, family));
  return { events, positions, actions, feed };
}

export async function buildApp(config: Config, opts: BuildOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    logger: opts.logger ?? {
      level: config.logLevel,
      // Browsers' WebSocket cannot send headers, so tokens may travel as `?token=`: never log them.
      serializers: {
        req: (req: { method: string; url: string; hostname?: string; ip?: string }) => ({
          method: req.method,
          url: redactTokens(req.url),
          host: req.hostname,
          remoteAddress: req.ip,
        }),
      },
    },
    // QIAO_MAX_PAYLOAD_BYTES bounds the whole REST body, envelope included, as it bounds a whole
    // socket frame; larger bodies are not read (QIAO_PAYLOAD_TOO_LARGE, 413).
    bodyLimit: config.maxPayloadBytes,
    // Channel names of any length reach the catalogue, which answers QIAO_CHANNEL_BAD_NAME as on the
    // sockets (find-my-way's default of 100 answered its own 414 for a long `:channel`). The URL as a
    // whole is still bounded by Node's header size limit.
    routerOptions: { maxParamLength: 16 * 1024 },
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true } },
    // JSON bodies are typed: `"kind": 5` is a bad request, not "5". Only query strings, params and
    // headers (which arrive as text) are coerced.
    schemaController: { compilersFactory: { buildValidator: bodyStrictValidator } },
    // During close, requests still arriving are answered by the drain hook (QIAO_DRAINING); requests in
    // flight finish and only idle keep-alive connections are cut.
    return503OnClosing: true,
    forceCloseConnections: 'idle',
  });
  // Every JSON body is checked for depth right after parsing, before validation or any handler walks
  // it (deep nesting overflows recursive code further on: src/domain/json-depth.ts). The parser is
  // fastify's own (same proto/constructor poisoning defaults); only the depth check is added.
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    parseJson(req, body as string, (err, value) => {
      if (!err && jsonDepthExceeds(value, MAX_JSON_DEPTH)) {
        done(new QiaoError('QIAO_PAYLOAD_TOO_DEEP', `JSON bodies may nest objects and arrays at most ${MAX_JSON_DEPTH} levels deep`), undefined);
      } else done(err, value);
    });
  });

  const db = await openDb(config, opts.inMemoryDb, app.log);
  if (config.migrateOnStart) await db.migrate();
  if (opts.seed ?? config.seedDemo) {
    if (await seedDemo(db.db)) app.log.info('seeded the demo firm');
  }
  const bus = opts.bus ?? (await openBus(config, app.log));
  const metrics = createMetrics(config.nodeId);
  const users = new UsersRepo(db.db);
  const archive = new ArchiveRepo(db.db);
  const dlp = new DlpService(db.db, archive, { logger: app.log, onBlock: () => metrics.dlpBlocks.inc() });
  const messages = new MessagesRepo(db.db, archive);
  const audit = new AuditRepo(db.db);
  const hub = new Hub({ bus, messages, metrics, logger: app.log });
  const queue = opts.queue ?? (await openQueue(config));
  const relay = new Relay({ bus, messages, queue, metrics, logger: app.log });
  relay.start();
  const publisher = new Publisher({ messages, relay, audit, access: users, metrics, logger: app.log, maxPayloadBytes: config.maxPayloadBytes, dlp });
  const registry = new SessionRegistry();
  // Token revocation and account state across nodes (src/auth/sessions.ts).
  const sessions = new SessionGuard({
    db: db.db,
    bus,
    registry,
    access: users,
    logger: app.log,
    ttlMs: config.security.sessionCacheTtlMs,
    totpRequiredRoles: config.security.totpRequiredRoles,
  });
  await sessions.start();
  const presence = await openPresence(config);
  // Response episodes count the wait in trading hours too (the exchanges' holiday calendar).
  const conversations = new ConversationsRepo(db.db, new Set(config.delivery.marketHolidays));
  const live = new ConversationLive({ bus, registry, presence, conversations, access: users, logger: app.log });
  await live.start();
  publisher.onPublished((p, pub, family) => live.onPublished(p, pub, family));
  // Every conversation message, whatever path publishes it, commits with its unread counters, the
  // sender's read position and the first-response wait.
  publisher.onCommit('conv', (tx, pub) => conversations.recordMessage(tx, pub));
  const recommendations = new RecommendationsService({ db: db.db, publisher, archive, audit, access: users, logger: app.log, dlp });
  const approvalsSvc = new ApprovalsService({ db: db.db, publisher, archive, access: users, recommendations, logger: app.log });
  // Firm-wide broadcasts wait for compliance approval.
  publisher.setApprovalGate(approvalsSvc);
  const advisory = { recommendations, approvals: approvalsSvc, tasks: new TasksService({ db: db.db, publisher, archive, messages, logger: app.log, dlp }) };
  const alertRules = new AlertRulesRepo(db.db);
  const account = buildAccount(config, db.db, publisher, messages, bus, app.log);
  const alerting = await startAlertEngine(config, { store: alertRules, notify: publisherNotify(publisher), logger: app.log, onNotified: () => metrics.alertFirings.inc() }, opts.alertSync);
  const deps: AppDeps = {
    config,
    logger: app.log,
    db,
    bus,
    tokens: sessions.wrap(createTokenService(config.jwtSecret, config.tokenTtlS)),
    sessions,
    totp: new TotpService({
      db: db.db,
      // Unset QIAO_TOTP_KEY: derived from the token key (so one secret to keep; rotating it needs re-enrolment).
      keyMaterial: config.security.totpKey ?? `jwt:${config.jwtSecret}`,
      jwtSecret: config.jwtSecret,
      requiredRoles: config.security.totpRequiredRoles,
    }),
    users,
    subscriptions: new SubscriptionsRepo(db.db),
    messages,
    archive,
    audit,
    metrics,
    hub,
    publisher,
    registry,
    presence,
    conversations,
    assignments: new AssignmentsRepo(db.db, archive),
    live,
    advisory,
    dlp,
    queue,
    delivery: { deliveries: new DeliveriesRepo(db.db), inbox: new InboxRepo(db.db), prefs: new PrefsRepo(db.db), recipients: new RecipientsRepo(db.db) },
    push: new PushRepo(db.db),
    alertRules,
    alerts: alerting.engine,
    securities: SECURITIES,
    account,
  };
  app.decorate('qiao', deps);

  deps.reminders = new RemindersService({ db: db.db, archive, conversations, logger: app.log });
  // Follow-ups (客户回访) and satisfaction surveys (满意度调查).
  const followupRules = new FollowupRules({ db: db.db, archive });
  const followupsSvc = new FollowupsService({ db: db.db, publisher, archive, logger: app.log });
  deps.followups = { rules: followupRules, service: followupsSvc, coverage: new FollowupCoverage({ db: db.db, rules: followupRules }) };
  deps.surveys = new SurveysService({ db: db.db, publisher, archive, conversations, logger: app.log, quietHours: config.service.surveyQuietH });
  // Broker service sweeps (issue 11, src/service/): each part adds its sweep here.
  const complaintsSvc = new ComplaintsService({ db: db.db, publisher, archive, logger: app.log, ackHours: config.service.complaintAckH, resolveDays: config.service.complaintResolveD });
  deps.complaints = complaintsSvc;
  const serviceSweeps: ServiceSweep[] = [
    // <service-sweeps>
    new ComplaintEscalationSweep({ db: db.db, publisher, archive, logger: app.log }),
    new FollowupSweep({ db: db.db, publisher, archive, logger: app.log, rules: followupRules, followups: followupsSvc }),
    deps.surveys.sweep(),
    new ReminderSweep({ db: db.db, publisher, archive, logger: app.log, waitingReminderMin: config.service.waitingReminderMin }),
    account.actions.sweep(),
  ];
  const sweeper = new SweepRunner({ intervalMs: config.service.sweepMs, logger: app.log, sweeps: serviceSweeps });
  deps.sweeper = sweeper;

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
    else if (isUnavailableError(err)) {
      req.log.warn({ err }, 'backing service unavailable');
      e = new QiaoError('QIAO_UNAVAILABLE');
    } else {
      req.log.error({ err }, 'unhandled error');
      e = new QiaoError('QIAO_INTERNAL');
    }
    if (e.status === 401 && e.code !== 'QIAO_AUTH_BAD_CREDENTIALS') reply.header('www-authenticate', `Bearer error="invalid_token", error_description="${e.code}"`);
    reply.code(e.status).send({ error: e.toJSON() });
  });

  // Security headers on every response (the web page sets its own, stricter CSP: src/routes/web.ts).
  await app.register(helmet, { global: true });
  // /metrics and /docs: loopback only by default (QIAO_OPS_ALLOW), or anywhere with X-Ops-Token.
  app.addHook('onRequest', async (req) => {
    if (!isOpsPath(req.url)) return;
    if (opsAllowed(config, req.socket?.remoteAddress ?? req.ip, req.headers['x-ops-token'])) return;
    throw new QiaoError('QIAO_OPS_FORBIDDEN');
  });
  // REST throttling: a general limit per client address under /api/ (the market-data feed, which
  // has its own key, is exempt), and the login limits (src/routes/auth.routes.ts). Redis-backed in
  // services mode so the limits hold across nodes; if Redis is unreachable requests pass (fail open).
  const rateRedis = config.redisUrl
    ? (await import('./store/redis-client.ts')).createRedis(config.redisUrl, { connectionName: 'qiao-rate-limit', maxRetriesPerRequest: 1, enableOfflineQueue: false, connectTimeout: 2000 })
    : null;
  rateRedis?.on('error', () => {});
  await app.register(rateLimit, {
    global: true,
    max: config.security.httpRateLimitMax,
    timeWindow: config.security.httpRateLimitWindowS * 1000,
    allowList: (req) => !req.url.startsWith('/api/') || req.url.startsWith('/api/ingest/'),
    keyGenerator: rateLimitKey,
    skipOnError: true,
    ...(rateRedis ? { redis: rateRedis, nameSpace: `${config.redisPrefix}rl:` } : {}),
    errorResponseBuilder: () => new QiaoError('QIAO_RATE_LIMITED'),
  });

  // Shared shapes (the error, Publication…) as components, named by their $id.
  registerSharedSchemas(app);
  // Before swagger and the routes: the errors any route can give join each route's responses.
  app.addHook('onRoute', addCommonErrors);
  await app.register(swagger, {
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
    openapi: {
      info: { title: 'Qiao (桥) hub API', version: '0.1.0', description: 'REST API of the Qiao messaging hub. Socket protocol: docs/protocol.md and /asyncapi.json. Errors: the QiaoError component (its `code` lists the catalogue, src/errors/codes.ts).' },
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
    extraOps: live.extraOps,
    accessEpoch: () => live.accessEpoch() + sessions.accessEpoch(),
    limits: {
      maxPayloadBytes: config.maxPayloadBytes,
      maxSubscriptions: config.maxSubscriptions,
      ratePerS: config.rateLimitPerS,
      burst: config.rateLimitBurst,
    },
  };
  const gw = { sessionDeps, tokens: deps.tokens, hub, registry, metrics, nodeId: config.nodeId, slowConsumerBytes: config.slowConsumerBytes, publicNodes: config.publicNodes };
  await app.register(async (scope) => websocketGateway(scope, gw));
  await app.register(async (scope) => authRoutes(scope, deps));
  await app.register(async (scope) => channelRoutes(scope, deps));
  await app.register(async (scope) => subscriptionRoutes(scope, deps));
  await app.register(async (scope) => ingestRoutes(scope, deps));
  await app.register(async (scope) => accountIngestRoutes(scope, deps));
  await app.register(async (scope) => accountEventsRoutes(scope, deps));
  await app.register(async (scope) => pushRoutes(scope, deps));
  await app.register(async (scope) => alertRuleRoutes(scope, deps));
  await app.register(async (scope) => securitiesRoutes(scope, deps));
  await app.register(async (scope) => researchRoutes(scope, deps));
  await app.register(async (scope) => teamRoutes(scope, deps));
  await app.register(async (scope) => healthRoutes(scope, deps));
  await app.register(asyncApiRoutes);
  await app.register(async (scope) => recommendationRoutes(scope, deps));
  await app.register(async (scope) => approvalRoutes(scope, deps));
  await app.register(async (scope) => taskRoutes(scope, deps));
  await app.register(async (scope) => complianceRoutes(scope, deps));
  await app.register(async (scope) => inboxRoutes(scope, deps));
  await app.register(async (scope) => preferencesRoutes(scope, deps));
  await app.register(async (scope) => deliveryRoutes(scope, deps));
  await app.register(async (scope) => conversationRoutes(scope, deps));
  await app.register(async (scope) => clientRoutes(scope, deps));
  await app.register(async (scope) => adminOrgRoutes(scope, deps));
  await app.register(async (scope) => adminRoutes(scope, deps));
  await app.register(async (scope) => importRoutes(scope, deps));
  await app.register(async (scope) => clientListRoutes(scope, deps));
  // <service-routes> (issue 11)
  await app.register(async (scope) => serviceRoutes(scope, deps));
  await app.register(async (scope) => complaintRoutes(scope, { ...deps, complaints: complaintsSvc }));
  await app.register(async (scope) => followupRoutes(scope, deps));
  await app.register(async (scope) => surveyRoutes(scope, deps));
  await app.register(async (scope) => reminderRoutes(scope, deps));
  // Operations (issue 13): the admins' queue dashboard (services mode).
  await app.register(async (scope) => queueDashboardRoutes(scope, deps));
  await app.register(webRoutes, {});
  app.setNotFoundHandler(async () => {
    throw new QiaoError('QIAO_NOT_FOUND');
  });

  const io = socketIoGateway(app, gw);
  app.decorate('io', io);

  let draining: Promise<void> | null = null;
  // While draining, writes are refused at once with QIAO_DRAINING (reads are still served until the
  // node closes): a publisher retries on another node instead of waiting for a reset.
  app.addHook('onRequest', async (req) => {
    if (registry.draining && req.method !== 'GET' && req.method !== 'HEAD') throw new QiaoError('QIAO_DRAINING');
  });
  app.decorate('drain', function drain(): Promise<void> {
    draining ??= (async () => {
      const t0 = Date.now();
      registry.draining = true;
      publisher.drain();
      // Ask everyone to reconnect (to any node) with their offsets; stagger so nodes are not stampeded.
      for (const s of registry.all()) s.push({ t: 'reconnect', reason: 'node draining', afterMs: Math.floor(Math.random() * config.reconnectAfterMs) });
      // Publishes already in flight finish (commit and relay): they were accepted, so they are answered.
      await publisher.idle(config.drainTimeoutMs);
      // Sockets move by themselves after their `afterMs`; whoever is left is closed once that has passed.
      const moveBy = Date.now() + config.reconnectAfterMs + 1000;
      while (registry.size > 0 && Date.now() < moveBy) await new Promise((r) => setTimeout(r, 25));
      for (const s of registry.all()) s.close(ERRORS.QIAO_DRAINING.wsClose, 'QIAO_DRAINING');
      app.log.info({ ms: Date.now() - t0 }, 'drained');
      await app.close();
    })();
    return draining;
  });

  // Embedded mode: fanout, email, digest and escalation workers run in this process on the MemoryQueue.
  // An in-memory database gets a throw-away outbox, removed on close (tests must not fill the real one).
  const tmpOutbox = !opts.outboxDir && opts.inMemoryDb ? join(tmpdir(), `qiao-outbox-${randomBytes(4).toString('hex')}`) : undefined;
  const workers = config.delivery.embeddedWorkers
    ? (await import('../workers/index.ts')).startWorkers({
        config,
        logger: app.log,
        db: db.db,
        queue,
        presence,
        outboxDir: opts.outboxDir ?? tmpOutbox,
        // An in-memory hub is a test's: its SMS stay beside its .eml files, not in the real <dataDir>.
        smsOutboxDir: opts.smsOutboxDir ?? (opts.inMemoryDb ? join((opts.outboxDir ?? tmpOutbox)!, 'sms') : undefined),
        // Workers inside the hub report on the hub's /metrics.
        metrics: createWorkerMetrics(metrics.registry),
      })
    : null;

  app.addHook('onReady', async () => sweeper.start());
  app.addHook('onClose', async () => {
    await sweeper.close().catch(() => {});
    account.feed.close();
    // First: firings still being published need the queue, bus and database.
    await alerting.close().catch((err) => app.log.warn({ err }, 'closing the alert engine failed'));
    await workers?.close().catch((err) => app.log.warn({ err }, 'closing workers failed'));
    // Relays in flight finish (or stay in the outbox for another node's sweeper) before the bus goes.
    await relay.close().catch((err) => app.log.warn({ err }, 'closing the relay failed'));
    if (tmpOutbox) await rm(tmpOutbox, { recursive: true, force: true }).catch(() => {});
    await queue.close().catch(() => {});
    await new Promise<void>((resolve) => io.close(() => resolve()));
    await hub.close();
    await live.close().catch(() => {});
    await sessions.close().catch(() => {});
    await presence.close().catch(() => {});
    await bus.close().catch(() => {});
    await db.close().catch(() => {});
    rateRedis?.disconnect();
  });
  return app;
}

const isOpsPath = (url: string) => /^\/(metrics|docs|asyncapi\.json)(\/|\?|$)/.test(url);

/** Whether an address is loopback (127.0.0.0/8, ::1, or IPv4-mapped loopback). */
export function isLoopback(addr: string | undefined): boolean {
  if (!addr) return false;
  const a = addr.startsWith('::ffff:') ? addr.slice(7) : addr;
  return a === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(a);
}

/** QIAO_OPS_ALLOW / QIAO_OPS_TOKEN: who may read /metrics, /docs and /asyncapi.json. */
export function opsAllowed(config: Config, addr: string | undefined, token: string | string[] | undefined): boolean {
  if (config.security.opsAllow === 'all') return true;
  const t = config.security.opsToken;
  if (t && typeof token === 'string') {
    const a = Buffer.from(token);
    const b = Buffer.from(t);
    if (a.length === b.length && timingSafeEqual(a, b)) return true;
  }
  return isLoopback(addr);
}
