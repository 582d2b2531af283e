/**
 * The typed Qiao client library, used by the web client, the tests and the benchmark. Runs in the
 * browser and in Node (no Node-only imports: Node callers pass the `ws` constructor or socket.io-client's
 * `io`).
 *
 * What it does on top of the socket protocol (src/gateway/protocol.ts):
 * - matches replies to commands by numeric id; pending commands reject with QIAO_UNAVAILABLE when the
 *   connection goes away;
 * - keeps the last offset per channel and, on every (re)connect, resubscribes each channel with
 *   `since` = that offset, so what was missed arrives in order; drops duplicates by message id (the
 *   last `dedupeWindow` ids per channel) and any message at or below the last offset;
 * - reconnects with exponential backoff and jitter after an unexpected close, and after `afterMs` on a
 *   `reconnect` push (node draining). The close code's range decides (src/errors/close-codes.ts):
 *   4000–4499 reconnect, 4500–4999 stop; an auth close (46xx) stops it unless the token function
 *   returns a different token.
 *
 * Several nodes (failover, so an application never writes it):
 * - `urls` lists hub base URLs (`url` is shorthand for a one-element list). `connect()` starts with the
 *   first one that is not marked draining; the nodes a server advertises in its welcome (`nodes`) are
 *   appended to the list (deduplicated; `learnNodes: false` turns this off).
 * - A failed attempt or an unexpected close moves to the NEXT URL in the list (round robin), after the
 *   usual backoff delay (reset by every welcome).
 * - A `reconnect` push, or a close in the node range 4100–4199 (QIAO_DRAINING, QIAO_UNAVAILABLE,
 *   QIAO_INTERNAL) or 1001 (going away),
 *   marks that URL draining for `drainingSkipMs` (default 30 s). Draining URLs are skipped while another
 *   is usable; when every URL is marked (e.g. one URL behind a load balancer) the one whose mark ends
 *   first is tried (after the normal delay, not after the mark). After a `reconnect` push the client
 *   keeps reading until `afterMs`, then moves; after a draining close it moves after the backoff
 *   delay. A welcome clears the node's mark.
 * - Each welcome emits `node` ({ url, node, moved }); `currentNode` and `nodes` tell the same. Every
 *   `disconnected` event names the URL that was lost and, when reconnecting, the next one.
 * - On the new node every channel is resubscribed with `since` = its last offset: offsets are the
 *   deployment's, not a node's, so nothing is lost and duplicates are dropped (id and offset).
 * - Commands (publish included) are never queued: one issued while not connected (during a move)
 *   rejects at once with QIAO_UNAVAILABLE, and one in flight when the connection drops rejects with
 *   QIAO_UNAVAILABLE too — that publish may or may not have been stored; it would then arrive on the
 *   subscription after the move, so check before sending it again. Between a `reconnect` push and
 *   the move the draining node itself refuses a publish with QIAO_DRAINING. Either way: retry after
 *   the next `connected`.
 *
 * Subscriptions are durable on the client: a subscription whose subscribe promise rejected with
 * QIAO_UNAVAILABLE (the connection dropped) stays registered and is retried on reconnect; call
 * `unsubscribe` to give it up. A refusal by the server (e.g. QIAO_ENTITLEMENT_REQUIRED) removes it.
 */
import type {
  Command,
  ErrorBody,
  GapPush,
  MsgPush,
  PublishResultBody,
  Reply,
  ServerFrame,
  SignalPush,
  SubscribeResult,
  UnsubscribedPush,
  WelcomePush,
} from '../gateway/protocol.ts';
import { CLOSE_CODES, closeAction, closeRange } from '../errors/close-codes.ts';
import { Backoff, DEFAULT_BACKOFF, type BackoffOptions } from './backoff.ts';
import { QiaoClientError, unavailable } from './client-error.ts';
import { TypedEmitter } from './emitter.ts';
import { RecentIds } from './recent-ids.ts';
import type { CloseInfo, Transport, TransportSink } from './transport.ts';
import { SocketIoTransport, type IoFactory } from './transport-socketio.ts';
import { WsTransport, type WebSocketCtor } from './transport-ws.ts';

export { QiaoClientError } from './client-error.ts';
export type { IoFactory } from './transport-socketio.ts';
export type { WebSocketCtor, WebSocketLike } from './transport-ws.ts';
export type { GapPush, MsgPush, PublishResultBody, SignalPush, SubscribeResult, UnsubscribedPush, WelcomePush } from '../gateway/protocol.ts';

export type TokenSource = string | (() => string | Promise<string>);

export interface QiaoClientOptions {
  /**
   * Base URLs of the hub's nodes, e.g. `['https://a.qiao.example', 'https://b.qiao.example']` (http(s)
   * and ws(s)). Tried in order; see the header comment for the failover rules.
   */
  urls?: string[];
  /** One base URL, e.g. `http://127.0.0.1:3000`: shorthand for `urls: [url]` (with both, `url` comes first). */
  url?: string;
  /** Add the node URLs a server advertises in its welcome to the list. Default true. */
  learnNodes?: boolean;
  /** How long a node that announced it is draining is skipped, ms. Default 30000. */
  drainingSkipMs?: number;
  token: TokenSource;
  transport: 'websocket' | 'socketio';
  /** WebSocket constructor; default `globalThis.WebSocket` (Node: pass `ws`). */
  WebSocket?: WebSocketCtor;
  /** socket.io-client's `io`; required for the socketio transport. */
  io?: IoFactory;
  reconnect?: Partial<BackoffOptions>;
  /** Message ids remembered per channel for duplicate detection. Default 1000. */
  dedupeWindow?: number;
  /** A command without a reply after this long rejects with QIAO_UNAVAILABLE. Default 15000; 0 = wait forever. */
  commandTimeoutMs?: number;
  /** Randomness for the backoff jitter (tests). */
  random?: () => number;
}

export type ClientState = 'idle' | 'connecting' | 'connected' | 'reconnecting' | 'closed';

export interface DisconnectedEvent {
  code: number;
  reason: string;
  /** Stable error code when the server said why. */
  errorCode?: string;
  /** Whether this connection had been welcomed (false: an attempt that failed). */
  wasConnected: boolean;
  willReconnect: boolean;
  /** Delay before the next attempt, when `willReconnect`. */
  delayMs?: number;
  /** Base URL of the connection (or attempt) that ended. */
  url: string;
  /** Base URL of the next attempt, when `willReconnect`. */
  nextUrl?: string;
}

/** Emitted on every welcome: which node the client is on now. */
export interface NodeEvent {
  /** Base URL it connected to. */
  url: string;
  /** The node's name from the welcome (QIAO_NODE_ID). */
  node: string;
  /** True when the previous connection was to another URL. */
  moved: boolean;
}

/** One entry of the client's node list. */
export interface NodeStatus {
  url: string;
  /** From the options, or advertised by a server's welcome. */
  source: 'options' | 'server';
  /** Name from the last welcome through this URL. */
  name?: string;
  /** Skipped until this time (epoch ms) because it announced it is draining; 0 when not. */
  drainingUntil: number;
  /** The client is connected through this URL now. */
  current: boolean;
}

export interface QiaoClientEvents {
  [event: string]: unknown;
  connected: WelcomePush;
  /** Which node the client is on, after every welcome. */
  node: NodeEvent;
  disconnected: DisconnectedEvent;
  gap: GapPush;
  unsubscribed: UnsubscribedPush;
  /** Ephemeral events (typing, receipts, presence, unread counts); not recovered after a reconnect. */
  signal: SignalPush;
  error: QiaoClientError;
  state: ClientState;
}

export type MsgHandler = (msg: MsgPush) => void;

export interface SubscribeOptions {
  /** Recover from this offset: deliver every publication after it (e.g. the last offset of fetched history). */
  since?: number;
}

interface Pending {
  resolve(result: unknown): void;
  reject(err: QiaoClientError): void;
  timer?: ReturnType<typeof setTimeout>;
}

interface ChannelSub {
  readonly name: string;
  readonly handler: MsgHandler;
  /** Highest offset delivered to the handler (or given as `since`). */
  lastOffset?: number;
  /** The channel's top offset when first subscribed: the resume point while nothing has arrived yet. */
  baseline?: number;
  readonly seen: RecentIds;
  /** The server has this subscription on the current connection. */
  live: boolean;
  /** A subscribe command is in flight on the current connection. */
  inflight: boolean;
  retries: number;
  retryTimer?: ReturnType<typeof setTimeout>;
  waiter?: { resolve(r: SubscribeResult): void; reject(e: QiaoClientError): void };
}

/** Besides the node range (41xx, src/errors/close-codes.ts): "this node is going away", move to another node. */
const GOING_AWAY = 1001;
const DEFAULT_DRAINING_SKIP_MS = 30_000;
/** Bound on the node list (servers may advertise nodes). */
const MAX_NODES = 64;
/** Server errors on subscribe that are worth retrying on the same connection. */
const RETRYABLE = new Set(['QIAO_RATE_LIMITED', 'QIAO_UNAVAILABLE', 'QIAO_INTERNAL']);

export class QiaoClient extends TypedEmitter<QiaoClientEvents> {
  private readonly opts: QiaoClientOptions;
  private readonly backoff: Backoff;
  private readonly channels = new Map<string, ChannelSub>();
  private readonly pending = new Map<number, Pending>();
  private transport: Transport | null = null;
  /** Bumped for every connection attempt and on close(): events of older transports are ignored. */
  private epoch = 0;
  private nextId = 0;
  private _state: ClientState = 'idle';
  private welcome: WelcomePush | null = null;
  private everConnected = false;
  private stopped = true;
  private reconnectTimer?: ReturnType<typeof setTimeout>;
  private drainTimer?: ReturnType<typeof setTimeout>;
  /** Set by a `reconnect` push: when to reconnect (epoch ms), bypassing the backoff. */
  private plannedReconnectAt: number | null = null;
  private lastToken: string | null = null;
  /** The node list: options first, then nodes learned from welcomes. */
  private readonly nodeList: Array<Omit<NodeStatus, 'current'>> = [];
  /** Index in nodeList of the current (or last) connection attempt; -1 before the first. */
  private cursor = -1;
  /** URL of the last welcomed connection (for NodeEvent.moved). */
  private lastWelcomedUrl: string | null = null;
  private connectWaiters: Array<{ resolve(w: WelcomePush): void; reject(e: QiaoClientError): void }> = [];

  constructor(opts: QiaoClientOptions) {
    super();
    if (opts.transport === 'socketio' && !opts.io) throw new TypeError('QiaoClient: the socketio transport needs the `io` option');
    const given = [...(opts.url !== undefined ? [opts.url] : []), ...(opts.urls ?? [])];
    if (!given.length) throw new TypeError('QiaoClient: give `urls` (or `url`): at least one hub base URL');
    for (const u of given) {
      const n = normalizeBaseUrl(u);
      if (n === null) throw new TypeError(`QiaoClient: not an http(s) or ws(s) URL: ${u}`);
      this.addNode(n, 'options');
    }
    this.opts = opts;
    this.backoff = new Backoff({ ...DEFAULT_BACKOFF, ...opts.reconnect }, opts.random);
  }

  /** A listener that throws is reported as an 'error' event (an 'error' listener that throws is rethrown). */
  protected override listenerFailed(err: unknown, event: keyof QiaoClientEvents): void {
    if (event === 'error') super.listenerFailed(err, event);
    else this.emit('error', toClientError(err, 'QIAO_INTERNAL', `A '${String(event)}' listener threw`));
  }

  get state(): ClientState {
    return this._state;
  }

  /** The last welcome (node, user, limits), or null before the first connection. */
  get session(): WelcomePush | null {
    return this.welcome;
  }

  /** The node the client is connected to, or null when not connected. */
  get currentNode(): { url: string; node: string } | null {
    if (this._state !== 'connected' || !this.welcome) return null;
    return { url: this.nodeList[this.cursor].url, node: this.welcome.node };
  }

  /** The node list in rotation order (options first, then advertised nodes), with draining marks. */
  get nodes(): NodeStatus[] {
    const connected = this._state === 'connected';
    return this.nodeList.map((n, i) => ({ ...n, current: connected && i === this.cursor }));
  }

  /** Channels this client is subscribed to (or trying to be). */
  get channelNames(): string[] {
    return [...this.channels.keys()];
  }

  /** Highest offset delivered on a channel. */
  lastOffset(channel: string): number | undefined {
    return this.channels.get(channel)?.lastOffset;
  }

  /** Opens the connection; resolves on the welcome. Rejects only when the client gives up (auth) or is closed. */
  connect(): Promise<WelcomePush> {
    if (this._state === 'connected' && this.welcome) return Promise.resolve(this.welcome);
    const p = new Promise<WelcomePush>((resolve, reject) => this.connectWaiters.push({ resolve, reject }));
    if (this.stopped) {
      this.stopped = false;
      this.backoff.reset();
      // A fresh start prefers the first usable node of the list.
      this.cursor = this.pickNode(-1);
      void this.open();
    }
    return p;
  }

  /** Closes the connection and stops reconnecting. Subscriptions are kept for a later connect(). */
  async close(): Promise<void> {
    this.stopped = true;
    this.epoch++;
    this.clearTimers();
    const t = this.transport;
    const wasConnected = this._state === 'connected';
    this.transport = null;
    this.connectionLost();
    this.setState('closed');
    this.failConnectWaiters(new QiaoClientError('QIAO_UNAVAILABLE', 'Client closed'));
    if (t) this.emit('disconnected', { code: 1000, reason: 'client closed', wasConnected, willReconnect: false, url: this.currentUrl() });
    if (t) await t.close(1000, 'client closed');
  }

  subscribe(channel: string, handler: MsgHandler, opts: SubscribeOptions = {}): Promise<SubscribeResult> {
    if (this.channels.has(channel)) {
      return Promise.reject(new QiaoClientError('QIAO_ALREADY_SUBSCRIBED', `Already subscribed to ${channel}`));
    }
    const sub: ChannelSub = {
      name: channel,
      handler,
      lastOffset: opts.since,
      seen: new RecentIds(this.opts.dedupeWindow ?? 1000),
      live: false,
      inflight: false,
      retries: 0,
    };
    this.channels.set(channel, sub);
    const p = new Promise<SubscribeResult>((resolve, reject) => (sub.waiter = { resolve, reject }));
    if (this._state === 'connected') this.sendSubscribe(sub);
    return p;
  }

  /** Stops delivery for a channel. Resolves when the server confirmed (or at once when not connected). */
  async unsubscribe(channel: string): Promise<void> {
    const sub = this.channels.get(channel);
    if (!sub) return;
    this.channels.delete(channel);
    if (sub.retryTimer) clearTimeout(sub.retryTimer);
    sub.waiter?.reject(new QiaoClientError('QIAO_NOT_SUBSCRIBED', `Unsubscribed from ${channel} before the subscription completed`));
    sub.waiter = undefined;
    // An in-flight subscribe is undone when its reply arrives (see sendSubscribe).
    if (sub.live && this._state === 'connected') await this.sendUnsubscribe(channel);
  }

  publish(channel: string, kind: string, payload: unknown): Promise<PublishResultBody> {
    const limit = this.welcome?.limits.maxPayloadBytes;
    if (limit && this._state === 'connected') {
      const size = utf8Length(JSON.stringify({ op: 'publish', id: this.nextId + 1, channel, kind, payload }));
      if (size > limit) {
        return Promise.reject(new QiaoClientError('QIAO_PAYLOAD_TOO_LARGE', `Command is ${size} bytes; the limit is ${limit}`));
      }
    }
    return this.command<PublishResultBody>({ op: 'publish', channel, kind, payload });
  }

  ping(): Promise<{ time: string }> {
    return this.command<{ time: string }>({ op: 'ping' });
  }

  /** Tells the other side of a conversation "typing…" (the server drops repeats within a second). */
  typing(channel: string): Promise<{ sent: boolean }> {
    return this.command<{ sent: boolean }>({ op: 'typing', channel });
  }

  /** This connection's presence as the other side of a conversation sees it. */
  setPresence(state: 'online' | 'away'): Promise<{ state: string }> {
    return this.command<{ state: string }>({ op: 'presence', state });
  }

  /** Delivered / read receipt for a conversation up to `offset`; resolves with the server's unread count. */
  receipt(channel: string, kind: 'delivered' | 'read', offset: number): Promise<{ conversationId: string; readOffset: number; deliveredOffset: number; unread: number }> {
    return this.command({ op: 'receipt', channel, kind, offset });
  }

  // ---------------------------------------------------------------------------------------------
  // Connection lifecycle

  private setState(s: ClientState): void {
    if (this._state === s) return;
    this._state = s;
    this.emit('state', s);
  }

  private async resolveToken(): Promise<string> {
    const t = this.opts.token;
    return typeof t === 'function' ? await t() : t;
  }

  private async open(): Promise<void> {
    const epoch = ++this.epoch;
    this.setState(this.everConnected ? 'reconnecting' : 'connecting');
    let token: string;
    try {
      token = await this.resolveToken();
    } catch (e) {
      if (epoch !== this.epoch) return;
      this.emit('error', toClientError(e, 'QIAO_AUTH_REQUIRED', 'The token function failed'));
      this.afterClose(epoch, { code: CLOSE_CODES.QIAO_AUTH_REQUIRED, reason: 'no token', errorCode: 'QIAO_AUTH_REQUIRED' }, false);
      return;
    }
    if (epoch !== this.epoch || this.stopped) return;
    this.lastToken = token;
    const sink: TransportSink = {
      onFrames: (frames) => {
        if (epoch === this.epoch) for (const f of frames) this.onFrame(f);
      },
      onClose: (info) => {
        if (epoch !== this.epoch) return;
        const wasConnected = this._state === 'connected';
        this.transport = null;
        this.connectionLost();
        this.afterClose(epoch, info, wasConnected);
      },
      onProtocolError: (message) => {
        if (epoch === this.epoch) this.emit('error', new QiaoClientError('QIAO_BAD_JSON', message));
      },
    };
    try {
      const url = this.currentUrl();
      this.transport =
        this.opts.transport === 'socketio' ? new SocketIoTransport(this.opts.io!, url, token, sink) : new WsTransport(this.wsCtor(), url, token, sink);
    } catch (e) {
      // e.g. a malformed URL: retrying will not help.
      this.stopped = true;
      this.setState('closed');
      const err = toClientError(e, 'QIAO_BAD_REQUEST', 'Could not open the connection');
      this.emit('error', err);
      this.failConnectWaiters(err);
    }
  }

  private wsCtor(): WebSocketCtor {
    const ctor = this.opts.WebSocket ?? (globalThis as { WebSocket?: WebSocketCtor }).WebSocket;
    if (!ctor) throw new TypeError('No WebSocket implementation: pass the `WebSocket` option (in Node, the `ws` package)');
    return ctor;
  }

  /** Rejects every pending command and marks every subscription as not live. */
  private connectionLost(): void {
    const err = unavailable('Connection closed');
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const p of pending) {
      if (p.timer) clearTimeout(p.timer);
      p.reject(err);
    }
    for (const sub of this.channels.values()) {
      sub.live = false;
      sub.inflight = false;
      sub.retries = 0;
      if (sub.retryTimer) clearTimeout(sub.retryTimer);
      sub.retryTimer = undefined;
    }
    if (this.drainTimer) clearTimeout(this.drainTimer);
    this.drainTimer = undefined;
  }

  /** Decides what happens after a connection ended: reconnect now, later, or stop. */
  private afterClose(epoch: number, info: CloseInfo, wasConnected: boolean): void {
    const base = { code: info.code, reason: info.reason, errorCode: info.errorCode, wasConnected, url: this.currentUrl() };
    if (this.stopped) {
      this.setState('closed');
      this.emit('disconnected', { ...base, willReconnect: false });
      return;
    }
    // The node is going away (or cannot serve now): skip it for a while.
    if (closeRange(info.code)?.scope === 'node' || info.code === GOING_AWAY) this.markDraining(this.cursor);
    if (this.plannedReconnectAt !== null) {
      const delayMs = Math.max(0, this.plannedReconnectAt - Date.now());
      this.plannedReconnectAt = null;
      this.scheduleReconnect(delayMs, base, this.pickNode(this.cursor));
      return;
    }
    // The range decides (src/errors/close-codes.ts): a stop close ends reconnecting, except that
    // refused credentials are worth one more try when the token function hands out a new token.
    if (closeAction(info.code) === 'stop') {
      if (closeRange(info.code)?.scope === 'auth') void this.afterAuthClose(epoch, info, base);
      else this.giveUp(info, base);
      return;
    }
    // Failed attempt or unexpected close: the next node of the list, after the backoff.
    this.scheduleReconnect(this.backoff.next(), base, this.pickNode(this.cursor));
  }

  /** An auth refusal: retry only when the token function hands out a different token. */
  private async afterAuthClose(epoch: number, info: CloseInfo, base: Omit<DisconnectedEvent, 'willReconnect'>): Promise<void> {
    let fresh: string | null = null;
    if (typeof this.opts.token === 'function') {
      this.setState('reconnecting');
      try {
        fresh = await this.resolveToken();
      } catch {
        fresh = null;
      }
    }
    if (epoch !== this.epoch || this.stopped) return;
    if (fresh !== null && fresh !== this.lastToken) {
      // The token was the problem, not the node: same node again.
      this.scheduleReconnect(this.backoff.next(), base, this.cursor);
      return;
    }
    this.giveUp(info, base, 'QIAO_AUTH_REQUIRED');
  }

  /** A stop close: no more reconnects; the error goes to `error` and to whoever waits in connect(). */
  private giveUp(info: CloseInfo, base: Omit<DisconnectedEvent, 'willReconnect'>, fallbackCode = 'QIAO_BAD_REQUEST'): void {
    this.stopped = true;
    this.setState('closed');
    const err = new QiaoClientError(info.errorCode ?? fallbackCode, info.reason || 'The server closed the connection for good');
    this.emit('disconnected', { ...base, willReconnect: false });
    this.emit('error', err);
    this.failConnectWaiters(err);
  }

  private scheduleReconnect(delayMs: number, base: Omit<DisconnectedEvent, 'willReconnect'>, next: number): void {
    this.cursor = next;
    this.setState('reconnecting');
    this.emit('disconnected', { ...base, willReconnect: true, delayMs, nextUrl: this.currentUrl() });
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    const epoch = this.epoch;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (epoch === this.epoch && !this.stopped) void this.open();
    }, delayMs);
  }

  private clearTimers(): void {
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    if (this.drainTimer) clearTimeout(this.drainTimer);
    this.reconnectTimer = undefined;
    this.drainTimer = undefined;
    this.plannedReconnectAt = null;
  }

  // ---------------------------------------------------------------------------------------------
  // Node list

  private currentUrl(): string {
    return this.nodeList[Math.max(0, this.cursor)].url;
  }

  private addNode(url: string, source: NodeStatus['source']): void {
    if (this.nodeList.length >= MAX_NODES || this.nodeList.some((n) => n.url === url)) return;
    this.nodeList.push({ url, source, drainingUntil: 0 });
  }

  /**
   * The node after index `after` (round robin; -1: from the start) that is not marked draining; when
   * every node is marked, the one whose mark ends first (the current one last on a tie).
   */
  private pickNode(after: number): number {
    const n = this.nodeList.length;
    const now = Date.now();
    let best = -1;
    for (let k = 1; k <= n; k++) {
      const i = (((after + k) % n) + n) % n;
      const until = this.nodeList[i].drainingUntil;
      if (until <= now) return i;
      if (best < 0 || until < this.nodeList[best].drainingUntil) best = i;
    }
    return best;
  }

  private markDraining(i: number): void {
    const node = this.nodeList[i];
    if (node) node.drainingUntil = Date.now() + (this.opts.drainingSkipMs ?? DEFAULT_DRAINING_SKIP_MS);
  }

  private failConnectWaiters(err: QiaoClientError): void {
    const ws = this.connectWaiters;
    this.connectWaiters = [];
    for (const w of ws) w.reject(err);
  }

  // ---------------------------------------------------------------------------------------------
  // Frames

  private onFrame(f: ServerFrame): void {
    switch (f.t) {
      case 'reply':
        return this.onReply(f);
      case 'msg':
        return this.onMsg(f);
      case 'welcome':
        return this.onWelcome(f);
      case 'gap':
        this.emit('gap', f);
        return;
      case 'unsubscribed': {
        const sub = this.channels.get(f.channel);
        if (sub) {
          this.channels.delete(f.channel);
          if (sub.retryTimer) clearTimeout(sub.retryTimer);
        }
        this.emit('unsubscribed', f);
        return;
      }
      case 'reconnect':
        return this.onReconnectPush(f.afterMs);
      case 'signal':
        this.emit('signal', f);
        return;
      default:
        this.emit('error', new QiaoClientError('QIAO_UNKNOWN_OP', `Unknown frame type "${String((f as { t?: unknown }).t)}"`));
    }
  }

  private onWelcome(w: WelcomePush): void {
    this.welcome = w;
    this.everConnected = true;
    this.backoff.reset();
    const here = this.nodeList[this.cursor];
    here.drainingUntil = 0;
    here.name = w.node;
    if (this.opts.learnNodes !== false && Array.isArray(w.nodes)) {
      for (const u of w.nodes) {
        const url = typeof u === 'string' ? normalizeBaseUrl(u) : null;
        if (url) this.addNode(url, 'server');
      }
    }
    const moved = this.lastWelcomedUrl !== null && this.lastWelcomedUrl !== here.url;
    this.lastWelcomedUrl = here.url;
    this.setState('connected');
    // Resubscribe first, so commands sent by 'connected' listeners queue behind the resubscriptions.
    for (const sub of this.channels.values()) this.sendSubscribe(sub);
    const waiters = this.connectWaiters;
    this.connectWaiters = [];
    for (const c of waiters) c.resolve(w);
    this.emit('node', { url: here.url, node: w.node, moved });
    this.emit('connected', w);
  }

  private onReply(r: Reply): void {
    const p = this.pending.get(r.re);
    if (!p) {
      if (!r.ok) this.emit('error', QiaoClientError.from(r.error));
      return;
    }
    this.pending.delete(r.re);
    if (p.timer) clearTimeout(p.timer);
    if (r.ok) p.resolve(r.result);
    else p.reject(QiaoClientError.from(r.error));
  }

  private onMsg(m: MsgPush): void {
    const sub = this.channels.get(m.channel);
    if (!sub) return;
    if (sub.lastOffset !== undefined && m.offset <= sub.lastOffset) return;
    if (!sub.seen.add(m.id)) return;
    sub.lastOffset = m.offset;
    try {
      sub.handler(m);
    } catch (e) {
      this.emit('error', toClientError(e, 'QIAO_INTERNAL', `The handler of ${m.channel} threw`));
    }
  }

  /** The node is draining: keep reading until `afterMs`, then switch connections (offsets make it lossless). */
  private onReconnectPush(afterMs: number): void {
    const delay = Math.max(0, Number.isFinite(afterMs) ? afterMs : 0);
    this.markDraining(this.cursor);
    this.plannedReconnectAt = Date.now() + delay;
    if (this.drainTimer) clearTimeout(this.drainTimer);
    const t = this.transport;
    this.drainTimer = setTimeout(() => {
      this.drainTimer = undefined;
      if (t && this.transport === t) void t.close(1000, 'reconnecting: node draining');
    }, delay);
  }

  // ---------------------------------------------------------------------------------------------
  // Commands

  private command<T>(cmd: DistributiveOmit<Command, 'id'>): Promise<T> {
    const t = this.transport;
    if (!t || this._state !== 'connected') return Promise.reject(unavailable());
    const id = ++this.nextId;
    return new Promise<T>((resolve, reject) => {
      const p: Pending = { resolve: resolve as (r: unknown) => void, reject };
      const timeout = this.opts.commandTimeoutMs ?? 15_000;
      if (timeout > 0) {
        p.timer = setTimeout(() => {
          if (this.pending.delete(id)) reject(unavailable(`No reply to "${cmd.op}" within ${timeout} ms`));
        }, timeout);
      }
      this.pending.set(id, p);
      try {
        t.send({ ...cmd, id } as Command);
      } catch (e) {
        this.pending.delete(id);
        if (p.timer) clearTimeout(p.timer);
        reject(unavailable(e instanceof Error ? e.message : 'Send failed'));
      }
    });
  }

  private sendSubscribe(sub: ChannelSub): void {
    if (sub.inflight || sub.live) return;
    sub.inflight = true;
    const since = sub.lastOffset ?? sub.baseline;
    const epoch = this.epoch;
    this.command<SubscribeResult>(since === undefined ? { op: 'subscribe', channel: sub.name } : { op: 'subscribe', channel: sub.name, since }).then(
      (result) => {
        if (epoch !== this.epoch) return;
        sub.inflight = false;
        if (this.channels.get(sub.name) !== sub) {
          // Unsubscribed while the subscribe was in flight: undo it on the server.
          if (!this.channels.has(sub.name)) void this.sendUnsubscribe(sub.name).catch(() => {});
          return;
        }
        sub.live = true;
        sub.retries = 0;
        if (sub.lastOffset === undefined && typeof result?.topOffset === 'number') sub.baseline = result.topOffset;
        const w = sub.waiter;
        sub.waiter = undefined;
        w?.resolve(result);
      },
      (err: QiaoClientError) => {
        sub.inflight = false;
        if (epoch !== this.epoch || this.channels.get(sub.name) !== sub) return;
        if (err.code === 'QIAO_UNAVAILABLE' && this._state !== 'connected') {
          // Connection lost: the subscription stays registered and is retried on reconnect.
          const w = sub.waiter;
          sub.waiter = undefined;
          w?.reject(err);
          return;
        }
        if (err.code === 'QIAO_ALREADY_SUBSCRIBED') {
          sub.live = true;
          const w = sub.waiter;
          sub.waiter = undefined;
          w?.resolve({ channel: sub.name, topOffset: sub.lastOffset ?? 0 });
          return;
        }
        if (RETRYABLE.has(err.code) && sub.retries < 8) {
          const delay = Math.min(this.backoff.maxDelay, 250 * 2 ** sub.retries++);
          sub.retryTimer = setTimeout(() => {
            sub.retryTimer = undefined;
            if (epoch === this.epoch && this.channels.get(sub.name) === sub && this._state === 'connected') this.sendSubscribe(sub);
          }, delay);
          return;
        }
        // Refused by the server: the subscription is gone.
        this.channels.delete(sub.name);
        const w = sub.waiter;
        sub.waiter = undefined;
        if (w) w.reject(err);
        else this.emit('unsubscribed', { t: 'unsubscribed', channel: sub.name, error: errorBody(err) });
      },
    );
  }

  private async sendUnsubscribe(channel: string): Promise<void> {
    try {
      await this.command({ op: 'unsubscribe', channel });
    } catch (e) {
      const code = (e as QiaoClientError).code;
      // Already gone on the server, or the connection is gone (which drops it too).
      if (code !== 'QIAO_NOT_SUBSCRIBED' && code !== 'QIAO_UNAVAILABLE') throw e;
    }
  }
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

function toClientError(e: unknown, code: string, fallback: string): QiaoClientError {
  if (e instanceof QiaoClientError) return e;
  const err = new QiaoClientError(code, e instanceof Error ? `${fallback}: ${e.message}` : fallback);
  if (e instanceof Error) (err as { cause?: unknown }).cause = e;
  return err;
}

function errorBody(e: QiaoClientError): ErrorBody {
  return { code: e.code, message: e.message, ...(e.details !== undefined ? { details: e.details } : {}) } as ErrorBody;
}

/** `https://Host:443/x/` → `https://host/x`; null for anything that is not an http(s) or ws(s) URL. */
function normalizeBaseUrl(u: string): string | null {
  let url: URL;
  try {
    url = new URL(u.trim());
  } catch {
    return null;
  }
  if (!['http:', 'https:', 'ws:', 'wss:'].includes(url.protocol)) return null;
  url.search = '';
  url.hash = '';
  return url.href.replace(/\/+$/, '');
}

function utf8Length(s: string): number {
  return new TextEncoder().encode(s).length;
}
