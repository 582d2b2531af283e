/**
 * Fanout: one job per publication (job id `fanout-<messageId>`). Reads the recipients in pages,
 * re-checks entitlement, routes each recipient with the pure rules of src/domain/routing.ts, writes
 * inbox items and one deliveries row per recipient × tracked transport the recipient's preferences
 * choose (a transport they have not chosen gets no row; every other suppression is recorded), then
 * enqueues an email or push job per queued row and, for must-acknowledge messages, the first
 * escalation step.
 *
 * Idempotent by construction, so a retried, replayed or duplicated fanout never delivers twice:
 * inbox items and delivery rows are insert-if-absent on their unique keys, jobs have stable ids, and
 * the email/push workers claim rows before sending. A fanout killed halfway simply runs again.
 */
import { familyNamed, resolveChannel } from '../channels/catalogue.ts';
import type { ParsedChannel } from '../channels/family.ts';
import { STAFF_ROLES } from '../channels/family.ts';
import { tierEntitled } from '../channels/research.ts';
import {
  TRACKED_TRANSPORTS,
  categoryOf,
  classify,
  decide,
  resolvePrefs,
  type Decision,
  type PrefsLayer,
  type RoutingMessage,
} from '../src/domain/routing.ts';
import type { Holidays } from '../src/domain/trading-sessions.ts';
import { isQiaoError } from '../src/errors/codes.ts';
import type { PresenceState } from '../src/presence/presence.ts';
import { QUEUES, jobIds, type EscalationJob, type FanoutJob } from '../src/queue/jobs.ts';
import { UnrecoverableJobError, type Job, type JobHandler } from '../src/queue/queue.ts';
import type { NewDelivery } from '../src/store/deliveries-repo.ts';
import type { RecipientRow } from '../src/store/recipients-repo.ts';
import { sleep, type WorkerContext } from './context.ts';
import { WORKER_TRANSPORTS, enqueueDeliveries } from './enqueue.ts';

/** A subscription's own prefs (PUT /api/subscriptions: muted, transports, digest) as a layer. */
function subscriptionLayer(p: unknown): PrefsLayer | undefined {
  if (!p || typeof p !== 'object') return undefined;
  const o = p as Record<string, unknown>;
  const layer: PrefsLayer = {};
  if (typeof o.muted === 'boolean') layer.muted = o.muted;
  if (o.transports && typeof o.transports === 'object') layer.transports = o.transports as PrefsLayer['transports'];
  if (o.digest === 'immediate' || o.digest === 'hourly' || o.digest === 'daily') layer.digest = o.digest;
  return layer;
}

/**
 * Entitlement at fanout time: on a family whose recipients are tier-gated subscribers (research), a
 * client whose tier dropped below the channel's gets nothing.
 */
export function entitled(u: Pick<RecipientRow, 'role' | 'tier'>, ch: ParsedChannel): boolean {
  const rule = familyNamed(ch.family).recipients;
  if (rule.kind !== 'subscribers' || !rule.tierGated) return true;
  if (STAFF_ROLES.has(u.role)) return true;
  return u.role === 'client' && tierEntitled(u.tier ?? 'general', ch);
}

function toRow(messageId: string, userId: string, transport: NewDelivery['transport'], d: Decision): NewDelivery {
  switch (d.action) {
    case 'send':
      // An inbox item exists from the moment it is written: that is its delivery.
      return { messageId, userId, transport, status: transport === 'inbox' ? 'delivered' : 'queued', reason: null, dueAt: null };
    case 'hold':
      return { messageId, userId, transport, status: 'held', reason: d.reason, dueAt: d.until };
    case 'suppress':
      return { messageId, userId, transport, status: 'suppressed', reason: d.reason, dueAt: null };
  }
}

export interface PageInput {
  messageId: string;
  channel: ParsedChannel;
  senderId: string;
  category: string;
  msg: RoutingMessage;
  recipients: RecipientRow[];
  layers: Map<string, { global?: PrefsLayer; category?: PrefsLayer }>;
  withPush: Set<string>;
  presence?: Map<string, PresenceState>;
  now: Date;
  holidays?: Holidays;
}

export interface PagePlan {
  rows: NewDelivery[];
  inboxItems: Array<{ userId: string; messageId: string; channel: string }>;
  /** Recipients whose copy must be acknowledged (escalation is scheduled for them). */
  ackUsers: string[];
  skipped: number;
  /** Recipient × transport pairs left without a row: the recipient's preferences do not choose that transport. */
  notChosen: number;
}

/** Routes one page of recipients: no I/O (the benchmark measures exactly this). */
export function planPage(p: PageInput): PagePlan {
  const plan: PagePlan = { rows: [], inboxItems: [], ackUsers: [], skipped: 0, notChosen: 0 };
  for (const u of p.recipients) {
    // The sender is not notified of their own message; lost entitlement means nothing at all.
    if (u.id === p.senderId || !entitled(u, p.channel)) {
      plan.skipped++;
      continue;
    }
    const l = p.layers.get(u.id);
    const prefs = resolvePrefs(p.category, { global: l?.global, category: l?.category, subscription: subscriptionLayer(u.subscriptionPrefs) }, u.timeZone);
    const d = decide(p.msg, { prefs, online: p.presence?.get(u.id) === 'online', hasEmail: Boolean(u.email), hasPushSubscription: p.withPush.has(u.id), hasPhone: Boolean(u.phone) }, p.now, { holidays: p.holidays });
    for (const t of TRACKED_TRANSPORTS) {
      // A transport the recipient has not chosen for this category is not a delivery: no row. Every
      // other outcome, suppressions included (mute, no address, online…), is recorded.
      const dt = d[t];
      if (dt.action === 'suppress' && dt.reason === 'preference') plan.notChosen++;
      else plan.rows.push(toRow(p.messageId, u.id, t, dt));
    }
    if (d.inbox.action === 'send') {
      plan.inboxItems.push({ userId: u.id, messageId: p.messageId, channel: p.channel.name });
      if (p.msg.requireAck) plan.ackUsers.push(u.id);
    }
  }
  return plan;
}

/** Pages of recipients being written at once by one fanout job (each uses up to 3 connections). */
const PAGES_IN_FLIGHT = 3;

export interface FanoutStats {
  recipients: number;
  skipped: number;
  rows: number;
  /** Recipient × transport pairs without a row (not chosen by the recipient's preferences). */
  notChosen: number;
  /** Delivery jobs added (email and push rows go 25 to a job: workers/delivery-transports.ts). */
  jobs: number;
}

export async function runFanout(ctx: WorkerContext, messageId: string, attempt = 1): Promise<FanoutStats> {
  let msg = await ctx.message(messageId);
  if (!msg && attempt === 1) {
    // The job is enqueued inside the publish transaction, so it can run a moment before the commit.
    await sleep(250);
    msg = await ctx.message(messageId);
  }
  if (!msg) throw new Error(`message ${messageId} not found (publish not committed yet, or rolled back)`);
  let resolved;
  try {
    resolved = resolveChannel(msg.channel);
  } catch (e) {
    throw new UnrecoverableJobError(isQiaoError(e) ? `${e.code}: ${e.message}` : String(e));
  }
  const family = resolved.family.family;
  const category = categoryOf(family, msg.kind);
  const routing: RoutingMessage = { family, ...classify(msg.payload) };
  const now = ctx.now();
  const d = ctx.config.delivery;
  const firmId = resolved.family.recipients.kind === 'sender-firm' ? await ctx.recipients.userFirm(msg.senderId) : undefined;
  const stats: FanoutStats = { recipients: 0, skipped: 0, rows: 0, notChosen: 0, jobs: 0 };
  const senderId = msg.senderId;

  /** Everything after the read of one page: prefs, routing, inbox items, delivery rows, jobs. */
  const writePage = async (page: RecipientRow[]): Promise<void> => {
    const ids = page.map((u) => u.id);
    const [layers, withPush, presence] = await Promise.all([
      ctx.prefs.layersFor(ids, category),
      ctx.recipients.withPushSubscription(ids),
      ctx.presence?.get(ids).catch((err) => {
        ctx.logger.warn({ err }, 'presence unavailable; routing as offline');
        return undefined;
      }),
    ]);
    const plan = planPage({ messageId, channel: resolved.parsed, senderId, category, msg: routing, recipients: page, layers, withPush, presence, now, holidays: ctx.holidays });
    // Inbox items and delivery rows are independent (both insert-if-absent), so on two connections.
    // Jobs are enqueued from what is stored, not from this plan: after a crash between insert and
    // enqueue the rows exist already, and the re-run must still enqueue the queued ones.
    const [, queued] = await Promise.all([ctx.inbox.add(plan.inboxItems, { likelyNew: true }), ctx.deliveries.insertManyReturningQueued(plan.rows, WORKER_TRANSPORTS)]);
    // Not `stats.jobs += await …`: that reads stats.jobs before the await and loses the counts of
    // the pages that finish meanwhile.
    const jobs = await enqueueDeliveries(ctx, queued);
    stats.jobs += jobs;
    if (plan.ackUsers.length) {
      await ctx.queue.addBulk<EscalationJob>(
        QUEUES.escalation,
        plan.ackUsers.map((userId) => ({ name: 'escalate', data: { messageId, userId, step: 0 }, opts: { jobId: jobIds.escalation(messageId, userId, 0), delayMs: d.escalationPushAfterS * 1000 } })),
      );
    }
    stats.recipients += page.length - plan.skipped;
    stats.skipped += plan.skipped;
    stats.rows += plan.rows.length;
    stats.notChosen += plan.notChosen;
  };

  // Pages are read one after the other (keyset on the user id) while up to PAGES_IN_FLIGHT earlier
  // pages are being written: the writes of a page dominate, and overlapping them keeps Postgres
  // busy on more than one connection. A failed page fails the job after the others settle; the
  // re-run redoes everything idempotently.
  const inFlight = new Set<Promise<void>>();
  let failure: { e: unknown } | undefined;
  let after: string | undefined;
  for (;;) {
    const page = await ctx.recipients.page(resolved.parsed, { after, limit: d.fanoutBatch, firmId });
    if (!page.length) break;
    after = page[page.length - 1].id;
    const p: Promise<void> = writePage(page).then(
      () => void inFlight.delete(p),
      (e) => {
        inFlight.delete(p);
        failure ??= { e };
      },
    );
    inFlight.add(p);
    if (inFlight.size >= PAGES_IN_FLIGHT) await Promise.race(inFlight);
    if (failure || page.length < d.fanoutBatch) break;
  }
  await Promise.all(inFlight);
  if (failure) throw failure.e;
  ctx.logger.info({ messageId, channel: msg.channel, category, critical: routing.critical, ...stats }, 'fanout done');
  return stats;
}

export function fanoutHandler(ctx: WorkerContext): JobHandler<FanoutJob> {
  return async (job: Job<FanoutJob>) => {
    const id = job.data?.messageId;
    if (typeof id !== 'string' || !id) throw new UnrecoverableJobError('fanout job has no messageId');
    await runFanout(ctx, id, job.attempt);
  };
}
