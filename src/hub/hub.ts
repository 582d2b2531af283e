/**
 * The node-local fanout core shared by both gateways.
 *
 * One bus subscription per channel per process (reference-counted by local subscribers).
 *
 * Raw WebSockets: each channel keeps a short log of live publications and, per socket, a cursor (the
 * next log entry it needs). A sweep walks the channel's sockets in slices, yielding to the event loop
 * between slices, and writes to each socket everything from its cursor to the log's end as one
 * WebSocket frame ("\n"-joined `msg` frames), encoded once and shared by every socket at the same
 * cursor. An idle node sends each publication as soon as its turn ends; a busy one lets publications
 * that arrive during a sweep join the writes still ahead, so a loaded node makes fewer, larger writes
 * instead of falling behind. socket.io: each channel's publications of one turn go out as one room
 * broadcast (one push, or an array of pushes), which socket.io encodes once.
 *
 * Recovery (subscribe with `since`): the session is registered as "recovering" before history is
 * read, so live publications arriving meanwhile are buffered for it; history is then sent, the buffer
 * is flushed past the last offset sent, and the session goes live — all without yielding, so there is
 * no gap and no duplicate. Going live puts a raw WebSocket's cursor at the log's end; a socket.io
 * session that goes live while its channel's batch of this turn is already started ("late") gets the
 * rest of that batch on its own, then joins the room.
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

interface Sweep {
  /** The sockets of this pass, in order; `next` is the first not yet visited. */
  order: HubSession[];
  next: number;
}

/** Raw WebSockets written per sweep slice before yielding to the event loop. */
export const SWEEP_SLICE = 512;

interface PendingPub {
  pub: Publication;
  /** The publication's JSON as it came off the bus. */
  raw: string;
}

interface ChannelEntry {
  name: string;
  handler: BusHandler;
  /** Raw WebSocket sessions live on this channel → their cursor: the log sequence number they need next. */
  ws: Map<HubSession, number>;
  /** Live publications' `msg` frames not yet written to every raw WebSocket; log[0] has sequence `logBase`. */
  log: string[];
  logBase: number;
  /** The sweep in progress over the raw WebSockets, if any. */
  sweep: Sweep | null;
  /** socket.io sessions that are live (in the room). */
  sio: Set<HubSession>;
  /** socket.io: live publications of this turn, not yet broadcast (flushed at the end of the turn). */
  pending: PendingPub[];
  /** socket.io sessions that went live after `pending` had n entries: they get pending[n..], then join. */
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
      ws: new Map(),
      log: [],
      logBase: 0,
      sweep: null,
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
    if (e.ws.size > 0) {
      e.log.push('{"t":"msg",' + raw.slice(1));
      if (!e.sweep) {
        e.sweep = { order: [], next: 0 };
        setImmediate(() => this.sweepSlice(e));
      }
    }
    if (e.sio.size > 0 || e.late.size > 0) {
      e.pending.push({ pub, raw });
      if (e.pending.length === 1) {
        this.dirtyChannels.add(e);
        this.scheduleFlush();
      }
    }
  }

  /**
   * Writes to the next slice of the channel's raw WebSockets what each still needs of the log, one
   * frame per socket, shared by the sockets at the same cursor. At the end of a pass it trims the log
   * to what some socket still needs and starts another pass if anything is left.
   */
  private sweepSlice(e: ChannelEntry): void {
    const sw = e.sweep;
    if (!sw) return;
    if (sw.next >= sw.order.length) {
      sw.order = [...e.ws.keys()];
      sw.next = 0;
    }
    const end = e.logBase + e.log.length;
    const frames = new Map<number, SharedFrame>();
    let delivered = 0;
    const stop = Math.min(sw.order.length, sw.next + SWEEP_SLICE);
    for (; sw.next < stop; sw.next++) {
      const s = sw.order[sw.next];
      const cursor = e.ws.get(s);
      if (cursor === undefined || cursor >= end) continue;
      let f = frames.get(cursor);
      if (!f) {
        const from = cursor - e.logBase;
        const text = from === e.log.length - 1 ? e.log[from] : e.log.slice(from).join('\n');
        f = { text: Buffer.from(text), count: end - cursor };
        frames.set(cursor, f);
      }
      e.ws.set(s, end);
      s.deliverShared!(f);
      delivered += f.count;
    }
    if (delivered > 0) this.d.metrics.deliveries.inc({ transport: 'ws' }, delivered);
    if (sw.next < sw.order.length) {
      setImmediate(() => this.sweepSlice(e));
      return;
    }
    // Pass done: drop what every socket has, go round again if something arrived meanwhile.
    const logEnd = e.logBase + e.log.length;
    let min = logEnd;
    for (const c of e.ws.values()) if (c < min) min = c;
    if (min > e.logBase) {
      e.log.splice(0, min - e.logBase);
      e.logBase = min;
    }
    if (e.log.length > 0 && e.ws.size > 0) setImmediate(() => this.sweepSlice(e));
    else {
      e.sweep = null;
      e.logBase += e.log.length;
      e.log = [];
    }
  }

  /** socket.io: the channel's batch of this turn as one room broadcast; late joiners get theirs alone. */
  private flushChannel(e: ChannelEntry): void {
    const items = e.pending;
    if (items.length === 0) return;
    e.pending = [];
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
    for (const set of [e.ws.keys(), e.sio, e.late.keys(), e.recovering.keys(), e.catchingUp.keys()]) {
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

  /**
   * Makes a session live on a channel from the next publication on: a raw WebSocket's cursor starts at
   * the log's end; a socket.io session mid-batch waits for the batch's flush ("late", see flushChannel).
   */
  private goLive(e: ChannelEntry, s: HubSession): void {
    if (s.transport === 'ws') e.ws.set(s, e.logBase + e.log.length);
    else if (e.pending.length > 0) e.late.set(s, e.pending.length);
    else this.join(e, s);
  }

  private join(e: ChannelEntry, s: HubSession): void {
    if (s.transport === 'ws') e.ws.set(s, e.logBase + e.log.length);
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
