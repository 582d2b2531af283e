/**
 * The live side of conversations, on every hub node:
 *
 * - Access revocation. Assignment changes signal `sys.access` on the bus; every node subscribes to it
 *   at start. The signal names the (user, channel) pairs that lost access — those subscriptions are
 *   dropped synchronously in the signal handler, so no publication sent after the change reaches them
 *   (the bus delivers a signal before any later publication) — and the channels whose other
 *   subscribers are re-authorised. `sys.*` is not a catalogue family, so no client can subscribe to it.
 * - The conversation side of each message is committed with it, whatever path publishes it (the
 *   publisher's `onCommit('conv', …)` hook, registered in app.ts): stored unread counters, the sender's
 *   read position and the first-response wait (ConversationsRepo.recordMessage).
 * - Per-user pushes (`sys.user`): unread counts after each message and read, presence changes of
 *   the other side, and `waiting` (a client started waiting or was answered) to the broker, its manager
 *   and its branch head for the service view, delivered to every connection of the user on whichever
 *   node it is.
 * - Socket commands: `typing` (relayed to the conversation's live subscribers as a signal, throttled,
 *   never stored), `presence` (online/away) and `receipt` (delivered/read offsets).
 * - Presence: set on connect, refreshed before its TTL, removed on disconnect; changes are pushed to
 *   the counterparts of the user's conversations.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import { authorizeSignal, authorizeSubscribe, resolveChannel, type AccessContext } from '../../channels/catalogue.ts';
import type { Principal } from '../auth/principal.ts';
import type { Bus, Publication } from '../bus/bus.ts';
import { conversationAccess, isParticipant } from '../domain/conversation-access.ts';
import { QiaoError } from '../errors/codes.ts';
import type { SignalPush } from '../gateway/protocol.ts';
import type { Session } from '../gateway/session.ts';
import type { SessionRegistry } from '../gateway/session-registry.ts';
import type { ChannelSignal } from '../hub/hub.ts';
import type { Presence, PresenceState } from '../presence/presence.ts';
import type { AssignmentChange } from '../store/assignments-repo.ts';
import type { ConversationsRepo } from '../store/conversations-repo.ts';
import { convChannel, isUuid, type WaitingChange } from '../store/conversations-repo.ts';

export const ACCESS_SIGNAL_CHANNEL = 'sys.access';
export const USER_SIGNAL_CHANNEL = 'sys.user';
/** A connection's presence expires this long after its last refresh (a crashed node's users go offline). */
export const PRESENCE_TTL_MS = 90_000;
const PRESENCE_REFRESH_MS = 30_000;
/** Users refreshed together, and the pause between two such slices (bounded so a pass takes a third of the period at most). */
const PRESENCE_REFRESH_SLICE = 50;
const PRESENCE_REFRESH_GAP_MS = 20;
/** At most one typing signal per connection and conversation per this interval. */
export const TYPING_INTERVAL_MS = 1_000;

export interface AccessSignal {
  /** Subscriptions to drop at once: these users lost access to these channels. */
  revoke: Array<{ userId: string; channels: string[] }>;
  /** Channels whose other subscribers are re-authorised. */
  recheck: string[];
}

interface UserSignal {
  deliveries: Array<{ to: string; push: SignalPush }>;
}

export interface ConversationLiveDeps {
  bus: Bus;
  registry: SessionRegistry;
  presence: Presence;
  conversations: ConversationsRepo;
  access: AccessContext;
  logger: FastifyBaseLogger;
}

export interface ReceiptResult {
  conversationId: string;
  readOffset: number;
  deliveredOffset: number;
  unread: number;
}

export class ConversationLive {
  private epoch = 0;
  private readonly states = new Map<Session, 'online' | 'away'>();
  /** Per user: how many of this node's connections are online / away. */
  private readonly perUser = new Map<string, { online: number; away: number }>();
  /** Per user: the state this node last wrote to presence. */
  private readonly published = new Map<string, 'online' | 'away'>();
  /** This process's member name in presence (one per node, not per connection). */
  private readonly nodeKey = `node-${randomUUID()}`;
  private readonly typingAt = new WeakMap<Session, Map<string, number>>();
  private refresh?: NodeJS.Timeout;
  private started = false;
  private closing = false;
  private refreshing = false;
  private readonly onAccess = (data: unknown) => this.handleAccess(data as AccessSignal);
  private readonly onUser = (data: unknown) => this.handleUser(data as UserSignal);

  constructor(private readonly d: ConversationLiveDeps) {}

  /** Subscribes this node to the control signals; call before accepting connections. */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    await this.d.bus.subscribeSignals(ACCESS_SIGNAL_CHANNEL, this.onAccess);
    await this.d.bus.subscribeSignals(USER_SIGNAL_CHANNEL, this.onUser);
    // Signals missed while the bus subscriber was reconnecting may include revocations.
    this.d.bus.onResync?.(() => void this.recheckAll());
    this.d.registry.onChange((event, s) => void (event === 'add' ? this.connected(s) : this.disconnected(s)));
    this.refresh = setInterval(() => void this.refreshPresence(), PRESENCE_REFRESH_MS);
    this.refresh.unref();
  }

  async close(): Promise<void> {
    // Connections closing with the node leave presence to expire: the store may already be closing.
    this.closing = true;
    if (this.refresh) clearInterval(this.refresh);
    if (!this.started) return;
    await this.d.bus.unsubscribeSignals(ACCESS_SIGNAL_CHANNEL, this.onAccess).catch(() => {});
    await this.d.bus.unsubscribeSignals(USER_SIGNAL_CHANNEL, this.onUser).catch(() => {});
  }

  /** For Session: bumped by every revocation seen on this node. */
  readonly accessEpoch = (): number => this.epoch;

  /** Socket commands served here (see docs/protocol.md). */
  readonly extraOps: Record<string, (s: Session, cmd: Record<string, unknown>) => Promise<unknown>> = {
    typing: (s, cmd) => this.typing(s, cmd),
    presence: (s, cmd) => this.setPresence(s, cmd),
    receipt: (s, cmd) => this.receiptCmd(s, cmd),
  };

  // -------------------------------------------------------------------------------------------
  // Access revocation

  /** Tells every node (this one included) to drop and re-check subscriptions after an access change. */
  async revoke(sig: AccessSignal): Promise<void> {
    if (!sig.revoke.length && !sig.recheck.length) return;
    await this.d.bus.signal(ACCESS_SIGNAL_CHANNEL, sig);
  }

  /**
   * After an assignment change: the brokers that may have lost the client (the previous primary, an
   * unshared broker) and the manager of the previous primary's team are checked against the rule
   * now; their subscriptions to the client's conversations that are no longer allowed are dropped on
   * every node, and every other subscriber of those conversations is re-checked.
   */
  async afterAssignment(change: AssignmentChange): Promise<void> {
    const channels = await this.d.conversations.clientChannels(change.clientId);
    if (!channels.length) return;
    const candidates: Array<Pick<Principal, 'id' | 'role'>> = [];
    const lost = change.op === 'unshare' ? change.brokerId : change.previousPrimary;
    if (lost) {
      candidates.push({ id: lost, role: 'broker' });
      const [u] = await this.d.conversations.usersByIds([lost]);
      const manager = await this.d.conversations.teamManager(u?.teamId ?? null);
      if (manager) candidates.push({ id: manager, role: 'manager' });
    }
    const revoke: AccessSignal['revoke'] = [];
    for (const c of candidates) {
      const gone: string[] = [];
      for (const ch of channels) if ((await this.d.conversations.access(ch.slice('conv.'.length), c)) === 'none') gone.push(ch);
      if (gone.length) revoke.push({ userId: c.id, channels: gone });
    }
    await this.revoke({ revoke, recheck: channels });
  }

  private handleAccess(sig: AccessSignal): void {
    if (!sig || !Array.isArray(sig.revoke) || !Array.isArray(sig.recheck)) return;
    this.epoch++;
    // Synchronously: the hub stops delivering to these sessions before the next bus message.
    for (const { userId, channels } of sig.revoke) {
      for (const s of this.d.registry.byUser(userId)) {
        for (const ch of channels) if (s.subscriptions.has(ch)) void s.revoke(ch, new QiaoError('QIAO_SUBSCRIBE_FORBIDDEN', 'Access to this conversation was withdrawn'));
      }
    }
    void this.recheck(new Set(sig.recheck));
  }

  /** Re-authorises every local subscription to the given channels; drops the refused ones. */
  private async recheck(channels: Set<string>): Promise<void> {
    if (!channels.size) return;
    const checks: Array<Promise<void>> = [];
    for (const s of this.d.registry.all()) {
      for (const ch of s.subscriptions) if (channels.has(ch)) checks.push(this.reauthorise(s, ch));
    }
    await Promise.all(checks);
  }

  private async recheckAll(): Promise<void> {
    const channels = new Set<string>();
    for (const s of this.d.registry.all()) for (const ch of s.subscriptions) if (ch.startsWith('conv.')) channels.add(ch);
    this.epoch++;
    await this.recheck(channels);
  }

  private async reauthorise(s: Session, ch: string): Promise<void> {
    try {
      await authorizeSubscribe(s.principal, ch, this.d.access);
    } catch (e) {
      if (e instanceof QiaoError && e.status < 500) await s.revoke(ch, e);
      else this.d.logger.warn({ err: e, channel: ch }, 'access re-check failed; subscription kept');
    }
  }

  // -------------------------------------------------------------------------------------------
  // Per-user pushes

  private async pushToUsers(deliveries: UserSignal['deliveries']): Promise<void> {
    if (deliveries.length) await this.d.bus.signal(USER_SIGNAL_CHANNEL, { deliveries } satisfies UserSignal);
  }

  private handleUser(sig: UserSignal): void {
    if (!sig || !Array.isArray(sig.deliveries)) return;
    for (const { to, push } of sig.deliveries) for (const s of this.d.registry.byUser(to)) s.push(push);
  }

  /** Pushes the current unread count of a conversation to these users (default: its participants). */
  async pushUnread(conversationId: string, from: string, userIds?: string[]): Promise<void> {
    const { topOffset, users } = await this.d.conversations.unreadState(conversationId, userIds);
    const channel = convChannel(conversationId);
    await this.pushToUsers(
      [...users].map(([to, u]) => ({ to, push: { t: 'signal', channel, kind: 'unread', from, data: { conversationId, unread: u.unread, readOffset: u.readOffset, topOffset } } })),
    );
  }

  /**
   * After each new conversation message (committed with its counters by the publisher's `conv` hook):
   * everyone's count is pushed; when it started or ended a client's wait, the service view's watchers
   * are told too.
   */
  onPublished(p: Principal, pub: Publication, family: string): void {
    if (family !== 'conv') return;
    const conversationId = pub.channel.slice('conv.'.length);
    void this.pushUnread(conversationId, p.id).catch((err) => this.d.logger.warn({ err, channel: pub.channel }, 'unread push failed'));
    const waiting = this.d.conversations.waitingChange(pub);
    if (waiting) void this.pushWaiting(waiting, p.id).catch((err) => this.d.logger.warn({ err, channel: pub.channel }, 'waiting push failed'));
  }

  /**
   * A client started waiting for an answer, or was answered (committed): a `waiting` signal to the
   * people whose service view shows that broker's waiting clients — the broker, its team's manager and
   * its branch head — so the view fetches the stored figures again without a reload. Live only: a
   * watcher who is offline reads the same figures when it next opens the view.
   */
  async pushWaiting(w: WaitingChange, from: string): Promise<void> {
    const to = await this.d.conversations.serviceWatchers(w.brokerId);
    const channel = convChannel(w.conversationId);
    await this.pushToUsers(to.map((id) => ({ to: id, push: { t: 'signal', channel, kind: 'waiting', from, data: w } })));
  }

  // -------------------------------------------------------------------------------------------
  // Receipts

  /** Records a delivered / read position and tells the other side (REST and the socket command). */
  async receipt(p: Principal, conversationId: string, kind: 'delivered' | 'read', offset: number): Promise<ReceiptResult> {
    const f = await this.d.conversations.facts(conversationId, p.id);
    if (!f) throw new QiaoError('QIAO_CONVERSATION_NOT_FOUND');
    if (conversationAccess(p, f) === 'none') throw new QiaoError('QIAO_FORBIDDEN', 'No access to this conversation');
    const { before, after, topOffset, unread } = await this.d.conversations.advance(conversationId, p.id, kind, offset);
    const channel = convChannel(conversationId);
    const moved = after.readOffset !== before.readOffset || after.deliveredOffset !== before.deliveredOffset;
    // Supervisors (manager, compliance) reading must not show 已读 to the client.
    if (moved && isParticipant(p, f)) {
      await this.d.bus.signal(channel, { kind: 'receipt', from: p.id, data: { read: after.readOffset, delivered: after.deliveredOffset } } satisfies ChannelSignal);
    }
    if (after.readOffset !== before.readOffset) {
      // The reader's other connections (another tab, the phone) clear their badge too.
      await this.pushToUsers([{ to: p.id, push: { t: 'signal', channel, kind: 'unread', from: p.id, data: { conversationId, unread, readOffset: after.readOffset, topOffset } } }]);
    }
    return { conversationId, readOffset: after.readOffset, deliveredOffset: after.deliveredOffset, unread };
  }

  private async receiptCmd(s: Session, cmd: Record<string, unknown>): Promise<ReceiptResult> {
    const { kind, offset } = cmd;
    if (kind !== 'delivered' && kind !== 'read') throw new QiaoError('QIAO_BAD_REQUEST', '"kind" must be "delivered" or "read"');
    if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0) throw new QiaoError('QIAO_BAD_REQUEST', '"offset" must be a non-negative integer');
    const r = resolveChannel(cmd.channel);
    if (r.family.family !== 'conv') throw new QiaoError('QIAO_BAD_REQUEST', 'Receipts are sent on conversation channels (conv.<id>)');
    return this.receipt(s.principal, r.parsed.parts.conversationId, kind, offset);
  }

  // -------------------------------------------------------------------------------------------
  // Typing

  private async typing(s: Session, cmd: Record<string, unknown>): Promise<{ sent: boolean }> {
    const r = await authorizeSignal(s.principal, cmd.channel, 'typing', this.d.access);
    const name = r.parsed.name;
    let last = this.typingAt.get(s);
    if (!last) this.typingAt.set(s, (last = new Map()));
    const now = Date.now();
    // Keystrokes arrive far faster than anyone needs to see "typing…": extra ones are dropped, not refused.
    if (now - (last.get(name) ?? 0) < TYPING_INTERVAL_MS) return { sent: false };
    last.set(name, now);
    if (last.size > 64) for (const [k, t] of last) if (now - t >= TYPING_INTERVAL_MS) last.delete(k);
    await this.d.bus.signal(name, { kind: 'typing', from: s.principal.id } satisfies ChannelSignal);
    return { sent: true };
  }

  // -------------------------------------------------------------------------------------------
  // Presence

  async presenceOf(userIds: string[]): Promise<Map<string, PresenceState>> {
    const ids = [...new Set(userIds.filter(isUuid))];
    if (!ids.length) return new Map();
    try {
      return await this.d.presence.get(ids);
    } catch (err) {
      this.d.logger.warn({ err }, 'presence lookup failed');
      return new Map(ids.map((id) => [id, 'offline' as const]));
    }
  }

  private async setPresence(s: Session, cmd: Record<string, unknown>): Promise<{ state: PresenceState }> {
    if (cmd.state !== 'online' && cmd.state !== 'away') throw new QiaoError('QIAO_BAD_REQUEST', '"state" must be "online" or "away"');
    const old = this.states.get(s);
    if (!old) throw new QiaoError('QIAO_UNAVAILABLE', 'Connection closed');
    this.states.set(s, cmd.state);
    this.count(s.userId, old, -1);
    this.count(s.userId, cmd.state, 1);
    return { state: await this.sync(s.userId) };
  }

  private async connected(s: Session): Promise<void> {
    if (this.closing || !isUuid(s.userId)) return;
    this.states.set(s, 'online');
    this.count(s.userId, 'online', 1);
    await this.sync(s.userId, false).catch((err) => this.d.logger.warn({ err }, 'presence update failed'));
  }

  private async disconnected(s: Session): Promise<void> {
    const old = this.states.get(s);
    if (!old || !this.states.delete(s) || this.closing) return;
    this.count(s.userId, old, -1);
    await this.sync(s.userId, false).catch((err) => this.d.logger.warn({ err }, 'presence update failed'));
  }

  /**
   * Presence is kept per user and node, not per connection: this node reports one combined state per
   * user (online if any of its connections is), so a login with thousands of connections costs one
   * entry and one refresh, and a connect that does not change the node's state costs no Redis call.
   */
  private count(userId: string, state: 'online' | 'away', delta: 1 | -1): void {
    const c = this.perUser.get(userId) ?? { online: 0, away: 0 };
    c[state] += delta;
    if (c.online <= 0 && c.away <= 0) this.perUser.delete(userId);
    else this.perUser.set(userId, c);
  }

  private localState(userId: string): 'online' | 'away' | null {
    const c = this.perUser.get(userId);
    return !c ? null : c.online > 0 ? 'online' : c.away > 0 ? 'away' : null;
  }

  /** Publishes this node's state for the user when it changed; returns the user's combined state. */
  private async sync(userId: string, report = true): Promise<PresenceState> {
    const local = this.localState(userId);
    if ((this.published.get(userId) ?? null) === local) {
      return report ? ((await this.d.presence.get([userId])).get(userId) ?? 'offline') : (local ?? 'offline');
    }
    if (local) this.published.set(userId, local);
    else this.published.delete(userId);
    return this.update(userId, () =>
      local ? this.d.presence.set(userId, this.nodeKey, local, PRESENCE_TTL_MS) : this.d.presence.remove(userId, this.nodeKey),
    );
  }

  /** Applies a change and, when the user's combined state changed, tells its counterparts. */
  private async update(uid: string, change: () => Promise<void>): Promise<PresenceState> {
    const before = (await this.d.presence.get([uid])).get(uid);
    await change();
    const after = (await this.d.presence.get([uid])).get(uid) ?? 'offline';
    if (after !== before) await this.announce(uid, after);
    return after;
  }

  private async announce(userId: string, state: PresenceState): Promise<void> {
    const pairs = await this.d.conversations.counterparts(userId);
    await this.pushToUsers(
      pairs.map(({ conversationId, userId: to }) => ({ to, push: { t: 'signal', channel: convChannel(conversationId), kind: 'presence', from: userId, data: { state } } })),
    );
  }

  /**
   * Re-writes this node's presence entries before they expire, in slices spread over a part of the
   * refresh period: one burst for every connected user (thousands of Redis transactions built in a
   * row) held the event loop for tens of ms every 30 s, and live deliveries waited behind it.
   */
  private async refreshPresence(): Promise<void> {
    if (this.refreshing) return;
    this.refreshing = true;
    try {
      await this.refreshSlices([...this.published]);
    } finally {
      this.refreshing = false;
    }
  }

  private async refreshSlices(all: Array<[string, 'online' | 'away']>): Promise<void> {
    const slices = Math.ceil(all.length / PRESENCE_REFRESH_SLICE);
    const gapMs = slices > 1 ? Math.min(PRESENCE_REFRESH_GAP_MS, PRESENCE_REFRESH_MS / 3 / slices) : 0;
    for (let i = 0; i < all.length && !this.closing; i += PRESENCE_REFRESH_SLICE) {
      if (i > 0) await new Promise((resolve) => setTimeout(resolve, gapMs).unref());
      await Promise.all(all.slice(i, i + PRESENCE_REFRESH_SLICE).map(([uid, st]) => this.d.presence.set(uid, this.nodeKey, st, PRESENCE_TTL_MS))).catch((err) =>
        this.d.logger.warn({ err }, 'presence refresh failed'),
      );
    }
  }
}
