/**
 * The one configuration schema. This is the only module that reads `process.env`.
 * Unknown QIAO_* variables and bad values stop the start with a message naming the variable.
 * Embedded mode (PGlite + in-process bus and queue) is chosen here when DATABASE_URL / REDIS_URL are absent.
 */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { parseRedisUrl } from '../store/redis-client.ts';

const intFrom = (def: number, min = 0) => z.coerce.number().int().min(min).default(def);
const bool = (def: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'])
    .default(def ? 'true' : 'false')
    .transform((v) => v === 'true' || v === '1' || v === 'yes');

/** Environment variables, by name. Defaults carry their unit in the comment. */
const EnvSchema = z
  .object({
    NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
    /** Postgres URL; absent → embedded PGlite under QIAO_DATA_DIR. */
    DATABASE_URL: z.string().url().optional(),
    /**
     * Redis URL; absent → in-process bus and queue. `redis://host:port[/db]` for one server,
     * `redis+cluster://host1:port1,host2:port2` for a Redis Cluster (seed nodes; docs/cluster.md).
     */
    REDIS_URL: z
      .string()
      .superRefine((v, ctx) => {
        try {
          parseRedisUrl(v);
        } catch (e) {
          ctx.addIssue({ code: 'custom', message: (e as Error).message });
        }
      })
      .optional(),
    /** Key prefix in Redis, so several deployments (or test runs) can share one server. */
    QIAO_REDIS_PREFIX: z.string().regex(/^[A-Za-z0-9:_-]{1,64}$/).default('qiao:'),
    HOST: z.string().default('0.0.0.0'),
    PORT: intFrom(3000, 0), // TCP port
    /** Folder for embedded data (PGlite files, VAPID keys, mail outbox). */
    QIAO_DATA_DIR: z.string().default('.qiao-data'),
    /** Node name shown to clients and in logs; default hostname-pid. */
    QIAO_NODE_ID: z.string().min(1).optional(),
    /** HMAC secret for session tokens (≥ 32 chars). Required in production. */
    QIAO_JWT_SECRET: z.string().min(32).optional(),
    QIAO_TOKEN_TTL_S: intFrom(8 * 3600, 1), // seconds
    /** API key of the market-data feed for /api/ingest/*. */
    QIAO_FEED_API_KEY: z.string().min(16).optional(),
    /**
     * Account-event sources and their API keys (docs/account-events.md): `name:key` pairs, comma-separated;
     * a source may appear twice during key rotation. Unset: demo keys outside production, none in production.
     */
    QIAO_INGEST_SOURCES: z
      .string()
      .regex(/^\s*[a-z][a-z0-9-]{1,31}:[A-Za-z0-9._~+/=-]{16,256}\s*(,\s*[a-z][a-z0-9-]{1,31}:[A-Za-z0-9._~+/=-]{16,256}\s*)*$/, 'comma-separated source:key pairs (source: a–z, 0–9, "-"; key: at least 16 characters)')
      .optional(),
    QIAO_MAX_PAYLOAD_BYTES: intFrom(64 * 1024, 256), // bytes, per publication / frame / REST body
    QIAO_MAX_SUBSCRIPTIONS: intFrom(256, 1), // per connection
    QIAO_RATE_LIMIT_PER_S: intFrom(50, 1), // commands per second per connection (token bucket refill)
    QIAO_RATE_LIMIT_BURST: intFrom(100, 1), // commands, bucket size
    QIAO_SLOW_CONSUMER_BYTES: intFrom(4 * 1024 * 1024, 1024), // bytes buffered to one socket before it is cut off
    QIAO_DRAIN_TIMEOUT_MS: intFrom(10_000, 0), // ms to wait for in-flight work on SIGTERM
    QIAO_RECONNECT_AFTER_MS: intFrom(500, 0), // ms clients wait before reconnecting when a node drains
    /** Base URLs of the deployment's nodes (comma-separated http(s)/ws(s) URLs), advertised to clients in the welcome for failover. */
    QIAO_PUBLIC_NODES: z
      .string()
      .regex(/^\s*((https?|wss?):\/\/[^\s,]+\s*(,\s*(https?|wss?):\/\/[^\s,]+\s*)*)?$/, 'comma-separated http(s):// or ws(s):// base URLs')
      .default(''),
    QIAO_SEED_DEMO: bool(true),
    QIAO_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    QIAO_PG_POOL_SIZE: intFrom(10, 1), // connections
    /** Run migrations at start. false when the hub connects as the restricted role (docs/operations.md) and migrations run as the owner. */
    QIAO_MIGRATE_ON_START: bool(true),
    QIAO_EXPORT_MAX_RECORDS: intFrom(10_000, 1), // archive records in one compliance export
    /** VAPID `sub` claim: how push services reach the operator (mailto: or https: URL). */
    QIAO_VAPID_SUBJECT: z.string().regex(/^(mailto:\S+@\S+|https:\/\/\S+)$/, 'mailto: address or https: URL').default('mailto:ops@qiao.example'),
    QIAO_PUSH_TIMEOUT_MS: intFrom(10_000, 100), // ms per request to a push service
    // Push jobs in flight per worker process. A push waits on the push service far longer than it
    // costs CPU: 64 → 256 in flight took the bench worker from 1,023 to 1,299 deliveries/s.
    QIAO_PUSH_CONCURRENCY: intFrom(128, 1),
    /** Hosts a browser push endpoint may point at (comma-separated; `*.x.com` subdomains, `*` any): the worker POSTs there. */
    QIAO_PUSH_ENDPOINT_HOSTS: z
      .string()
      .regex(/^\s*[A-Za-z0-9*.:-]+(\s*,\s*[A-Za-z0-9*.:-]+)*\s*$/, 'comma-separated host names')
      .default('fcm.googleapis.com,*.googleapis.com,updates.push.services.mozilla.com,*.push.services.mozilla.com,*.notify.windows.com,*.push.apple.com'),
    QIAO_ALERT_RULES_PER_USER: intFrom(200, 1), // price-alert rules
    QIAO_ALERT_HYSTERESIS_BP: intFrom(20, 0), // basis points (1/10,000 of the threshold) a repeat rule's price must move back to re-arm
    QIAO_ALERT_RESYNC_S: intFrom(300, 0), // seconds between reloads of the alert-rule index from Postgres (0: never)
    /** SMTP server for email (smtp:// or smtps://, credentials in the URL); unset in embedded mode → .eml files in <QIAO_DATA_DIR>/outbox. */
    QIAO_SMTP_URL: z.string().regex(/^smtps?:\/\/\S+$/, 'smtp:// or smtps:// URL').optional(),
    QIAO_MAIL_FROM: z.string().min(3).default('桥 Qiao <no-reply@qiao.example>'),
    /** Public URL of the web client, for links in emails; default http://localhost:<PORT>. */
    QIAO_PUBLIC_URL: z.string().url().optional(),
    /** Run the delivery workers inside the hub process (default: true in embedded mode, false in services mode). */
    QIAO_EMBEDDED_WORKERS: z.enum(['true', 'false', '1', '0', 'yes', 'no']).optional(),
    QIAO_SMTP_POOL_SIZE: intFrom(8, 1), // pooled SMTP connections per worker process
    QIAO_EMAIL_CONCURRENCY: intFrom(32, 1), // email jobs in flight per worker process
    QIAO_EMAIL_ATTEMPTS: intFrom(8, 1), // tries per email before it is dead-lettered
    QIAO_EMAIL_BACKOFF_MS: intFrom(2000, 1), // ms before the first retry (doubles each try, up to 50% jitter)
    QIAO_DELIVERY_LEASE_MS: intFrom(60_000, 100), // ms a worker's claim on a delivery row lasts before another may take it over
    /** A send whose worker died mid-way: 'resend' (at-least-once: may arrive twice) or 'dead-letter' (never twice: flagged for an admin to replay). */
    QIAO_EMAIL_ON_CRASH: z.enum(['resend', 'dead-letter']).default('resend'),
    /** SMS centre over SMPP 3.4: smpp://system_id:password@host:port[?system_type=…] (ssmpp:// for TLS); unset → JSON files in <QIAO_DATA_DIR>/sms-outbox. docs/sms.md. */
    QIAO_SMPP_URL: z.string().regex(/^s?smpp:\/\/[^\s:@/]+:[^\s@/]*@[^\s@/]+(\/|\/?\?\S*)?$/, 'smpp://system_id:password@host:port URL').optional(),
    /** Sender address the SMSC assigned (the firm's 106… short code). */
    QIAO_SMPP_SOURCE_ADDR: z.string().regex(/^[0-9A-Za-z]{1,20}$/).default('10690000'),
    QIAO_SMPP_WINDOW: intFrom(10, 1), // submit_sm awaiting a response, as the SMSC allows
    QIAO_SMPP_RATE: intFrom(100, 0), // submit_sm per second, as the SMSC allows (0: no limit)
    QIAO_SMPP_ENQUIRE_LINK_MS: intFrom(30_000, 100), // ms between keep-alive enquire_link
    QIAO_SMPP_RESPONSE_TIMEOUT_MS: intFrom(10_000, 50), // ms to wait for a response (or a bind) before giving the job back to retry
    QIAO_SMPP_REBIND_MIN_MS: intFrom(1000, 10), // ms before the first rebind after a lost connection (doubles)
    QIAO_SMPP_REBIND_MAX_MS: intFrom(60_000, 10), // ms at most between rebinds
    QIAO_SMS_MAX_SEGMENTS: intFrom(5, 1), // concatenated segments per SMS (67 Chinese characters each); longer → QIAO_SMS_TOO_LONG
    QIAO_SMS_DAILY_CAP: intFrom(20, 1), // SMS per user per Asia/Shanghai day; more are suppressed 'daily-cap'
    QIAO_SMS_CONCURRENCY: intFrom(64, 1), // SMS jobs in flight per worker process
    QIAO_SMS_ATTEMPTS: intFrom(8, 1), // tries per SMS before it is dead-lettered
    QIAO_SMS_BACKOFF_MS: intFrom(2000, 1), // ms before the first retry (doubles each try)
    QIAO_QUEUE_LOCK_MS: intFrom(30_000, 100), // ms a BullMQ worker holds a job lock (renewed while alive; bounds crash recovery)
    QIAO_SWEEP_INTERVAL_MS: intFrom(30_000, 100), // ms between sweeps: held items now due, digests, repair
    QIAO_ESCALATION_PUSH_AFTER_S: intFrom(600, 0), // seconds unread before a must-acknowledge message is pushed
    QIAO_ESCALATION_EMAIL_AFTER_S: intFrom(1200, 0), // further seconds unread before it is emailed
    /** Exchange holidays (no A-share sessions), comma-separated YYYY-MM-DD. */
    QIAO_MARKET_HOLIDAYS: z.string().regex(/^\s*(\d{4}-\d{2}-\d{2}\s*(,\s*\d{4}-\d{2}-\d{2}\s*)*)?$/, 'comma-separated YYYY-MM-DD dates').default(''),
    QIAO_FANOUT_BATCH: intFrom(1000, 1), // recipients per fanout page
    QIAO_SESSION_CACHE_TTL_MS: intFrom(10_000, 0), // ms a node trusts its cached session version / account state without a bus invalidation (safety net)
    QIAO_HTTP_RATE_LIMIT_MAX: intFrom(1200, 1), // REST requests under /api/ per client address per window
    QIAO_HTTP_RATE_LIMIT_WINDOW_S: intFrom(60, 1), // seconds
    QIAO_LOGIN_RATE_MAX: intFrom(60, 1), // login attempts (any outcome) per client address per minute
    QIAO_LOGIN_MAX_FAILURES_PER_ACCOUNT: intFrom(5, 1), // failed logins per login name before it is locked for the window
    QIAO_LOGIN_MAX_FAILURES_PER_ADDRESS: intFrom(50, 1), // failed logins per client address before it is locked for the window
    QIAO_LOGIN_LOCKOUT_S: intFrom(900, 1), // seconds: window in which failures are counted, and the lockout after the limit
    /** Who may read /metrics and /docs: `loopback` (127.0.0.0/8, ::1) or `all`. */
    QIAO_OPS_ALLOW: z.enum(['loopback', 'all']).default('loopback'),
    /** Optional shared secret: a request with header `X-Ops-Token: <value>` may read /metrics and /docs from any address. */
    QIAO_OPS_TOKEN: z.string().min(16).optional(),
    // --- broker service (issue 11; docs/service.md) ---
    QIAO_SERVICE_SWEEP_MS: intFrom(60_000, 0), // ms between service sweeps (reminders, follow-ups, surveys, complaint deadlines); 0: this node runs none (tests sweep by hand)
    QIAO_SERVICE_WAITING_REMINDER_MIN: intFrom(30, 1), // minutes a client may wait for a first reply before the broker is reminded
    QIAO_SERVICE_SURVEY_QUIET_H: intFrom(24, 1), // hours a conversation must be quiet before the client is sent a satisfaction survey
    QIAO_COMPLAINT_ACK_H: intFrom(24, 1), // hours to acknowledge a complaint
    QIAO_COMPLAINT_RESOLVE_D: intFrom(15, 1), // days to resolve a complaint
    /** Key material for TOTP secrets at rest (AES-256-GCM key = SHA-256 of it); default: derived from QIAO_JWT_SECRET. */
    QIAO_TOTP_KEY: z.string().min(32).optional(),
    /** Roles that must enrol a TOTP second factor (comma-separated; empty: none). */
    QIAO_TOTP_REQUIRED_ROLES: z
      .string()
      .regex(/^\s*((client|broker|manager|research|compliance|admin)\s*(,\s*(client|broker|manager|research|compliance|admin)\s*)*)?$/, 'comma-separated roles (client, broker, manager, research, compliance, admin) or empty')
      .default('admin,compliance'),
    // --- operations (issue 13; docs/operations.md) ---
    QIAO_SHUTDOWN_TIMEOUT_MS: intFrom(30_000, 100), // ms a process may take to close on SIGTERM/SIGINT (hub drain included) before it is forced to exit 1
    /** Port of a worker process's /health/* and /metrics (0: none). Several workers on one host each need their own. */
    QIAO_WORKER_METRICS_PORT: intFrom(9464, 0),
    QIAO_QUEUE_DASHBOARD_COOKIE_S: intFrom(900, 10), // seconds the admin queue-dashboard cookie lasts
  })
  .strict();

export interface ServiceConfig {
  sweepMs: number;
  waitingReminderMin: number;
  surveyQuietH: number;
  complaintAckH: number;
  complaintResolveD: number;
}

export interface Config {
  env: 'development' | 'production' | 'test';
  mode: 'embedded' | 'services';
  databaseUrl?: string;
  redisUrl?: string;
  redisPrefix: string;
  host: string;
  port: number;
  dataDir: string;
  nodeId: string;
  jwtSecret: string;
  /** True when QIAO_JWT_SECRET was not set and `jwtSecret` is a random one (see main.ts). */
  jwtSecretGenerated: boolean;
  tokenTtlS: number;
  feedApiKey: string;
  /** Account-event sources (trading, back office) with their API keys; several keys per source during rotation. */
  ingestSources: Array<{ source: string; key: string }>;
  maxPayloadBytes: number;
  maxSubscriptions: number;
  rateLimitPerS: number;
  rateLimitBurst: number;
  slowConsumerBytes: number;
  drainTimeoutMs: number;
  reconnectAfterMs: number;
  /** Node base URLs advertised to clients (QIAO_PUBLIC_NODES), without trailing slashes. */
  publicNodes: string[];
  seedDemo: boolean;
  logLevel: string;
  pgPoolSize: number;
  migrateOnStart: boolean;
  exportMaxRecords: number;
  /** Fanout and delivery workers (email, digests, escalation). */
  delivery: DeliveryConfig;
  /** SMS over SMPP (docs/sms.md). */
  sms: SmsConfig;
  /** Broker service: reminders, follow-ups, surveys, complaint deadlines (docs/service.md). */
  service: ServiceConfig;
  vapidSubject: string;
  pushTimeoutMs: number;
  pushConcurrency: number;
  pushEndpointHosts: string[];
  alertRulesPerUser: number;
  alertHysteresisBp: number;
  alertResyncS: number;
  /** Account security: session cache, REST and login throttling (docs/accounts.md). */
  security: SecurityConfig;
  /** Shutdown, worker health/metrics and the queue dashboard (docs/operations.md). */
  ops: OpsConfig;
}

export interface OpsConfig {
  shutdownTimeoutMs: number;
  /** 0: the worker process serves no health/metrics port. */
  workerMetricsPort: number;
  dashboardCookieS: number;
}

export interface SecurityConfig {
  sessionCacheTtlMs: number;
  httpRateLimitMax: number;
  httpRateLimitWindowS: number;
  loginRateMax: number;
  loginMaxFailuresPerAccount: number;
  loginMaxFailuresPerAddress: number;
  loginLockoutS: number;
  opsAllow: 'loopback' | 'all';
  opsToken?: string;
  /** Key material of the TOTP secrets' encryption key (QIAO_TOTP_KEY); unset: derived from the JWT secret (src/auth/totp.ts). */
  totpKey?: string;
  /** Roles that must enrol TOTP before using anything but their account (QIAO_TOTP_REQUIRED_ROLES). */
  totpRequiredRoles: string[];
}

export interface SmsConfig {
  smppUrl?: string;
  sourceAddr: string;
  window: number;
  ratePerS: number;
  enquireLinkMs: number;
  responseTimeoutMs: number;
  rebindMinMs: number;
  rebindMaxMs: number;
  maxSegments: number;
  dailyCap: number;
  concurrency: number;
  attempts: number;
  backoffMs: number;
}

export interface DeliveryConfig {
  smtpUrl?: string;
  mailFrom: string;
  publicUrl: string;
  embeddedWorkers: boolean;
  smtpPoolSize: number;
  emailConcurrency: number;
  emailAttempts: number;
  emailBackoffMs: number;
  leaseMs: number;
  emailOnCrash: 'resend' | 'dead-letter';
  queueLockMs: number;
  sweepIntervalMs: number;
  escalationPushAfterS: number;
  escalationEmailAfterS: number;
  marketHolidays: string[];
  fanoutBatch: number;
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** Demo keys of the trading and back-office systems (never used in production). */
export const DEMO_INGEST_SOURCES = 'trading:demo-trading-key-change-me,backoffice:demo-backoffice-key-change-me';

function parseIngestSources(list: string): Array<{ source: string; key: string }> {
  const out: Array<{ source: string; key: string }> = [];
  for (const pair of list.split(',')) {
    const t = pair.trim();
    if (!t) continue;
    const i = t.indexOf(':');
    out.push({ source: t.slice(0, i), key: t.slice(i + 1) });
  }
  if (new Set(out.map((s) => s.key)).size !== out.length) throw new ConfigError('QIAO_INGEST_SOURCES: each key must be distinct (a key names its source)');
  return out;
}

const KNOWN = new Set(Object.keys(EnvSchema.shape));
const OWN_PREFIX = /^QIAO_/;
const KEEP_EMPTY = new Set(['QIAO_TOTP_REQUIRED_ROLES']);

/**
 * Builds the config from an environment (default: process.env). Only our own variables are read:
 * the QIAO_* family plus the standard ones named in the schema. An unknown QIAO_* name is an error
 * (it is almost always a typo that would otherwise be silently ignored).
 */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const picked: Record<string, string> = {};
  const unknown: string[] = [];
  for (const [k, v] of Object.entries(env)) {
    // Empty means unset, except where empty is a value of its own (no role needs TOTP).
    if (v === undefined || (v === '' && !KEEP_EMPTY.has(k))) continue;
    if (KNOWN.has(k)) picked[k] = v;
    else if (OWN_PREFIX.test(k)) unknown.push(k);
  }
  if (unknown.length) throw new ConfigError(`Unknown configuration variable(s): ${unknown.join(', ')}`);
  const parsed = EnvSchema.safeParse(picked);
  if (!parsed.success) {
    const msg = parsed.error.issues.map((i) => `${i.path.join('.') || '(env)'}: ${i.message}`).join('; ');
    throw new ConfigError(`Invalid configuration: ${msg}`);
  }
  const e = parsed.data;
  if (e.NODE_ENV === 'production' && !e.QIAO_JWT_SECRET) {
    throw new ConfigError('QIAO_JWT_SECRET: required when NODE_ENV=production');
  }
  if (Boolean(e.DATABASE_URL) !== Boolean(e.REDIS_URL)) {
    throw new ConfigError(
      `${e.DATABASE_URL ? 'REDIS_URL' : 'DATABASE_URL'}: set both DATABASE_URL and REDIS_URL for services mode, or neither for embedded mode`,
    );
  }
  // Development without a secret: a random per-process one (tokens then die with the process).
  const jwtSecret = e.QIAO_JWT_SECRET ?? randomBytes(32).toString('hex');
  return {
    env: e.NODE_ENV,
    mode: e.DATABASE_URL ? 'services' : 'embedded',
    databaseUrl: e.DATABASE_URL,
    redisUrl: e.REDIS_URL,
    redisPrefix: e.QIAO_REDIS_PREFIX,
    host: e.HOST,
    port: e.PORT,
    dataDir: e.QIAO_DATA_DIR,
    nodeId: e.QIAO_NODE_ID ?? `qiao-${process.pid}`,
    jwtSecret,
    jwtSecretGenerated: !e.QIAO_JWT_SECRET,
    tokenTtlS: e.QIAO_TOKEN_TTL_S,
    feedApiKey: e.QIAO_FEED_API_KEY ?? 'demo-feed-key-change-me',
    ingestSources: parseIngestSources(e.QIAO_INGEST_SOURCES ?? (e.NODE_ENV === 'production' ? '' : DEMO_INGEST_SOURCES)),
    maxPayloadBytes: e.QIAO_MAX_PAYLOAD_BYTES,
    maxSubscriptions: e.QIAO_MAX_SUBSCRIPTIONS,
    rateLimitPerS: e.QIAO_RATE_LIMIT_PER_S,
    rateLimitBurst: e.QIAO_RATE_LIMIT_BURST,
    slowConsumerBytes: e.QIAO_SLOW_CONSUMER_BYTES,
    drainTimeoutMs: e.QIAO_DRAIN_TIMEOUT_MS,
    reconnectAfterMs: e.QIAO_RECONNECT_AFTER_MS,
    publicNodes: e.QIAO_PUBLIC_NODES.split(',').map((u) => u.trim().replace(/\/+$/, '')).filter(Boolean),
    seedDemo: e.QIAO_SEED_DEMO,
    logLevel: e.QIAO_LOG_LEVEL,
    pgPoolSize: e.QIAO_PG_POOL_SIZE,
    migrateOnStart: e.QIAO_MIGRATE_ON_START,
    exportMaxRecords: e.QIAO_EXPORT_MAX_RECORDS,
    delivery: {
      smtpUrl: e.QIAO_SMTP_URL,
      mailFrom: e.QIAO_MAIL_FROM,
      publicUrl: (e.QIAO_PUBLIC_URL ?? `http://localhost:${e.PORT}`).replace(/\/+$/, ''),
      embeddedWorkers: e.QIAO_EMBEDDED_WORKERS === undefined ? !e.DATABASE_URL : ['true', '1', 'yes'].includes(e.QIAO_EMBEDDED_WORKERS),
      smtpPoolSize: e.QIAO_SMTP_POOL_SIZE,
      emailConcurrency: e.QIAO_EMAIL_CONCURRENCY,
      emailAttempts: e.QIAO_EMAIL_ATTEMPTS,
      emailBackoffMs: e.QIAO_EMAIL_BACKOFF_MS,
      leaseMs: e.QIAO_DELIVERY_LEASE_MS,
      emailOnCrash: e.QIAO_EMAIL_ON_CRASH,
      queueLockMs: e.QIAO_QUEUE_LOCK_MS,
      sweepIntervalMs: e.QIAO_SWEEP_INTERVAL_MS,
      escalationPushAfterS: e.QIAO_ESCALATION_PUSH_AFTER_S,
      escalationEmailAfterS: e.QIAO_ESCALATION_EMAIL_AFTER_S,
      marketHolidays: e.QIAO_MARKET_HOLIDAYS.split(',').map((d) => d.trim()).filter(Boolean),
      fanoutBatch: e.QIAO_FANOUT_BATCH,
    },
    sms: {
      smppUrl: e.QIAO_SMPP_URL,
      sourceAddr: e.QIAO_SMPP_SOURCE_ADDR,
      window: e.QIAO_SMPP_WINDOW,
      ratePerS: e.QIAO_SMPP_RATE,
      enquireLinkMs: e.QIAO_SMPP_ENQUIRE_LINK_MS,
      responseTimeoutMs: e.QIAO_SMPP_RESPONSE_TIMEOUT_MS,
      rebindMinMs: e.QIAO_SMPP_REBIND_MIN_MS,
      rebindMaxMs: Math.max(e.QIAO_SMPP_REBIND_MAX_MS, e.QIAO_SMPP_REBIND_MIN_MS),
      maxSegments: e.QIAO_SMS_MAX_SEGMENTS,
      dailyCap: e.QIAO_SMS_DAILY_CAP,
      concurrency: e.QIAO_SMS_CONCURRENCY,
      attempts: e.QIAO_SMS_ATTEMPTS,
      backoffMs: e.QIAO_SMS_BACKOFF_MS,
    },
    service: {
      sweepMs: e.QIAO_SERVICE_SWEEP_MS,
      waitingReminderMin: e.QIAO_SERVICE_WAITING_REMINDER_MIN,
      surveyQuietH: e.QIAO_SERVICE_SURVEY_QUIET_H,
      complaintAckH: e.QIAO_COMPLAINT_ACK_H,
      complaintResolveD: e.QIAO_COMPLAINT_RESOLVE_D,
    },
    vapidSubject: e.QIAO_VAPID_SUBJECT,
    pushTimeoutMs: e.QIAO_PUSH_TIMEOUT_MS,
    pushConcurrency: e.QIAO_PUSH_CONCURRENCY,
    pushEndpointHosts: e.QIAO_PUSH_ENDPOINT_HOSTS.split(',').map((h) => h.trim().toLowerCase()).filter(Boolean),
    alertRulesPerUser: e.QIAO_ALERT_RULES_PER_USER,
    alertHysteresisBp: e.QIAO_ALERT_HYSTERESIS_BP,
    alertResyncS: e.QIAO_ALERT_RESYNC_S,
    security: {
      sessionCacheTtlMs: e.QIAO_SESSION_CACHE_TTL_MS,
      httpRateLimitMax: e.QIAO_HTTP_RATE_LIMIT_MAX,
      httpRateLimitWindowS: e.QIAO_HTTP_RATE_LIMIT_WINDOW_S,
      loginRateMax: e.QIAO_LOGIN_RATE_MAX,
      loginMaxFailuresPerAccount: e.QIAO_LOGIN_MAX_FAILURES_PER_ACCOUNT,
      loginMaxFailuresPerAddress: e.QIAO_LOGIN_MAX_FAILURES_PER_ADDRESS,
      loginLockoutS: e.QIAO_LOGIN_LOCKOUT_S,
      opsAllow: e.QIAO_OPS_ALLOW,
      opsToken: e.QIAO_OPS_TOKEN,
      totpKey: e.QIAO_TOTP_KEY,
      totpRequiredRoles: e.QIAO_TOTP_REQUIRED_ROLES.split(',').map((r) => r.trim()).filter(Boolean),
    },
    ops: {
      shutdownTimeoutMs: e.QIAO_SHUTDOWN_TIMEOUT_MS,
      workerMetricsPort: e.QIAO_WORKER_METRICS_PORT,
      dashboardCookieS: e.QIAO_QUEUE_DASHBOARD_COOKIE_S,
    },
  };
}

/** Only for the CLI: how to run (argv is not env, but keeping process access here keeps the rule simple). */
export function processArgs(): string[] {
  return process.argv.slice(2);
}

/**
 * What a hub node (`start`) needs beyond a valid configuration. In services mode several nodes share
 * the clients: a node with a generated token key would issue tokens every other node refuses.
 */
export function checkHubConfig(c: Config): void {
  if (c.mode === 'services' && c.jwtSecretGenerated) {
    throw new ConfigError(
      'QIAO_JWT_SECRET: required in services mode (DATABASE_URL + REDIS_URL), the same on every hub node; with a generated key each node would refuse the tokens of the others',
    );
  }
}
