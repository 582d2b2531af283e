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
 * Contiguity: a channel's live stream on this node is checked offset by offset. A publication that
 * skips offsets (a Redis that lost its data, a subscriber connection that dropped, relays racing after
 * a restart) holds the stream while the hole is filled — from bus history when it has the range, else
 * from the store, which has every committed publication. Only a hole the store cannot fill either
 * (history purged) is reported, as a `gap` push, never skipped silently.
 *
 * Recovery (subscribe with `since`): the session is registered as "recovering" before history is
 * read, so live publications arriving meanwhile are buffered for it; history is then sent, the buffer
 * is flushed past the last offset sent, and the session goes live. Every step checks that offsets
 * follow on; a hole is filled from the store (the session stays registered meanwhile, so nothing
 * arriving live is lost) or reported as a gap — `recovered: true` means nothing was missed. Going live
 * starts a session at the log's end; a socket.io session whose shard is still behind that end waits
 * outside the room ("late") and gets its part of the shard's next write on its own before joining.
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
  /** Highest offset of the live stream on this node: everything up to it was taken, in order. */
  top: number;
  /** Store's offset counter when the entry was created (for reporting topOffset). */
  storeTop: number;
  ready: Promise<void>;
  /** Set once the bus subscription is live and `top` starts from the store's counter. */
  live: boolean;
  /** While a hole is filled: live publications held back, in arrival order, until it is. */
  held: Array<[Publication, string]> | null;
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
   * After the bus lost live delivery for a while: every channel reads what it missed (bus history, or
   * the store), holding newer live publications back until then so order is kept.
   */
  private resyncAll(): void {
    for (const e of this.channels.values()) {
      if (e.held || !e.live) continue;
      e.held = [];
      void this.fill(e, undefined);
    }
  }

  /**
   * Publications after `after` (up to `upTo` when given), contiguous from `after + 1` as far as they go:
   * from bus history when it has the whole range, else from the store. May end early (limit), and
   * starts later than `after + 1` only where the store itself has nothing (history purged).
   */
  private async readAfter(name: string, after: number, upTo: number | undefined): Promise<Publication[]> {
    const limit = upTo === undefined ? MAX_RECOVERY : Math.min(MAX_RECOVERY, upTo - after);
    if (limit <= 0) return [];
    try {
      const h = await this.d.bus.history(name, { sinceOffset: after, limit });
      const pubs = h.publications;
      const follows = pubs.every((p, i) => p.offset === after + 1 + i);
      const reaches = upTo === undefined ? h.complete && h.topOffset >= this.storeTopOf(name) : pubs.at(-1)?.offset === upTo;
      if (h.complete && follows && (reaches || pubs.length === limit)) return pubs;
    } catch (err) {
      this.d.logger.warn({ err, channel: name }, 'bus history unavailable; reading the store');
    }
    return this.d.messages.since(name, after, limit);
  }

  private storeTopOf(name: string): number {
    return this.channels.get(name)?.storeTop ?? 0;
  }

  /**
   * Fills the live stream of `e` from `e.top` up to `upTo` (or as far as history goes), then lets the
   * held publications through. Retries while the store is unavailable: the stream stays held, so
   * nothing is delivered out of order or skipped.
   */
  private async fill(e: ChannelEntry, upTo: number | undefined): Promise<void> {
    for (let attempt = 0; this.channels.get(e.name) === e; attempt++) {
      try {
        for (;;) {
          const pubs = await this.readAfter(e.name, e.top, upTo);
          if (pubs.length === 0) break;
          if (pubs[0].offset > e.top + 1) this.liveGap(e, pubs[0].offset);
          else this.d.metrics.liveGaps.inc({ outcome: 'filled' });
          for (const pub of pubs) if (pub.offset > e.top) this.deliverLive(e, pub, JSON.stringify(pub));
          if (upTo === undefined || e.top >= upTo) break;
        }
        if (upTo !== undefined && e.top < upTo) this.liveGap(e, upTo + 1);
        break;
      } catch (err) {
        this.d.logger.warn({ err, channel: e.name, top: e.top, upTo }, 'filling a hole in the live stream failed; retrying');
        await new Promise((r) => setTimeout(r, Math.min(5000, 200 * 2 ** Math.min(attempt, 5))));
      }
    }
    const held = e.held ?? [];
    e.held = null;
    for (let i = 0; i < held.length; i++) {
      if (e.held) {
        // A new hole among the held ones: they wait behind its fill.
        (e.held as Array<[Publication, string]>).push(...held.slice(i));
        return;
      }
      this.accept(e, held[i][0], held[i][1]);
    }
  }

  /** A hole the store cannot fill: every session on the channel is told, then the stream goes on. */
  private liveGap(e: ChannelEntry, from: number): void {
    this.d.metrics.liveGaps.inc({ outcome: 'gap' });
    this.d.logger.error({ channel: e.name, top: e.top, from }, 'live stream hole that the store cannot fill; reporting a gap');
    const gap = gapPush(e.name, e.top, from);
    for (const set of [e.ws.keys(), e.sio.keys(), e.catchingUp.keys()]) for (const s of set) s.sendGap(gap);
    e.top = from - 1;
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
      live: false,
      held: null,
      handler: (pub, raw) => this.onPublication(entry, pub, raw),
      ready: Promise.resolve(),
      sigHandler: signals ? (data) => this.onSignal(entry, data) : null,
    };
    entry.ready = (async () => {
      await this.d.bus.subscribe(name, entry.handler);
      if (entry.sigHandler) await this.d.bus.subscribeSignals(name, entry.sigHandler);
      entry.storeTop = await this.d.messages.topOffset(name);
      // The stream starts after what the store had when it went live: a subscriber without `since` is
      // told this top, so a later live copy of an older publication is not delivered as new.
      if (entry.storeTop > entry.top) entry.top = entry.storeTop;
      entry.live = true;
    })();
    entry.ready.catch(() => {
      if (this.channels.get(name) === entry) this.channels.delete(name);
      void this.d.bus.unsubscribe(name, entry.handler).catch(() => {});
      if (entry.sigHandler) void this.d.bus.unsubscribeSignals(name, entry.sigHandler).catch(() => {});
    });
    this.channels.set(name, entry);
    return entry;
  }

  private onPublication(e: ChannelEntry, pub: Publication, raw: string): void {
    if (e.held) e.held.push([pub, raw]);
    else this.accept(e, pub, raw);
  }

  /** The live stream's gate: in order, each offset once, and a hole is filled before anything after it. */
  private accept(e: ChannelEntry, pub: Publication, raw: string): void {
    if (pub.offset <= e.top) return;
    if (e.live && pub.offset > e.top + 1) {
      e.held = [[pub, raw]];
      void this.fill(e, pub.offset - 1);
      return;
    }
    this.deliverLive(e, pub, raw);
  }

  /** Takes the next publication of the live stream: to recovering buffers, catching-up sessions and the sweep. */
  private deliverLive(e: ChannelEntry, pub: Publication, raw: string): void {
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
   * store when the bus history is too short), reporting a gap explicitly only where the store has
   * nothing either, or beyond MAX_RECOVERY publications.
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
    let recovered = true;
    let last = since;
    let delivered = 0;
    const gap = (from: number) => {
      recovered = false;
      s.sendGap(gapPush(e.name, last, from));
      last = from - 1;
    };
    /** Sends what follows on from `last`; returns the publications from the first hole on. */
    const take = (pubs: Publication[]): Publication[] => {
      for (let i = 0; i < pubs.length; i++) {
        const pub = pubs[i];
        if (pub.offset <= last) continue;
        if (pub.offset > last + 1) return pubs.slice(i);
        this.deliverOne(s, pub);
        last = pub.offset;
        delivered++;
      }
      return [];
    };
    try {
      await e.ready;
      let pending = take(await this.readAfter(e.name, since, undefined));
      // History, then what arrived live meanwhile; a hole anywhere (history cut at its limit, a store
      // read that raced a commit) is filled from the store while live publications keep buffering.
      for (let round = 0; round < 100; round++) {
        if (pending.length > 0) {
          const hole = pending[0].offset;
          if (delivered < MAX_RECOVERY) {
            let rest = take(await this.d.messages.since(e.name, last, Math.min(MAX_RECOVERY - delivered, hole - last - 1)));
            // The store has no row where one should be (history purged): that is a real gap.
            while (rest.length > 0) {
              gap(rest[0].offset);
              rest = take(rest);
            }
          }
          if (last < hole - 1) gap(hole);
          pending = take(pending);
          continue;
        }
        const buf = e.recovering.get(s)!;
        if (buf.length === 0) break;
        pending = take(buf.splice(0));
      }
      while (pending.length > 0) {
        gap(pending[0].offset);
        pending = take(pending);
      }
    } catch (err) {
      e.recovering.delete(s);
      void this.maybeRelease(e);
      throw this.unavailable(err, e.name);
    }
    e.recovering.delete(s);
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

/** Offsets `since + 1 … from - 1` of `channel` cannot be delivered (see GapPush). */
function gapPush(channel: string, since: number, from: number): GapPush {
  return { t: 'gap', channel, since, from, error: new QiaoError('QIAO_RECOVERY_GAP').toJSON() };
}

export interface FlushableSession {
  flush(): void;
}
