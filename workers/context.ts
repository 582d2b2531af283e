/**
 * What every delivery worker is given: repositories over one database handle, the job queue, the
 * mail and SMS transports, a clock (tests shift it) and the market holiday calendar. Built once per process.
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyBaseLogger } from 'fastify';
import type { Config } from '../src/config/config.ts';
import type { SentTransport } from '../src/domain/routing.ts';
import type { DeliveryWorker } from './delivery.worker.ts';
import type { Holidays } from '../src/domain/trading-sessions.ts';
import type { Presence } from '../src/presence/presence.ts';
import type { JobQueue } from '../src/queue/queue.ts';
import type { Db } from '../src/store/db.ts';
import { DeliveriesRepo } from '../src/store/deliveries-repo.ts';
import { InboxRepo } from '../src/store/inbox-repo.ts';
import { PrefsRepo } from '../src/store/prefs-repo.ts';
import { RecipientsRepo, type MessageRow } from '../src/store/recipients-repo.ts';
import type { MailTransport } from './transports/email-transport.ts';
import { pushWorker, type PushWorker } from './push.worker.ts';
import type { PushTransport } from './transports/push-transport.ts';
import { OutboxSmsTransport, type SmsTransport } from './transports/sms-transport.ts';
import type { WorkerMetrics } from './worker-metrics.ts';

export interface WorkerDeps {
  config: Config;
  logger: FastifyBaseLogger;
  db: Db;
  queue: JobQueue;
  /** Default: SMTP when QIAO_SMTP_URL is set, else .eml files in <QIAO_DATA_DIR>/outbox. */
  mail?: MailTransport;
  /** Online users get no push (the live socket showed the message); absent → everyone counts as offline. */
  presence?: Presence;
  /** The routing clock (quiet hours, sessions, digests); default `new Date()`. */
  now?: () => Date;
  /** Where .eml files go without SMTP; default <QIAO_DATA_DIR>/outbox. */
  outboxDir?: string;
  /** Web push transport; default web-push with the VAPID keys from `settings` (workers/push.worker.ts). */
  push?: PushTransport;
  /** Extra CA (PEM) the default push transport trusts (tests: their local push service's certificate). */
  pushCa?: string;
  /** Default: SMPP when QIAO_SMPP_URL is set, else JSON files in <QIAO_DATA_DIR>/sms-outbox. */
  sms?: SmsTransport;
  /** Where SMS files go without SMPP; default <QIAO_DATA_DIR>/sms-outbox. */
  smsOutboxDir?: string;
  /** Prometheus metrics (workers/worker-metrics.ts); absent → none (benches, unit tests). */
  metrics?: WorkerMetrics;
}

export interface WorkerContext {
  config: Config;
  logger: FastifyBaseLogger;
  queue: JobQueue;
  mail: MailTransport;
  sms: SmsTransport;
  presence?: Presence;
  now: () => Date;
  holidays: Holidays;
  deliveries: DeliveriesRepo;
  inbox: InboxRepo;
  prefs: PrefsRepo;
  recipients: RecipientsRepo;
  /** Stored messages by id, cached: one research note mailed to 10,000 users is read once. */
  message(id: string): Promise<MessageRow | undefined>;
  displayName(userId: string): Promise<string | undefined>;
  /** The web push worker (handler, concurrency, close). */
  push: PushWorker;
  /** The delivery worker of each transport (workers/delivery-transports.ts); set by startWorkers. */
  transports: Record<SentTransport, DeliveryWorker>;
  metrics?: WorkerMetrics;
}

/** A small LRU over an async loader; misses are not cached (a message may not be committed yet). */
function cached<V>(max: number, load: (k: string) => Promise<V | undefined>): (k: string) => Promise<V | undefined> {
  const m = new Map<string, V>();
  return async (k) => {
    const hit = m.get(k);
    if (hit !== undefined) {
      m.delete(k);
      m.set(k, hit);
      return hit;
    }
    const v = await load(k);
    if (v !== undefined) {
      m.set(k, v);
      if (m.size > max) m.delete(m.keys().next().value as string);
    }
    return v;
  };
}

/** `sms` default: an outbox in the OS temp folder (only the bench of fanout decisions omits it). */
export function createContext(deps: WorkerDeps, mail: MailTransport, sms?: SmsTransport): WorkerContext {
  const recipients = new RecipientsRepo(deps.db);
  return {
    config: deps.config,
    logger: deps.logger,
    queue: deps.queue,
    mail,
    sms: sms ?? new OutboxSmsTransport(deps.smsOutboxDir ?? join(tmpdir(), 'qiao-sms-outbox'), deps.config.sms.maxSegments),
    push: pushWorker(deps),
    presence: deps.presence,
    now: deps.now ?? (() => new Date()),
    holidays: new Set(deps.config.delivery.marketHolidays),
    deliveries: new DeliveriesRepo(deps.db),
    inbox: new InboxRepo(deps.db),
    prefs: new PrefsRepo(deps.db),
    recipients,
    message: cached(256, (id) => recipients.message(id)),
    displayName: cached(4096, async (id) => (await recipients.displayNames([id])).get(id)),
    transports: undefined as unknown as Record<SentTransport, DeliveryWorker>,
    metrics: deps.metrics,
  };
}

export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
