/**
 * Web push as a DeliveryTransport: one job per push delivery row (`{deliveryId}`, job id
 * `push-<deliveryId>`), sent to every browser the recipient subscribed (push_subscriptions, per user
 * and device). The row's claim, lease, retry and settle are the shared delivery worker's
 * (workers/delivery.worker.ts); this file renders and sends.
 *
 * 1. Build the notification ({title, body, url, tag}, shown by web-client/sw.js) and the push headers:
 *    TTL per kind (price alerts 300 s: a stale quote is worse than none), Urgency (critical and price
 *    alerts → high, research → low), Topic `alert-<symbol>` for price alerts so the push service
 *    replaces a not-yet-delivered older alert for that symbol with the newer one (and `tag` makes the
 *    browser replace the one on screen).
 * 2. Outcome over the user's devices:
 *    - any device accepted → sent (devices that failed are logged; retrying would re-send to the
 *      devices that already have it);
 *    - 404/410 → that subscription is deleted; if no device is left → suppressed 'no-subscription';
 *    - 429/5xx/network → back to queued and rethrow (the queue retries with backoff), failed
 *      'retries-exhausted' on the last attempt;
 *    - other 4xx (400, 413, VAPID refused) → failed 'rejected' + UnrecoverableJobError.
 *
 * Exactly-once vs at-least-once is the same as for email (docs/operations.md): a second push happens
 * only if a worker dies after the push service accepted and before `sent` is committed; the resend
 * has the same Topic and tag, so the browser shows one notification.
 */
import type { FastifyBaseLogger } from 'fastify';
import type { Config } from '../src/config/config.ts';
import { familyNamed } from '../channels/catalogue.ts';
import { categoryOf, classify } from '../src/domain/routing.ts';
import { DEFAULT_ATTEMPTS, type JobHandler, type JobQueue } from '../src/queue/queue.ts';
import type { Db } from '../src/store/db.ts';
import { DeliveriesRepo } from '../src/store/deliveries-repo.ts';
import { PushRepo, type PushSubscriptionRow } from '../src/store/push-repo.ts';
import { RecipientsRepo } from '../src/store/recipients-repo.ts';
import { Coalescer } from './coalesce.ts';
import { deliveryWorker, type DeliveryJobData, type DeliveryWorker } from './delivery.worker.ts';
import { requeueDelivery } from './enqueue.ts';
import { messageLoader } from './message-loader.ts';
import { STRINGS, langOf } from './templates/strings.ts';
import type { DeliveryTransport, SendOutcome } from './transports/delivery-transport.ts';
import { reminderBody, reminderTitle } from './templates/reminder-text.ts';
import { WebPushTransport, pushTopic, type PushOptions, type PushOutcome, type PushTransport } from './transports/push-transport.ts';

/** What the service worker shows (web-client/sw.js). */
export interface NotificationPayload {
  title: string;
  body: string;
  /** Same-origin path opened on click. */
  url: string;
  /** Notifications with the same tag replace each other on screen. */
  tag: string;
  /** Message id, for the client to mark it read. */
  id: string;
  channel: string;
}

export interface PushMessage {
  payload: NotificationPayload;
  options: PushOptions;
}

/** Seconds a push service keeps a message for an offline device, by what it is. */
export const PUSH_TTL_S = {
  priceAlert: 300,
  marketEvent: 4 * 3600,
  chat: 3600,
  critical: 3 * 86_400,
  default: 86_400,
} as const;

const TITLE_MAX = 120;
const BODY_MAX = 300;

const str = (v: unknown): string | undefined => (typeof v === 'string' && v.trim() ? v.trim() : undefined);
const cut = (s: string, n: number) => (s.length > n ? s.slice(0, n - 1) + '…' : s);

/** The notification and push headers for one stored message (pure; unit-testable). */
export function pushMessageFor(m: { messageId: string; channel: string; kind: string; payload: unknown; locale?: string | null; senderName?: string }): PushMessage {
  const S = STRINGS[langOf(m.locale)];
  const p = (m.payload && typeof m.payload === 'object' ? m.payload : {}) as Record<string, unknown>;
  const family = m.channel.split('.')[0];
  const { critical } = classify(p);
  const symbol = str(p.symbol);
  const priceAlert = m.kind === 'alert' && p.event === 'price' && symbol !== undefined;

  const reminder = m.kind === 'reminder';
  const title = (reminder ? str(reminderTitle(p, langOf(m.locale))) : undefined) ?? str(p.title) ?? (m.kind === 'chat' ? S.newMessage(m.senderName ?? S.brand) : (S.prefix[m.kind] ?? S.brand));
  const body = reminder ? reminderBody(p, langOf(m.locale)) : (str(p.summary) ?? str(p.body) ?? str(p.text) ?? '');
  // A notice's own same-origin path wins; otherwise the message in the web client's inbox.
  const url = typeof p.url === 'string' && p.url.startsWith('/') && !p.url.startsWith('//') ? p.url : `/inbox/${encodeURIComponent(m.messageId)}`;

  let ttlS: number = PUSH_TTL_S.default;
  let urgency: PushOptions['urgency'] = 'normal';
  let topic: string | undefined;
  if (priceAlert) {
    ttlS = PUSH_TTL_S.priceAlert;
    urgency = 'high';
    topic = pushTopic(`alert-${symbol}`);
  } else if (critical) {
    ttlS = PUSH_TTL_S.critical;
    urgency = 'high';
  } else if (m.kind === 'alert') {
    ttlS = PUSH_TTL_S.marketEvent;
  } else if (m.kind === 'chat') {
    ttlS = PUSH_TTL_S.chat;
  } else {
    // The declared urgency of the message's preference category (research notes, forwarded ones: low).
    urgency = familyNamed(categoryOf(family, m.kind)).delivery.pushUrgency;
  }
  return {
    payload: {
      title: cut(title, TITLE_MAX),
      body: cut(body, BODY_MAX),
      url,
      tag: topic ?? m.messageId,
      id: m.messageId,
      channel: m.channel,
    },
    options: { ttlS, urgency, ...(topic ? { topic } : {}) },
  };
}

/** Where a user's browsers are (PushRepo in the worker; a plain list in the contract test). */
export interface PushDirectory {
  listForUser(userId: string): Promise<PushSubscriptionRow[]>;
  /** Optional batched form: concurrent sends then share one read (PushRepo has it). */
  listForUsers?(userIds: string[]): Promise<Map<string, PushSubscriptionRow[]>>;
  /** Subscriptions the push service says are gone (404/410). */
  removeById(ids: string[]): Promise<unknown>;
  /** For operators: when a device last accepted a push. */
  markSuccess(ids: string[]): Promise<unknown>;
}

export interface PushDeliveryOptions {
  directory: PushDirectory;
  /** Resolved on first use (the default transport needs the VAPID keys from the store). */
  transport: () => Promise<PushTransport>;
  attempts: number;
  logger: FastifyBaseLogger;
  close?: () => Promise<void>;
}

export interface RenderedPush {
  body: string;
  options: PushOptions;
}

export function pushDelivery(o: PushDeliveryOptions): DeliveryTransport<RenderedPush> {
  /** Subscription id → when this process last wrote its lastSuccessAt. */
  const markedAt = new Map<string, number>();
  const log = o.logger;
  // Concurrent sends share one subscriptions read and one lastSuccessAt write per event-loop turn.
  const dir = o.directory;
  const lists = dir.listForUsers ? new Coalescer((userIds: string[]) => dir.listForUsers!(userIds)) : undefined;
  const listFor = async (userId: string) => (lists ? ((await lists.get(userId)) ?? []) : dir.listForUser(userId));
  const successes = new Coalescer(async (ids: string[]) => {
    await dir.markSuccess(ids);
  });
  return {
    name: 'push',
    needs: 'push-subscriptions',
    attempts: o.attempts,
    // Same Topic and tag on a resend: the browser shows one notification.
    onTakeover: 'resend',
    wantsSenderName: (m) => m.kind === 'chat',
    render(m, r) {
      const msg = pushMessageFor({ messageId: m.id, channel: m.channel, kind: m.kind, payload: m.payload, locale: r.locale, senderName: m.senderName });
      return { body: JSON.stringify(msg.payload), options: msg.options };
    },
    async send(id, r, c): Promise<SendOutcome> {
      const subs = await listFor(r.userId);
      if (!subs.length) return { result: 'suppressed', reason: 'no-subscription' };
      const t = await o.transport();
      const outcomes: PushOutcome[] = await Promise.all(subs.map((s) => t.send({ endpoint: s.endpoint, p256dh: s.p256dh, auth: s.auth }, c.body, c.options)));
      const ok: string[] = [];
      const gone: string[] = [];
      const failures: string[] = [];
      let transient = false;
      outcomes.forEach((out, i) => {
        if (out.result === 'ok') ok.push(subs[i].id);
        else {
          if (out.result === 'gone') gone.push(subs[i].id);
          if (out.result === 'transient') transient = true;
          failures.push(`${new URL(subs[i].endpoint).host}: ${out.result} ${out.detail}`);
        }
      });
      if (gone.length) {
        await o.directory.removeById(gone);
        log.info({ deliveryId: id, userId: r.userId, removed: gone.length }, 'push subscriptions gone (404/410); deleted');
      }
      if (ok.length) {
        // lastSuccessAt is for operators ("is this device still alive?"): minute precision is plenty,
        // so a busy device costs one write a minute, not one per push.
        const now = Date.now();
        const stale = ok.filter((sid) => (markedAt.get(sid) ?? 0) < now - 60_000);
        if (stale.length) {
          for (const sid of stale) markedAt.set(sid, now);
          if (markedAt.size > 50_000) markedAt.clear();
          await Promise.all(stale.map((sid) => successes.get(sid))).catch((err) => log.warn({ err }, 'push: could not record lastSuccessAt'));
        }
        // Retrying would re-send to the devices that already have it.
        if (failures.length) log.warn({ deliveryId: id, failures }, 'push sent to some devices only');
        return { result: 'sent' };
      }
      const detail = failures.join('; ').slice(0, 1000);
      if (gone.length === subs.length) return { result: 'suppressed', reason: 'no-subscription', detail };
      if (transient) return { result: 'retryable', detail };
      return { result: 'permanent', reason: 'rejected', detail, deadLetter: `push service refused: ${detail}` };
    },
    close: async () => {
      await o.close?.();
    },
  };
}

export interface PushWorkerDeps {
  config: Config;
  logger: FastifyBaseLogger;
  db: Db;
  /** Default: WebPushTransport with the VAPID keys from `settings` (generated on first use). */
  push?: PushTransport;
  /** Extra CA (PEM) the default transport trusts (tests: their local push service's certificate). */
  pushCa?: string;
  /** Attempts the queue gives a push job (enqueue.ts uses the queue default). */
  attempts?: number;
  /** Where rows of a batch job that need another try go (single-row jobs); without it, batch jobs are refused. */
  queue?: JobQueue;
}

export interface PushWorker {
  handler: JobHandler<DeliveryJobData>;
  /** Suggested worker concurrency (QIAO_PUSH_CONCURRENCY). */
  concurrency: number;
  worker: DeliveryWorker;
  close(): Promise<void>;
}

/** The push transport on the shared delivery worker, standalone (the bench uses it without a context). */
export function pushWorker(deps: PushWorkerDeps): PushWorker {
  const repo = new PushRepo(deps.db);
  const recipients = new RecipientsRepo(deps.db);
  let transport: Promise<PushTransport> | null = deps.push ? Promise.resolve(deps.push) : null;
  const getTransport = () => {
    transport ??= repo.vapidKeys().then(
      (k) => new WebPushTransport({ vapid: { subject: deps.config.vapidSubject, ...k }, timeoutMs: deps.config.pushTimeoutMs, ca: deps.pushCa }),
    );
    transport.catch(() => {
      transport = null;
    });
    return transport;
  };
  const t = pushDelivery({
    directory: repo,
    transport: getTransport,
    attempts: deps.attempts ?? DEFAULT_ATTEMPTS,
    logger: deps.logger,
    async close() {
      if (transport && !deps.push) await (await transport.catch(() => null))?.close();
    },
  });
  const worker = deliveryWorker(t, {
    logger: deps.logger,
    deliveries: new DeliveriesRepo(deps.db),
    leaseMs: deps.config.delivery.leaseMs,
    message: messageLoader((ids) => recipients.messages(ids)),
    displayName: async (id) => (await recipients.displayNames([id])).get(id),
    requeue: deps.queue && requeueDelivery(deps.queue, 'push', {}),
    batchRows: deps.config.pushConcurrency,
  });
  return { handler: worker.handler, concurrency: deps.config.pushConcurrency, worker, close: () => worker.close() };
}
