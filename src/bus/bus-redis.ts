import { closeRedis, createRedis, type RedisClient } from '../store/redis-client.ts';
import { RedisSubscriber, publishOn } from '../store/redis-pubsub.ts';
import type { Bus, BusHandler, ChannelOptions, HistoryOptions, HistoryResult, Publication, PublishResult, SignalHandler } from './bus.ts';

export interface RedisBusLogger {
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface RedisBusOptions {
  /** e.g. `redis://127.0.0.1:6379/0`, or `redis+cluster://h1:7000,h2:7001` (src/store/redis-client.ts). */
  url: string;
  /** Prefix of every key and pub/sub channel name; default `qiao:`. */
  prefix?: string;
  logger?: RedisBusLogger;
}

/**
 * Key layout for bus channel `C` with prefix `P` (default `qiao:`):
 *
 * - `P{C}:top`    string, last accepted offset. Kept WITHOUT expiry: if it expired, a stale publisher
 *                 could be accepted with an offset lower than one already delivered, which breaks
 *                 guarantee 1. It is one small string per channel ever published.
 * - `P{C}:stream` stream, the history. Entry id is `<offset>-0`, one field `p` holding the publication
 *                 JSON. Trimmed with exact `MAXLEN historySize`, expires `historyTtlMs` after the last
 *                 publish.
 * - `P{C}:live`   pub/sub channel for live delivery (same JSON).
 * - `P{C}:sig`    pub/sub channel for signals (ephemeral, never stored). Same subscriber connection as
 *                 `:live`, so a signal and a later publication reach every process in send order.
 *
 * `{C}` is a Redis Cluster hash tag, so both keys AND both pub/sub channels of a channel live in one
 * slot: the script (which reads and writes the keys and publishes) and the MULTI in `history` never
 * cross slots, and on a cluster the shard channels `:live` and `:sig` are owned by the same master as
 * the keys, so SPUBLISH inside the script is legal and a signal and a publication travel the same
 * shard connection (guarantee 6). Channel names may contain dots and colons; the suffixes are distinct,
 * so no two channels can produce the same key. A channel name holding `}` would end the hash tag early:
 * the keys would still be consistent (the tag is the same for all four names), just in another slot.
 *
 * Pub/sub flavour: classic PUBLISH/SUBSCRIBE on a single Redis (unchanged: every existing deployment
 * and test keeps its behaviour; on one server sharded pub/sub buys nothing), sharded SPUBLISH/SSUBSCRIBE
 * on a Redis Cluster, where classic PUBLISH would be broadcast to every node of the cluster.
 */
const PUBLISH_LUA = `
local offset = tonumber(ARGV[1])
local topStr = redis.call('GET', KEYS[1])
if not topStr then
  -- New channel, or the top key was lost (eviction): never go below what history still holds.
  topStr = '0'
  local last = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', 1)
  if last[1] then topStr = string.match(last[1][1], '^(%d+)') end
end
if offset <= tonumber(topStr) then
  return {0, topStr}
end
-- Contiguous mode: only top + 1, unless the bus holds no record of the channel at all.
if ARGV[6] == '1' and tonumber(topStr) > 0 and offset ~= tonumber(topStr) + 1 then
  return {0, topStr}
end
-- XADD first: if it fails (stream ahead of a tampered top key) the script has written nothing.
redis.call('XADD', KEYS[2], 'MAXLEN', ARGV[3], ARGV[1] .. '-0', 'p', ARGV[2])
redis.call('SET', KEYS[1], ARGV[1])
redis.call('PEXPIRE', KEYS[2], ARGV[4])
-- On a cluster the live channel is a shard channel in the keys' slot (same hash tag).
if ARGV[7] == 'S' then
  redis.call('SPUBLISH', ARGV[5], ARGV[2])
else
  redis.call('PUBLISH', ARGV[5], ARGV[2])
end
return {1, ARGV[1]}
`;

type ScriptReply = [number | string, string | number];

interface PublishScript {
  qiaoBusPublish(
    topKey: string,
    streamKey: string,
    offset: string,
    raw: string,
    maxLen: string,
    ttlMs: string,
    liveChannel: string,
    contiguous: '0' | '1',
    sharded: 'S' | 'C',
  ): Promise<ScriptReply>;
}

interface LiveChannel<H = BusHandler> {
  channel: string;
  /** Copy-on-write snapshot, so delivery iterates without copying. */
  handlers: readonly H[];
  /** Whether Redis confirmed SUBSCRIBE (and no UNSUBSCRIBE since). */
  subscribed: boolean;
  /** Serialises SUBSCRIBE/UNSUBSCRIBE for this channel. */
  chain: Promise<void>;
}

const PING_TIMEOUT_MS = 2000;
const noopLogger: RedisBusLogger = { warn() {}, error() {} };

/**
 * Bus over Redis: one command connection (Lua publish, history reads) and one subscriber connection
 * (pub/sub, reference-counted per channel; on a cluster one per master, see redis-pubsub.ts). Ordering
 * across processes comes from the publish script: the offset check, XADD and (S)PUBLISH run atomically,
 * so publish order is offset order.
 */
export class RedisBus implements Bus {
  private readonly prefix: string;
  private readonly logger: RedisBusLogger;
  private readonly cmd: RedisClient;
  private readonly sub: RedisSubscriber;
  private readonly live = new Map<string, LiveChannel>();
  private readonly sigs = new Map<string, LiveChannel<SignalHandler>>();
  private closed = false;

  constructor(opts: RedisBusOptions) {
    this.prefix = opts.prefix ?? 'qiao:';
    this.logger = opts.logger ?? noopLogger;
    // Auto-pipelining: commands issued in the same tick (relays, history reads, signals) share one write
    // (on a cluster: one write per master).
    this.cmd = createRedis(opts.url, { connectionName: 'qiao-bus', enableAutoPipelining: true });
    this.sub = new RedisSubscriber(opts.url, { connectionName: 'qiao-bus-sub', logger: this.logger, label: 'bus subscriber' });
    this.cmd.defineCommand('qiaoBusPublish', { numberOfKeys: 2, lua: PUBLISH_LUA });

    this.cmd.on('error', (err: Error) => this.logger.warn({ err, conn: 'command' }, 'redis bus: connection error'));
    // Resync listeners run once live delivery is active again after a lost subscriber connection.
    this.sub.onResync(() => {
      if (this.closed) return;
      for (const l of this.resyncListeners) l();
    });
    this.sub.onMessage((redisChannel: string, raw: string) => {
      if (this.sigs.has(redisChannel)) this.deliverSignal(redisChannel, raw);
      else this.deliver(redisChannel, raw);
    });
  }

  private readonly resyncListeners: Array<() => void> = [];

  /** True on a Redis Cluster (sharded pub/sub). */
  get sharded(): boolean {
    return this.sub.sharded;
  }

  onResync(listener: () => void): void {
    this.resyncListeners.push(listener);
  }

  private topKey(channel: string): string {
    return `${this.prefix}{${channel}}:top`;
  }

  private streamKey(channel: string): string {
    return `${this.prefix}{${channel}}:stream`;
  }

  private liveChannel(channel: string): string {
    return `${this.prefix}{${channel}}:live`;
  }

  private signalChannel(channel: string): string {
    return `${this.prefix}{${channel}}:sig`;
  }

  async publish(pub: Publication, opts: ChannelOptions): Promise<PublishResult> {
    if (this.closed) throw new Error('bus closed');
    if (!Number.isSafeInteger(pub.offset)) throw new TypeError(`offset must be a safe integer, got ${pub.offset}`);
    const historySize = Math.max(0, Math.floor(opts.historySize));
    const ttlMs = Math.max(1, Math.ceil(opts.historyTtlMs));
    const raw = JSON.stringify(pub);
    const reply = await (this.cmd as unknown as PublishScript).qiaoBusPublish(
      this.topKey(pub.channel),
      this.streamKey(pub.channel),
      String(pub.offset),
      raw,
      String(historySize),
      String(ttlMs),
      this.liveChannel(pub.channel),
      opts.contiguous ? '1' : '0',
      this.sub.sharded ? 'S' : 'C',
    );
    return { accepted: Number(reply[0]) === 1, topOffset: Number(reply[1]) };
  }

  async subscribe(channel: string, handler: BusHandler): Promise<void> {
    if (this.closed) throw new Error('bus closed');
    const key = this.liveChannel(channel);
    let lc = this.live.get(key);
    if (!lc) {
      lc = { channel, handlers: [], subscribed: false, chain: Promise.resolve() };
      this.live.set(key, lc);
    }
    if (!lc.handlers.includes(handler)) lc.handlers = [...lc.handlers, handler];
    try {
      await this.sync(key, lc, this.live);
    } catch (err) {
      lc.handlers = lc.handlers.filter((h) => h !== handler);
      throw err;
    }
  }

  async unsubscribe(channel: string, handler: BusHandler): Promise<void> {
    const key = this.liveChannel(channel);
    const lc = this.live.get(key);
    if (!lc || !lc.handlers.includes(handler)) return;
    lc.handlers = lc.handlers.filter((h) => h !== handler);
    if (this.closed) return;
    await this.sync(key, lc, this.live);
  }

  async signal(channel: string, data: unknown): Promise<void> {
    if (this.closed) throw new Error('bus closed');
    await publishOn(this.cmd, this.signalChannel(channel), JSON.stringify(data ?? null));
  }

  async subscribeSignals(channel: string, handler: SignalHandler): Promise<void> {
    if (this.closed) throw new Error('bus closed');
    const key = this.signalChannel(channel);
    let lc = this.sigs.get(key);
    if (!lc) {
      lc = { channel, handlers: [], subscribed: false, chain: Promise.resolve() };
      this.sigs.set(key, lc);
    }
    if (!lc.handlers.includes(handler)) lc.handlers = [...lc.handlers, handler];
    try {
      await this.sync(key, lc, this.sigs);
    } catch (err) {
      lc.handlers = lc.handlers.filter((h) => h !== handler);
      throw err;
    }
  }

  async unsubscribeSignals(channel: string, handler: SignalHandler): Promise<void> {
    const key = this.signalChannel(channel);
    const lc = this.sigs.get(key);
    if (!lc || !lc.handlers.includes(handler)) return;
    lc.handlers = lc.handlers.filter((h) => h !== handler);
    if (this.closed) return;
    await this.sync(key, lc, this.sigs);
  }

  private deliverSignal(redisChannel: string, raw: string): void {
    const lc = this.sigs.get(redisChannel);
    if (!lc || lc.handlers.length === 0) return;
    for (const h of lc.handlers) {
      try {
        // Parsed per handler: handlers never share (or mutate) one object.
        h(JSON.parse(raw), lc.channel);
      } catch (err) {
        this.logger.error({ err, channel: lc.channel }, 'redis bus: signal handler threw');
      }
    }
  }

  /** Brings the Redis subscription of one channel in line with its handler count, one step at a time. */
  private sync<H>(key: string, lc: LiveChannel<H>, map: Map<string, LiveChannel<H>>): Promise<void> {
    const step = async (): Promise<void> => {
      const want = lc.handlers.length > 0;
      if (want && !lc.subscribed) {
        await this.sub.subscribe(key);
        lc.subscribed = true;
      } else if (!want && lc.subscribed) {
        await this.sub.unsubscribe(key);
        lc.subscribed = false;
      }
      if (lc.handlers.length === 0 && !lc.subscribed && map.get(key) === lc) map.delete(key);
    };
    const next = lc.chain.catch(() => undefined).then(step);
    lc.chain = next;
    return next;
  }

  private deliver(redisChannel: string, raw: string): void {
    const lc = this.live.get(redisChannel);
    if (!lc || lc.handlers.length === 0) return;
    let pub: Publication;
    try {
      pub = JSON.parse(raw) as Publication;
    } catch (err) {
      this.logger.error({ err, channel: lc.channel }, 'redis bus: undecodable publication dropped');
      return;
    }
    for (const h of lc.handlers) {
      try {
        h(pub, raw);
      } catch (err) {
        // A failing handler must not stop delivery to the others.
        this.logger.error({ err, channel: lc.channel, offset: pub.offset }, 'redis bus: handler threw');
      }
    }
  }

  async history(channel: string, opts: HistoryOptions): Promise<HistoryResult> {
    if (this.closed) throw new Error('bus closed');
    const since = Math.floor(opts.sinceOffset);
    const limit = Math.max(0, Math.floor(opts.limit));
    const start = since < 0 ? '-' : String(since + 1);
    const tx = this.cmd.multi().get(this.topKey(channel));
    if (limit > 0) tx.xrange(this.streamKey(channel), start, '+', 'COUNT', limit);
    const results = await tx.exec();
    if (!results) throw new Error('redis bus: history transaction aborted');
    for (const [err] of results) if (err) throw err;
    const topRaw = results[0][1] as string | null;
    const entries = (limit > 0 ? results[1][1] : []) as [string, string[]][];

    const publications: Publication[] = [];
    for (const [, fields] of entries) {
      const i = fields.indexOf('p');
      if (i < 0 || i + 1 >= fields.length) continue;
      publications.push(JSON.parse(fields[i + 1]) as Publication);
    }
    let topOffset = topRaw === null ? 0 : Number(topRaw);
    const lastSeen = publications.length > 0 ? publications[publications.length - 1].offset : 0;
    if (lastSeen > topOffset) topOffset = lastSeen; // top key lost (eviction) while history survived
    const complete =
      topOffset <= opts.sinceOffset || (publications.length > 0 && publications[0].offset === since + 1);
    return { publications, topOffset, complete };
  }

  async ping(): Promise<void> {
    if (this.closed) throw new Error('bus closed');
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`redis bus: ping timed out after ${PING_TIMEOUT_MS} ms`)), PING_TIMEOUT_MS);
    });
    try {
      const reply = await Promise.race([this.cmd.ping(), timeout]);
      if (reply !== 'PONG') throw new Error(`redis bus: unexpected ping reply ${String(reply)}`);
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.live.clear();
    this.sigs.clear();
    await Promise.all([closeRedis(this.cmd), this.sub.close()]);
  }
}
