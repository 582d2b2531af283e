import type { Bus, BusHandler, ChannelOptions, HistoryOptions, HistoryResult, Publication, PublishResult, SignalHandler } from './bus.ts';

interface ChannelState {
  top: number;
  history: Publication[];
  expiresAt: number;
  handlers: Set<BusHandler>;
  /** Accepted publications waiting for delivery; non-empty only while a delivery is running. */
  queue: Array<[Publication, string]>;
  delivering: boolean;
}

/**
 * In-process bus for embedded mode (one hub process). Same guarantees as the Redis bus; delivery is
 * synchronous inside `publish`, which keeps per-channel order trivially.
 */
export class MemoryBus implements Bus {
  private readonly channels = new Map<string, ChannelState>();
  private readonly signalHandlers = new Map<string, Set<SignalHandler>>();
  private closed = false;

  constructor(private readonly now: () => number = Date.now) {}

  private state(channel: string): ChannelState {
    let s = this.channels.get(channel);
    if (!s) {
      s = { top: 0, history: [], expiresAt: Infinity, handlers: new Set(), queue: [], delivering: false };
      this.channels.set(channel, s);
    }
    if (s.expiresAt <= this.now()) {
      // History expired: offsets stay (the top never goes back), the cached publications go.
      s.history = [];
      s.expiresAt = Infinity;
    }
    return s;
  }

  async publish(pub: Publication, opts: ChannelOptions): Promise<PublishResult> {
    if (this.closed) throw new Error('bus closed');
    const s = this.state(pub.channel);
    if (!(pub.offset > s.top)) return { accepted: false, topOffset: s.top };
    if (opts.contiguous && s.top > 0 && pub.offset !== s.top + 1) return { accepted: false, topOffset: s.top };
    s.top = pub.offset;
    s.history.push(pub);
    if (s.history.length > opts.historySize) s.history.splice(0, s.history.length - opts.historySize);
    s.expiresAt = this.now() + opts.historyTtlMs;
    s.queue.push([pub, JSON.stringify(pub)]);
    // A handler may publish to the same channel while it is called; queueing (instead of delivering
    // re-entrantly) keeps every handler's view in offset order.
    if (!s.delivering) this.drain(s);
    return { accepted: true, topOffset: s.top };
  }

  private drain(s: ChannelState): void {
    s.delivering = true;
    try {
      for (let next = s.queue.shift(); next; next = s.queue.shift()) {
        const [pub, raw] = next;
        for (const h of [...s.handlers]) {
          try {
            h(pub, raw);
          } catch {
            // A failing handler must not stop delivery to the others.
          }
        }
      }
    } finally {
      s.delivering = false;
    }
  }

  async subscribe(channel: string, handler: BusHandler): Promise<void> {
    this.state(channel).handlers.add(handler);
  }

  async unsubscribe(channel: string, handler: BusHandler): Promise<void> {
    this.channels.get(channel)?.handlers.delete(handler);
  }

  async history(channel: string, opts: HistoryOptions): Promise<HistoryResult> {
    const s = this.state(channel);
    const pubs = s.history.filter((p) => p.offset > opts.sinceOffset).slice(0, Math.max(0, opts.limit));
    const wanted = opts.sinceOffset + 1;
    const complete = s.top <= opts.sinceOffset || (pubs.length > 0 && pubs[0].offset === wanted);
    return { publications: pubs, topOffset: s.top, complete };
  }

  async signal(channel: string, data: unknown): Promise<void> {
    if (this.closed) throw new Error('bus closed');
    const hs = this.signalHandlers.get(channel);
    if (!hs) return;
    // A JSON round trip, as on Redis: handlers never share (or mutate) the sender's object.
    const raw = JSON.stringify(data ?? null);
    for (const h of [...hs]) {
      try {
        h(JSON.parse(raw), channel);
      } catch {
        // A failing handler must not stop delivery to the others.
      }
    }
  }

  async subscribeSignals(channel: string, handler: SignalHandler): Promise<void> {
    if (this.closed) throw new Error('bus closed');
    let hs = this.signalHandlers.get(channel);
    if (!hs) this.signalHandlers.set(channel, (hs = new Set()));
    hs.add(handler);
  }

  async unsubscribeSignals(channel: string, handler: SignalHandler): Promise<void> {
    const hs = this.signalHandlers.get(channel);
    hs?.delete(handler);
    if (hs?.size === 0) this.signalHandlers.delete(channel);
  }

  async ping(): Promise<void> {
    if (this.closed) throw new Error('bus closed');
  }

  async close(): Promise<void> {
    this.closed = true;
    this.channels.clear();
    this.signalHandlers.clear();
  }
}
