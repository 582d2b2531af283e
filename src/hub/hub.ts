/**
 * The node-local fanout core shared by both gateways.
 *
 * One bus subscription per channel per process (reference-counted by local subscribers). Each channel
 * keeps a short log of live publications and a cursor (the next log entry needed) per raw WebSocket
 * and per socket.io shard (a socket.io room of up to SWEEP_SLICE sockets of the channel). A sweep walks
 * the channel's sockets in slices of about SWEEP_SLICE sockets, yielding to the event loop between
 * slices, and sends each socket or shard everything from its cursor to the log's end in one go:
 * a raw WebSocket gets one frame ("\n"-joined `msg` frames), encoded once and shared by every socket at
 * the same cursor; a shard gets one room broadcast (one push, or an array), which socket.io encodes
 * once for the room. An idle node sends a publication as soon as its turn ends; a busy one lets
 * publications that arrive during a sweep join the writes still ahead, so a loaded node makes fewer,
 * larger writes instead of falling behind.
 *
 * Recovery (subscribe with `since`): the session is registered as "recovering" before history is
 * read, so live publications arriving meanwhile are buffered for it; history is then sent, the buffer
 * is flushed past the last offset sent, and the session goes live — all without yielding, so there is
 * no gap and no duplicate. Going live starts a session at the log's end; a socket.io session whose
 * shard is still behind that end waits outside the room ("late") and gets its part of the shard's next
 * write on its own before joining.
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
  /** socket.io only: join/leave a room used for broadcast (the hub names it). */
  joinRoom?(room: string): void;
  leaveRoom?(room: string): void;
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
 * A run of a channel's log (from one cursor to the log's end) as the text every raw WebSocket at that
 * cursor receives: the `msg` frames joined by "\n". `wire` is a transport-level encoding of `text` (the
 * WebSocket frame), built by the first socket that needs it and reused by the others.
 */
export interface SharedFrame {
  readonly text: Buffer;
  /** Publications in the batch (for metrics). */
  readonly count: number;
  wire?: Buffer;
}

/** Up to SWEEP_SLICE socket.io sessions of one channel in one socket.io room; they share a cursor. */
class SioShard {
  readonly members = new Set<HubSession>();
  /** Live sessions waiting for the shard to reach the log position they went live at, then joining. */
  readonly late = new Map<HubSession, number>();
  constructor(readonly room: string) {}
  get size(): number {
    return this.members.size + this.late.size;
  }
}

interface Sweep {
  /** What this pass visits, in order; `next` is the first not yet visited. */
  order: Array<HubSession | SioShard>;
  next: number;
}

/** Sockets written per sweep slice before yielding to the event loop; also the socket.io shard size. */
export const SWEEP_SLICE = 512;

interface LogEntry {
  pub: Publication;
  /** The `msg` frame as raw WebSockets receive it. */
  text: string;
}

/** One run of the log (cursor → end) as each transport sends it, built on first use within a slice. */
interface Run {
  count: number;
  frame?: SharedFrame;
  pushes?: MsgPush[];
}

interface ChannelEntry {
  name: string;
  handler: BusHandler;
  /** Raw WebSocket sessions live on this channel → their cursor: the log sequence number they need next. */
  ws: Map<HubSession, number>;
  /** socket.io sessions live on this channel → their shard (in its room, or late for it). */
  sio: Map<HubSession, SioShard>;
  /** socket.io shards → their cursor. */
  shards: Map<SioShard, number>;
  shardSeq: number;
  /** Live publications not yet sent to every socket; log[0] has sequence number `logBase`. */
  log: LogEntry[];
  logBase: number;
  /** The sweep in progress, if any. */
  sweep: Sweep | null;
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
  /** socket.io broadcast of one push (or an array) to a room on this node only (set by the socket.io gateway). */
  roomBroadcast?: (room: string, push: MsgPush | MsgPush[]) => void;
}

/** Most publications replayed in one recovery; beyond this the client is told about the gap. */
export const MAX_RECOVERY = 10_000;

export class Hub {
  private readonly channels = new Map<string, ChannelEntry>();
  private readonly dirty = new Set<FlushableSession>();
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

  setRoomBroadcast(fn: (room: string, push: MsgPush | MsgPush[]) => void): void {
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
      sio: new Map(),
      shards: new Map(),
      shardSeq: 0,
      log: [],
      logBase: 0,
      sweep: null,
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
    if (e.ws.size > 0 || e.shards.size > 0) {
      e.log.push({ pub, text: '{"t":"msg",' + raw.slice(1) });
      if (!e.sweep) {
        e.sweep = { order: [], next: 0 };
        setImmediate(() => this.sweepSlice(e));
      }
    }
  }

  /**
   * Sends the next slice of the channel's sockets what each still needs of the log: one shared frame
   * per raw WebSocket, one room broadcast per socket.io shard. At the end of a pass it trims the log to
   * what some socket still needs and goes round again if anything is left.
   */
  private sweepSlice(e: ChannelEntry): void {
    const sw = e.sweep;
    if (!sw) return;
    if (sw.next >= sw.order.length) {
      sw.order = [...e.ws.keys(), ...e.shards.keys()];
      sw.next = 0;
    }
    const end = e.logBase + e.log.length;
    const runs = new Map<number, Run>();
    const run = (cursor: number): Run => {
      let r = runs.get(cursor);
      if (!r) runs.set(cursor, (r = { count: end - cursor }));
      return r;
    };
    let wsDelivered = 0;
    let sioDelivered = 0;
    for (let budget = SWEEP_SLICE; budget > 0 && sw.next < sw.order.length; ) {
      const t = sw.order[sw.next++];
      budget -= t instanceof SioShard ? Math.max(1, t.size) : 1;
      // One socket's failure must not stall the channel: the sweep goes on to the others.
      try {
        if (t instanceof SioShard) sioDelivered += this.sendShard(e, t, end, run);
        else wsDelivered += this.sendWs(e, t, end, run);
      } catch (err) {
        this.d.logger.error({ err, channel: e.name }, 'fanout to a socket failed');
      }
    }
    if (wsDelivered > 0) this.d.metrics.deliveries.inc({ transport: 'ws' }, wsDelivered);
    if (sioDelivered > 0) this.d.metrics.deliveries.inc({ transport: 'socketio' }, sioDelivered);
    if (sw.next < sw.order.length) {
      setImmediate(() => this.sweepSlice(e));
      return;
    }
    // Pass done: drop what everyone has, go round again if something arrived meanwhile.
    const logEnd = e.logBase + e.log.length;
    let min = logEnd;
    for (const c of e.ws.values()) if (c < min) min = c;
    for (const c of e.shards.values()) if (c < min) min = c;
    if (min > e.logBase) {
      e.log.splice(0, min - e.logBase);
      e.logBase = min;
    }
    if (e.log.length > 0) setImmediate(() => this.sweepSlice(e));
    else e.sweep = null;
  }

  /** One raw WebSocket's part of a sweep slice; returns the publications delivered. */
  private sendWs(e: ChannelEntry, s: HubSession, end: number, run: (cursor: number) => Run): number {
    const cursor = e.ws.get(s);
    if (cursor === undefined || cursor >= end) return 0;
    const r = run(cursor);
    if (!r.frame) {
      const from = cursor - e.logBase;
      const text = from === e.log.length - 1 ? e.log[from].text : e.log.slice(from).map((x) => x.text).join('\n');
      r.frame = { text: Buffer.from(text), count: r.count };
    }
    e.ws.set(s, end);
    s.deliverShared!(r.frame);
    return r.count;
  }

  /** One socket.io shard's part of a sweep slice: a room broadcast, then its late joiners; returns deliveries. */
  private sendShard(e: ChannelEntry, t: SioShard, end: number, run: (cursor: number) => Run): number {
    const cursor = e.shards.get(t);
    if (cursor === undefined || cursor >= end) return 0;
    e.shards.set(t, end);
    let delivered = 0;
    if (t.members.size > 0 && this.d.roomBroadcast) {
      const r = run(cursor);
      r.pushes ??= e.log.slice(cursor - e.logBase).map((x) => ({ t: 'msg', ...x.pub }) as MsgPush);
      this.d.roomBroadcast(t.room, r.pushes.length === 1 ? r.pushes[0] : r.pushes);
      delivered += t.members.size * r.count;
    }
    for (const [s, from] of t.late) {
      for (let i = from - e.logBase; i < e.log.length; i++) this.deliverOne(s, e.log[i].pub);
      t.members.add(s);
      s.joinRoom?.(t.room);
    }
    t.late.clear();
    return delivered;
  }

  /** Relays a channel signal to the sessions live on it here, except those of the user it came from. */
  private onSignal(e: ChannelEntry, data: unknown): void {
    const sig = data as ChannelSignal | null;
    if (!sig || typeof sig.kind !== 'string' || typeof sig.from !== 'string') return;
    const push: SignalPush = { t: 'signal', channel: e.name, kind: sig.kind, from: sig.from, ...(sig.data === undefined ? {} : { data: sig.data }) };
    // Also to sessions still recovering or catching up: they are subscribed, only their publications wait.
    for (const set of [e.ws.keys(), e.sio.keys(), e.recovering.keys(), e.catchingUp.keys()]) {
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
   * Makes a session live on a channel from the next publication on: its cursor starts at the log's end.
   * A socket.io session joins a shard with room to spare, in its room at once if the shard is up to
   * date, otherwise as "late" (see sweepSlice).
   */
  private goLive(e: ChannelEntry, s: HubSession): void {
    const logEnd = e.logBase + e.log.length;
    if (s.transport === 'ws') {
      e.ws.set(s, logEnd);
      return;
    }
    let shard: SioShard | undefined;
    for (const sh of e.shards.keys()) {
      if (sh.size < SWEEP_SLICE) {
        shard = sh;
        break;
      }
    }
    if (!shard) {
      shard = new SioShard(`${e.name}#${++e.shardSeq}`);
      e.shards.set(shard, logEnd);
    }
    e.sio.set(s, shard);
    if (e.shards.get(shard) === logEnd) {
      shard.members.add(s);
      s.joinRoom?.(shard.room);
    } else shard.late.set(s, logEnd);
  }

  async unsubscribe(s: HubSession, channel: string): Promise<void> {
    const e = this.channels.get(channel);
    if (!e) return;
    e.ws.delete(s);
    const shard = e.sio.get(s);
    if (shard) {
      e.sio.delete(s);
      if (shard.members.delete(s)) s.leaveRoom?.(shard.room);
      shard.late.delete(s);
      if (shard.size === 0) e.shards.delete(shard);
    }
    e.recovering.delete(s);
    e.catchingUp.delete(s);
    await this.maybeRelease(e);
  }

  private async maybeRelease(e: ChannelEntry): Promise<void> {
    if (e.ws.size || e.sio.size || e.recovering.size || e.catchingUp.size) return;
    if (this.channels.get(e.name) !== e) return;
    this.channels.delete(e.name);
    await this.d.bus.unsubscribe(e.name, e.handler).catch((err) => this.d.logger.warn({ err }, 'bus unsubscribe failed'));
    if (e.sigHandler) await this.d.bus.unsubscribeSignals(e.name, e.sigHandler).catch((err) => this.d.logger.warn({ err }, 'bus signal unsubscribe failed'));
  }

  /** Queues a session's own frames (replies, pushes, recovery) for the end-of-turn flush. */
  markDirty(s: FlushableSession): void {
    this.dirty.add(s);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => this.flushAll());
  }

  /** Sessions' own frames (a raw WebSocket also flushes them before any shared frame, keeping order). */
  private flushAll(): void {
    this.flushScheduled = false;
    const batch = [...this.dirty];
    this.dirty.clear();
    for (const s of batch) s.flush();
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
