/**
 * Web push: one job per push delivery row (`{deliveryId}`, job id `push-<deliveryId>`), sent to every
 * browser the recipient subscribed (push_subscriptions, per user and device).
 *
 * 1. Claim the row (queued|failed → sending, attempts + 1) with a conditional UPDATE
 *    (DeliveriesRepo.claim), so a retried, replayed or stalled-and-rerun job never sends twice.
 *    A settled row (sent, suppressed, held…) is left alone; one under another worker's live lease is
 *    waited for, as the email worker does.
 * 2. Build the notification ({title, body, url, tag}, shown by web-client/sw.js) and the push headers:
 *    TTL per kind (price alerts 300 s: a stale quote is worse than none), Urgency (critical and price
 *    alerts → high, research → low), Topic `alert-<symbol>` for price alerts so the push service
 *    replaces a not-yet-delivered older alert for that symbol with the newer one (and `tag` makes the
 *    browser replace the one on screen).
 * 3. Outcome over the user's devices:
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
import https from 'node:https';
import type { FastifyBaseLogger } from 'fastify';
import type { Config } from '../src/config/config.ts';
import { familyNamed } from '../channels/catalogue.ts';
import { categoryOf, classify } from '../src/domain/routing.ts';
import type { PushJob } from '../src/queue/jobs.ts';
import { DEFAULT_ATTEMPTS, UnrecoverableJobError, type Job, type JobHandler } from '../src/queue/queue.ts';
import type { Db } from '../src/store/db.ts';
import { DeliveriesRepo, TERMINAL, type DeliveryContext, type DeliveryRow } from '../src/store/deliveries-repo.ts';
import { PushRepo, type PushSubscriptionRow } from '../src/store/push-repo.ts';
import { RecipientsRepo } from '../src/store/recipients-repo.ts';
import { STRINGS, langOf } from './templates/strings.ts';
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

export interface PushWorkerDeps {
  config: Config;
  logger: FastifyBaseLogger;
  db: Db;
  /** Default: WebPushTransport with the VAPID keys from `settings` (generated on first use). */
  push?: PushTransport;
  /** Agent for the default transport (tests: one trusting a self-signed certificate). */
  pushAgent?: https.Agent;
  /** Attempts the queue gives a push job (enqueue.ts uses the queue default). */
  attempts?: number;
}

export interface PushWorker {
  handler: JobHandler<PushJob>;
  /** Suggested worker concurrency (QIAO_PUSH_CONCURRENCY). */
  concurrency: number;
  close(): Promise<void>;
}

// Not imported from context.ts, which imports this module.
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function settled(row: DeliveryRow | undefined): boolean {
  return Boolean(row && (TERMINAL.has(row.status) || row.status === 'held'));
}

async function retrying<T>(what: () => Promise<T>, tries = 3): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await what();
    } catch (e) {
      if (i >= tries) throw e;
      await sleep(200 * 4 ** (i - 1));
    }
  }
}

export function pushWorker(deps: PushWorkerDeps): PushWorker {
  const deliveries = new DeliveriesRepo(deps.db);
  const repo = new PushRepo(deps.db);
  const recipients = new RecipientsRepo(deps.db);
  /** Subscription id → when this process last wrote its lastSuccessAt. */
  const markedAt = new Map<string, number>();
  const leaseMs = deps.config.delivery.leaseMs;
  const attempts = deps.attempts ?? DEFAULT_ATTEMPTS;
  const log = deps.logger;
  let transport: Promise<PushTransport> | null = deps.push ? Promise.resolve(deps.push) : null;
  const getTransport = () => {
    transport ??= repo.vapidKeys().then(
      (k) => new WebPushTransport({ vapid: { subject: deps.config.vapidSubject, ...k }, timeoutMs: deps.config.pushTimeoutMs, agent: deps.pushAgent }),
    );
    transport.catch(() => {
      transport = null;
    });
    return transport;
  };

  const handler = async (job: Job<PushJob>): Promise<void> => {
    const id = job.data?.deliveryId;
    if (typeof id !== 'string' || !UUID_RE.test(id)) throw new UnrecoverableJobError('push job has no valid deliveryId');

    let claim = await deliveries.claim(id, leaseMs);
    if (!claim.claimed) {
      if (!claim.row) throw new UnrecoverableJobError(`delivery ${id} does not exist`);
      if (claim.row.transport !== 'push') throw new UnrecoverableJobError(`delivery ${id} is a ${claim.row.transport} delivery, not push`);
      if (settled(claim.row)) return;
      await sleep((await deliveries.leaseRemainingMs(id, leaseMs)) + 50);
      claim = await deliveries.claim(id, leaseMs);
      if (!claim.claimed) {
        if (settled(claim.row)) return;
        throw new Error(`delivery ${id} is being sent by another worker`);
      }
    }

    // The claimed row names the user: read the message context and the devices in parallel.
    const [cx, subs]: [DeliveryContext | undefined, PushSubscriptionRow[]] = await Promise.all([deliveries.context(id), repo.listForUser(claim.row.userId)]);
    if (!cx) {
      await deliveries.markFailed(id, 'missing', 'message or recipient no longer exists');
      throw new UnrecoverableJobError(`delivery ${id}: message or recipient no longer exists`);
    }
    if (!subs.length) {
      await repo.suppressDelivery(id, 'no-subscription');
      return;
    }

    const senderName = cx.kind === 'chat' ? (await recipients.displayNames([cx.senderId])).get(cx.senderId) : undefined;
    const msg = pushMessageFor({ messageId: cx.messageId, channel: cx.channel, kind: cx.kind, payload: cx.payload, locale: cx.locale, senderName });
    const body = JSON.stringify(msg.payload);
    const t = await getTransport();
    const outcomes: PushOutcome[] = await Promise.all(subs.map((s) => t.send({ endpoint: s.endpoint, p256dh: s.p256dh, auth: s.auth }, body, msg.options)));

    const ok: string[] = [];
    const gone: string[] = [];
    const failures: string[] = [];
    let transient = false;
    outcomes.forEach((o, i) => {
      if (o.result === 'ok') ok.push(subs[i].id);
      else {
        if (o.result === 'gone') gone.push(subs[i].id);
        if (o.result === 'transient') transient = true;
        failures.push(`${new URL(subs[i].endpoint).host}: ${o.result} ${o.detail}`);
      }
    });
    if (gone.length) {
      await repo.removeById(gone);
      log.info({ deliveryId: id, userId: cx.userId, removed: gone.length }, 'push subscriptions gone (404/410); deleted');
    }
    if (ok.length) {
      // lastSuccessAt is for operators ("is this device still alive?"): minute precision is plenty,
      // so a busy device costs one write a minute, not one per push.
      const now = Date.now();
      const stale = ok.filter((sid) => (markedAt.get(sid) ?? 0) < now - 60_000);
      if (stale.length) {
        for (const sid of stale) markedAt.set(sid, now);
        if (markedAt.size > 50_000) markedAt.clear();
        await repo.markSuccess(stale).catch((err) => log.warn({ err }, 'push: could not record lastSuccessAt'));
      }
      if (failures.length) log.warn({ deliveryId: id, failures }, 'push sent to some devices only');
      await retrying(() => deliveries.markSent(id));
      return;
    }
    const detail = failures.join('; ').slice(0, 1000);
    if (gone.length === subs.length) {
      await repo.suppressDelivery(id, 'no-subscription', detail);
      return;
    }
    if (transient) {
      if (job.attempt >= attempts) await deliveries.markFailed(id, 'retries-exhausted', detail);
      else await deliveries.release(id, detail);
      log.warn({ deliveryId: id, attempt: job.attempt, failures }, 'push failed; will retry');
      throw new Error(`push failed: ${detail}`);
    }
    await deliveries.markFailed(id, 'rejected', detail);
    throw new UnrecoverableJobError(`push service refused: ${detail}`);
  };

  return {
    handler,
    concurrency: deps.config.pushConcurrency,
    async close() {
      if (transport && !deps.push) await (await transport.catch(() => null))?.close();
    },
  };
}
