/**
 * The node-local fanout core shared by both gateways.
 *
 * One bus subscription per channel per process (reference-counted by local subscribers). Live
 * publications are batched per channel per event-loop turn: at the end of the turn each channel's
 * batch is encoded once ("\n"-joined frames) and that one shared frame goes to every raw WebSocket
 * live on the channel, and one room broadcast (one push, or an array of pushes) to its socket.io
 * sockets. Under load several publications arrive per turn, so a busy node makes fewer, larger writes
 * per socket instead of falling behind; an idle node sends each publication at the end of its turn.
 *
 * Recovery (subscribe with `since`): the session is registered as "recovering" before history is
 * read, so live publications arriving meanwhile are buffered for it; history is then sent, the buffer
 * is flushed past the last offset sent, and the session goes live — all without yielding, so there is
 * no gap and no duplicate. A session that goes live while its channel's batch of this turn is already
 * started ("late") gets only the rest of that batch, then joins the channel.
 */
import type { FastifyBaseLogger } from 'fastify';
import type { ResolvedChannel } from '../../channels/catalogue.ts';
import type { Bus, BusHandler, Publication, SignalHandler } from '../bus/bus.ts';
import { QiaoError } from '../errors/codes.ts';
import type { GapPush, MsgPush, SignalPush } from '../gateway/protocol.ts';
import type { Metrics } from '../metrics.ts';
import type { MessagesRepo } from '../store/messages-repo.ts';

/** What the hub needs from a connection, whatever its transport. */
export interface HubSession {
  readonly transport: 'ws' | 'socketio';
  readonly id: string;
  /** Deliver one publication frame to this session alone (ws: pre-encoded JSON text; socketio: the object). */
  deliverEncoded(frame: string | Buffer, push: MsgPush): void;
  /** ws only: deliver a channel batch shared by every raw WebSocket live on the channel. */
  deliverShared?(frame: SharedFrame): void;
  sendGap(gap: GapPush): void;
  /** socket.io only: join/leave the channel room used for broadcast. */
  joinRoom?(channel: string): void;
  leaveRoom?(channel: string): void;
  /** The connected user (signals are not echoed to the user that caused them). */
  readonly userId?: string;
  /** Deliver an ephemeral signal (typing, receipt) of a channel the session is live on. */
  sendSignal?(push: SignalPush): void;
}

/** What travels on the bus for a channel signal; the hub adds `t` and `channel`. */
export interface ChannelSignal {
  kind: string;
  from: string;
  data?: unknown;
}

/**
 * One channel's publications of one event-loop turn, as the text every raw WebSocket receives: the
 * `msg` frames joined by "\n". `wire` is a transport-level encoding of `text` (the WebSocket frame),
 * built by the first socket that needs it and reused by the others.
 */
export interface SharedFrame {
  readonly text: Buffer;
  /** Publications in the batch (for metrics). */
  readonly count: number;
  wire?: Buffer;
}

interface PendingPub {
  pub: Publication;
  /** The publication's JSON as it came off the bus. */
  raw: string;
}

interface ChannelEntry {
  name: string;
  handler: BusHandler;
  /** Raw WebSocket sessions that are live on this channel. */
  ws: Set<HubSession>;
  /** socket.io sessions that are live (in the room). */
  sio: Set<HubSession>;
  /** Live publications of this turn, not yet sent (flushed at the end of the turn). */
  pending: PendingPub[];
  /** Sessions that went live after `pending` had n entries: they get pending[n..], then join. */
  late: Map<HubSession, number>;
  /** Sessions still recovering: live publications are buffered for them. */
  recovering: Map<HubSession, Publication[]>;
  /**
   * Sessions whose recovery read history past `top` (a publication's live copy can still be in flight
   * on the bus after it is readable in history): live publications up to the offset are skipped for
   * them, then they go live.
   */
  catchingUp: Map<HubSession, number>;
  /** Highest offset delivered live on this node. */
  top: number;
  /** Store's offset counter when the entry was created (for reporting topOffset). */
  storeTop: number;
  ready: Promise<void>;
  /** While resyncing after a bus reconnect: live publications held back until history is replayed. */
  resync: Array<[Publication, string]> | null;
  /** Set for families that declare signals (conversations): relays typing and receipts. */
  sigHandler: SignalHandler | null;
}

export interface HubDeps {
  bus: Bus;
  messages: MessagesRepo;
  metrics: Metrics;
  logger: FastifyBaseLogger;
  /** socket.io broadcast of one push to a room on this node only (set by the socket.io gateway). */
  roomBroadcast?: (channel: string, push: MsgPush | MsgPush[]) => void;
}

/** Most publications replayed in one recovery; beyond this the client is told about the gap. */
export const MAX_RECOVERY = 10_000;

export class Hub {
  private readonly channels = new Map<string, ChannelEntry>();
  private readonly dirty = new Set<FlushableSession>();
  private readonly dirtyChannels = new Set<ChannelEntry>();
  private flushScheduled = false;

  constructor(private readonly d: HubDeps) {
    d.bus.onResync?.(() => void this.resyncAll());
  }

  /**
   * After the bus lost live delivery for a while: replay from bus history what each channel missed,
   * holding newer live publications back until the replay is done so order is kept.
   */
  private async resyncAll(): Promise<void> {
    for (const e of [...this.channels.values()]) {
      if (e.resync) continue;
      e.resync = [];
      try {
        const h = await this.d.bus.history(e.name, { sinceOffset: e.top, limit: MAX_RECOVERY });
        for (const pub of h.publications) this.onPublication(e, pub, JSON.stringify(pub), true);
      } catch (err) {
        this.d.logger.warn({ err, channel: e.name }, 'resync after bus reconnect failed');
      } finally {
        const held = e.resync;
        e.resync = null;
        for (const [pub, raw] of held) this.onPublication(e, pub, raw);
      }
    }
  }

  setRoomBroadcast(fn: (channel: string, push: MsgPush | MsgPush[]) => void): void {
    this.d.roomBroadcast = fn;
  }

  /** Number of channels with local subscribers (for metrics and tests). */
  get channelCount(): number {
    return this.channels.size;
  }

  /** Gets or creates the channel entry synchronously; `ready` settles once the bus subscription is live. */
  private entry(name: string, signals = false): ChannelEntry {
    let e = this.channels.get(name);
    if (e) return e;
    const entry: ChannelEntry = {
      name,
      ws: new Set(),
      sio: new Set(),
      pending: [],
      late: new Map(),
      recovering: new Map(),
      catchingUp: new Map(),
      top: 0,
      storeTop: 0,
      resync: null,
      handler: (pub, raw) => this.onPublication(entry, pub, raw),
      ready: Promise.resolve(),
      sigHandler: signals ? (data) => this.onSignal(entry, data) : null,
    };
    entry.ready = (async () => {
      await this.d.bus.subscribe(name, entry.handler);
      if (entry.sigHandler) await this.d.bus.subscribeSignals(name, entry.sigHandler);
      entry.storeTop = await this.d.messages.topOffset(name);
    })();
    entry.ready.catch(() => {
      if (this.channels.get(name) === entry) this.channels.delete(name);
      void this.d.bus.unsubscribe(name, entry.handler).catch(() => {});
      if (entry.sigHandler) void this.d.bus.unsubscribeSignals(name, entry.sigHandler).catch(() => {});
    });
    this.channels.set(name, entry);
    return entry;
  }

  private onPublication(e: ChannelEntry, pub: Publication, raw: string, replay = false): void {
    if (e.resync && !replay) {
      e.resync.push([pub, raw]);
      return;
    }
    // Defensive: the bus already delivers in strictly increasing offset order per channel.
    if (pub.offset <= e.top) return;
    e.top = pub.offset;
    for (const buf of e.recovering.values()) buf.push(pub);
    for (const [s, upTo] of e.catchingUp) {
      if (pub.offset <= upTo) continue;
      e.catchingUp.delete(s);
      this.goLive(e, s);
    }
    if (e.ws.size > 0 || e.sio.size > 0 || e.late.size > 0) {
      e.pending.push({ pub, raw });
      if (e.pending.length === 1) {
        this.dirtyChannels.add(e);
        this.scheduleFlush();
      }
    }
  }

  /** Sends a channel's batch of this turn: one shared frame for raw WebSockets, one room broadcast. */
  private flushChannel(e: ChannelEntry): void {
    const items = e.pending;
    if (items.length === 0) return;
    e.pending = [];
    if (e.ws.size > 0) {
      const parts: string[] = [];
      for (const it of items) parts.push('{"t":"msg",' + it.raw.slice(1));
      // Encoded once per channel and turn: every raw WebSocket gets the same bytes, no per-socket copy.
      const frame: SharedFrame = { text: Buffer.from(parts.join('\n')), count: items.length };
      for (const s of e.ws) {
        if (s.deliverShared) s.deliverShared(frame);
        else for (const it of items) this.deliverOne(s, it.pub);
      }
      this.d.metrics.deliveries.inc({ transport: 'ws' }, e.ws.size * items.length);
    }
    if (e.sio.size > 0 && this.d.roomBroadcast) {
      const pushes = items.map((it) => ({ t: 'msg', ...it.pub }) as MsgPush);
      this.d.roomBroadcast(e.name, pushes.length === 1 ? pushes[0] : pushes);
      this.d.metrics.deliveries.inc({ transport: 'socketio' }, e.sio.size * items.length);
    }
    if (e.late.size > 0) {
      const late = [...e.late];
      e.late.clear();
      for (const [s, from] of late) {
        for (let i = from; i < items.length; i++) this.deliverOne(s, items[i].pub);
        this.join(e, s);
      }
    }
  }

  /** Relays a channel signal to the sessions live on it here, except those of the user it came from. */
  private onSignal(e: ChannelEntry, data: unknown): void {
    const sig = data as ChannelSignal | null;
    if (!sig || typeof sig.kind !== 'string' || typeof sig.from !== 'string') return;
    const push: SignalPush = { t: 'signal', channel: e.name, kind: sig.kind, from: sig.from, ...(sig.data === undefined ? {} : { data: sig.data }) };
    // Also to sessions still recovering or catching up: they are subscribed, only their publications wait.
    for (const set of [e.ws, e.sio, e.late.keys(), e.recovering.keys(), e.catchingUp.keys()]) {
      for (const s of set) if (s.userId !== sig.from) s.sendSignal?.(push);
    }
  }

  /**
   * Adds a session to a channel. With `since`, first replays what it missed (bus history, then the
   * store when the bus history is too short), reporting a gap explicitly when neither reaches.
   */
  async subscribe(
    s: HubSession,
    ch: ResolvedChannel,
    since: number | undefined,
  ): Promise<{ topOffset: number; recovered?: boolean }> {
    const e = this.entry(ch.parsed.name, (ch.family.signals?.length ?? 0) > 0);
    if (since === undefined) {
      try {
        await e.ready;
      } catch (err) {
        throw this.unavailable(err, e.name);
      }
      this.goLive(e, s);
      return { topOffset: Math.max(e.top, e.storeTop) };
    }
    // Buffer live publications from now on, so history + buffer cover everything after `since`.
    e.recovering.set(s, []);
    let missed: Publication[] = [];
    let recovered = true;
    try {
      await e.ready;
      const h = await this.d.bus.history(e.name, { sinceOffset: since, limit: MAX_RECOVERY });
      missed = h.publications;
      // The bus may know less than the store (messages stored without the bus, e.g. the demo seed, or
      // a Redis that lost its keys): then the store is the history.
      if (!h.complete || h.topOffset < e.storeTop) {
        missed = await this.d.messages.since(e.name, since, MAX_RECOVERY);
      }
    } catch (err) {
      e.recovering.delete(s);
      void this.maybeRelease(e);
      throw this.unavailable(err, e.name);
    }
    const buffered = e.recovering.get(s) ?? [];
    e.recovering.delete(s);
    let last = since;
    const first = missed[0]?.offset ?? buffered[0]?.offset;
    if (first !== undefined && first > since + 1) {
      recovered = false;
      s.sendGap({
        t: 'gap',
        channel: e.name,
        since,
        from: first,
        error: { code: 'QIAO_RECOVERY_GAP', message: new QiaoError('QIAO_RECOVERY_GAP').message },
      });
    }
    for (const pub of missed) {
      if (pub.offset <= last) continue;
      this.deliverOne(s, pub);
      last = pub.offset;
    }
    for (const pub of buffered) {
      if (pub.offset <= last) continue;
      this.deliverOne(s, pub);
      last = pub.offset;
    }
    if (last > e.top) e.catchingUp.set(s, last);
    else this.goLive(e, s);
    this.d.metrics.recoveries.inc({ outcome: recovered ? 'complete' : 'gap' });
    return { topOffset: Math.max(e.top, e.storeTop, last), recovered };
  }

  private unavailable(err: unknown, channel: string): QiaoError {
    this.d.logger.warn({ err, channel }, 'channel subscription or history failed');
    return new QiaoError('QIAO_UNAVAILABLE', 'The bus or history is unavailable; retry the subscribe');
  }

  private deliverOne(s: HubSession, pub: Publication): void {
    const push = { t: 'msg', ...pub } as MsgPush;
    s.deliverEncoded(JSON.stringify(push), push);
  }

  /** Makes a session live on a channel; mid-batch it waits for the batch's flush ("late"), see flushChannel. */
  private goLive(e: ChannelEntry, s: HubSession): void {
    if (e.pending.length > 0) e.late.set(s, e.pending.length);
    else this.join(e, s);
  }

  private join(e: ChannelEntry, s: HubSession): void {
    if (s.transport === 'ws') e.ws.add(s);
    else {
      e.sio.add(s);
      s.joinRoom?.(e.name);
    }
  }

  async unsubscribe(s: HubSession, channel: string): Promise<void> {
    const e = this.channels.get(channel);
    if (!e) return;
    e.ws.delete(s);
    if (e.sio.delete(s)) s.leaveRoom?.(channel);
    e.late.delete(s);
    e.recovering.delete(s);
    e.catchingUp.delete(s);
    await this.maybeRelease(e);
  }

  private async maybeRelease(e: ChannelEntry): Promise<void> {
    if (e.ws.size || e.sio.size || e.late.size || e.recovering.size || e.catchingUp.size) return;
    if (this.channels.get(e.name) !== e) return;
    this.channels.delete(e.name);
    await this.d.bus.unsubscribe(e.name, e.handler).catch((err) => this.d.logger.warn({ err }, 'bus unsubscribe failed'));
    if (e.sigHandler) await this.d.bus.unsubscribeSignals(e.name, e.sigHandler).catch((err) => this.d.logger.warn({ err }, 'bus signal unsubscribe failed'));
  }

  /** Queues a session's own frames (replies, pushes, recovery) for the end-of-turn flush. */
  markDirty(s: FlushableSession): void {
    this.dirty.add(s);
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => this.flushAll());
  }

  /**
   * Sessions' own frames first, then the channel batches: a session's recovered publications always
   * precede the live ones (late joiners get theirs as own frames of the next flush).
   */
  private flushAll(): void {
    this.flushScheduled = false;
    if (this.dirty.size > 0) {
      const batch = [...this.dirty];
      this.dirty.clear();
      for (const s of batch) s.flush();
    }
    if (this.dirtyChannels.size > 0) {
      const chs = [...this.dirtyChannels];
      this.dirtyChannels.clear();
      for (const e of chs) this.flushChannel(e);
    }
  }

  async close(): Promise<void> {
    for (const e of this.channels.values()) {
      await this.d.bus.unsubscribe(e.name, e.handler).catch(() => {});
      if (e.sigHandler) await this.d.bus.unsubscribeSignals(e.name, e.sigHandler).catch(() => {});
    }
    this.channels.clear();
  }
}

export interface FlushableSession {
  flush(): void;
}
