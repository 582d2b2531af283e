/**
 * The bus: publish, subscribe and history by offset, per channel.
 *
 * Guarantees every implementation gives (checked by test/contract/bus.contract.ts):
 *
 * 1. Offsets. Every publication carries a per-channel offset chosen by the caller (the store allocates
 *    it when the message is committed). The bus accepts a publication only if its offset is strictly
 *    greater than the last offset it accepted for that channel; anything else is rejected with
 *    `{ accepted: false, topOffset }` and is neither stored nor delivered. So per channel, history and
 *    delivery are strictly increasing in offset, even when several processes publish.
 *    With `contiguous: true` the bus is stricter: it accepts only the offset right after the last one
 *    it accepted (`top + 1`), or any offset when it holds no record of the channel (a new channel, or
 *    a Redis that lost its data). A relay that finds the bus behind (`topOffset < offset - 1`) hands
 *    it the missing publications first; one that finds it ahead knows its publication is already there.
 * 2. Ordering. Every subscriber of a channel, on every process sharing the bus, receives that
 *    channel's accepted publications in offset order. No order is promised across channels.
 * 3. Durability. `publish` resolves after the publication is in history (for Redis: in the stream)
 *    and handed to live delivery. History is a bounded cache: it keeps at least the last
 *    `historySize` publications of a channel for `historyTtlMs` after the last publish. The source of
 *    truth is the store (Postgres); the bus history exists for fast reconnect recovery.
 * 4. Live delivery is at-most-once per subscriber: a subscriber that falls behind or loses its
 *    connection to the bus recovers by asking `history` from the last offset it saw. `history`
 *    tells whether it reached that far (`complete`), so a gap is never silent.
 * 5. `subscribe` resolves once live delivery for that channel is active on this process: anything
 *    published after it resolves is delivered to the handler.
 * 6. Signals (`signal`, `subscribeSignals`) are ephemeral events beside the publications (typing,
 *    receipts, presence, node control): no offset, not stored, not in history, delivered at most once
 *    to the signal handlers of that channel on every process subscribed when it is sent. A signal is
 *    delivered before any publication or signal sent after `signal` resolved (same ordered path), so
 *    a control signal ("stop delivering X to Y") is acted on before later publications arrive.
 */

/** One message as it travels on the bus and over the wire. */
export interface Publication {
  /** Channel name, e.g. `research.macro`, `alerts.600519.SH`. */
  channel: string;
  /** Message id (UUID), stable across retries; clients drop duplicates by it. */
  id: string;
  /** Per-channel monotonic offset, starting at 1. */
  offset: number;
  /** Message kind, e.g. `note`, `alert`, `chat`. */
  kind: string;
  /** Sender user id (or `system`/`feed` for automated sources). */
  sender: string;
  /** Kind-specific body. */
  payload: unknown;
  /** Time of publication, ISO 8601 UTC. */
  time: string;
}

export interface PublishResult {
  accepted: boolean;
  /** Last offset the bus holds for the channel after this call. */
  topOffset: number;
}

export interface HistoryOptions {
  /** Return publications with offset strictly greater than this. */
  sinceOffset: number;
  /** At most this many publications (oldest first). */
  limit: number;
}

export interface HistoryResult {
  publications: Publication[];
  /** Highest offset the bus knows for the channel (0 when none). */
  topOffset: number;
  /**
   * True when `publications` contains every publication after `sinceOffset` up to either `topOffset`
   * or `limit` items; false when history was trimmed or expired past `sinceOffset`.
   */
  complete: boolean;
}

/**
 * Called for every live publication. `raw` is the JSON text of the publication, encoded once per
 * process so gateways can forward it to thousands of sockets without re-encoding.
 */
export type BusHandler = (pub: Publication, raw: string) => void;

/** Called for every signal on a channel this process subscribed signals of. `data` is the JSON value sent. */
export type SignalHandler = (data: unknown, channel: string) => void;

export interface ChannelOptions {
  /** How many publications history keeps at least. */
  historySize: number;
  /** How long history lives after the last publish (ms). */
  historyTtlMs: number;
  /** Accept only `top + 1` (or anything when the bus has no record of the channel); see guarantee 1. */
  contiguous?: boolean;
}

export interface Bus {
  publish(pub: Publication, opts: ChannelOptions): Promise<PublishResult>;
  /** Start live delivery of `channel` to `handler`. Several handlers per channel are allowed. */
  subscribe(channel: string, handler: BusHandler): Promise<void>;
  /** Stop delivering `channel` to `handler`. Unknown pairs are ignored. */
  unsubscribe(channel: string, handler: BusHandler): Promise<void>;
  history(channel: string, opts: HistoryOptions): Promise<HistoryResult>;
  /** Sends an ephemeral signal (guarantee 6); resolves once it is handed to live delivery. */
  signal(channel: string, data: unknown): Promise<void>;
  /** Start delivering signals of `channel` to `handler` (independent of publication subscriptions). */
  subscribeSignals(channel: string, handler: SignalHandler): Promise<void>;
  unsubscribeSignals(channel: string, handler: SignalHandler): Promise<void>;
  /**
   * Registers a listener called when live delivery may have missed publications (the Redis subscriber
   * connection was lost and is live again). Listeners recover from `history` per channel.
   * The memory bus never calls it.
   */
  onResync?(listener: () => void): void;
  /** Health probe: resolves when the backing service answers. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
