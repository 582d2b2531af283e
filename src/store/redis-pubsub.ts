/**
 * A pub/sub subscriber connection over a single Redis or a Redis Cluster, with one "you may have missed
 * messages, and live delivery is active again" notification for both.
 *
 * - Single Redis: classic SUBSCRIBE/PUBLISH on one connection. ioredis re-subscribes by itself after a
 *   reconnect; the PING sent after 'ready' is answered after those re-SUBSCRIBEs, so when `onResync`
 *   listeners run, live delivery is active again.
 * - Redis Cluster: sharded pub/sub (SSUBSCRIBE/SPUBLISH, Redis ≥ 7). A message goes only to the shard
 *   owning the channel's slot instead of being broadcast over the cluster bus to every node, so the pub/sub
 *   cost per node does not grow with the number of shards. ioredis keeps one subscriber connection per
 *   master. When one of them is lost (a master died), this class re-issues SSUBSCRIBE for every channel
 *   until all succeed (the replica was promoted and the slot map refreshed), then notifies: the
 *   re-SSUBSCRIBE replies prove that live delivery is active again before anyone reads history.
 *
 * Guarantee: every message published after `subscribe(ch)` resolved, while no loss was reported, is
 * handed to the message listener once. After a loss, `onResync` listeners run once live delivery of
 * every subscribed channel is active again (at least once per loss, possibly more).
 */
import type { Cluster, Redis } from 'ioredis';
import { closeRedis, createRedis, isCluster, type RedisClient } from './redis-client.ts';

export interface PubSubLogger {
  warn(obj: object, msg?: string): void;
}

const RESUBSCRIBE_RETRY_MS = 250;

export class RedisSubscriber {
  readonly client: RedisClient;
  /** True on a cluster: channels are shard channels (SSUBSCRIBE), publishers must SPUBLISH. */
  readonly sharded: boolean;
  private readonly channels = new Set<string>();
  private readonly resyncListeners: Array<() => void> = [];
  private messageListener: (channel: string, raw: string) => void = () => {};
  private closed = false;
  private wasReady = false;
  private lost = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private resubscribing = false;

  constructor(
    url: string,
    private readonly opts: { connectionName: string; logger?: PubSubLogger; label?: string },
  ) {
    this.client = createRedis(url, { connectionName: opts.connectionName, shardedSubscribers: true });
    this.sharded = isCluster(this.client);
    this.client.on('error', (err: Error) => this.warn({ err }, 'connection error'));
    if (this.sharded) this.watchCluster(this.client as Cluster);
    else this.watchSingle(this.client as Redis);
  }

  private warn(obj: object, msg: string): void {
    this.opts.logger?.warn({ ...obj, conn: this.opts.label ?? this.opts.connectionName }, `redis subscriber: ${msg}`);
  }

  onMessage(listener: (channel: string, raw: string) => void): void {
    this.messageListener = listener;
  }

  onResync(listener: () => void): void {
    this.resyncListeners.push(listener);
  }

  async subscribe(channel: string): Promise<void> {
    if (this.sharded) await (this.client as Cluster).ssubscribe(channel);
    else await (this.client as Redis).subscribe(channel);
    this.channels.add(channel);
  }

  async unsubscribe(channel: string): Promise<void> {
    this.channels.delete(channel);
    if (this.sharded) await (this.client as Cluster).sunsubscribe(channel);
    else await (this.client as Redis).unsubscribe(channel);
  }

  private fireResync(): void {
    for (const l of this.resyncListeners) {
      try {
        l();
      } catch (err) {
        this.warn({ err }, 'resync listener threw');
      }
    }
  }

  private watchSingle(sub: Redis): void {
    sub.on('message', (ch: string, raw: string) => this.messageListener(ch, raw));
    sub.on('close', () => {
      if (this.closed || !this.wasReady || this.lost) return;
      this.lost = true;
      this.warn({ channels: this.channels.size }, 'connection lost; live delivery paused, messages may be missed');
    });
    sub.on('ready', () => {
      this.wasReady = true;
      if (!this.lost || this.closed) return;
      this.lost = false;
      this.warn({ channels: this.channels.size }, 'reconnected and re-subscribing; listeners recover what they missed');
      // Answered after the re-SUBSCRIBE commands ioredis queued (autoResubscribe).
      sub
        .ping()
        .catch(() => undefined)
        .then(() => this.fireResync());
    });
  }

  private watchCluster(cluster: Cluster): void {
    cluster.on('smessage', (ch: string, raw: string) => this.messageListener(ch, raw));
    // '-node': a sharded subscriber connection ended (its master went away) or a node left the slot map.
    const onLoss = () => {
      if (this.closed) return;
      if (!this.lost) {
        this.lost = true;
        this.warn({ channels: this.channels.size }, 'a shard subscriber was lost; live delivery of its channels paused until the slot has a master again');
      }
      this.scheduleResubscribe();
    };
    cluster.on('-node', onLoss);
    cluster.on('-subscriber', onLoss);
    // After a slot-map change ioredis rebuilds its shard subscribers and re-subscribes. A slot migration
    // (resharding) makes Redis drop the shard subscriptions of the moved slots with no node lost, so a
    // rebuild while channels are subscribed is treated as a possible gap too: re-confirm, then resync.
    cluster.on('subscribersReady', () => {
      if (this.closed) return;
      if (!this.lost && this.channels.size > 0) {
        this.lost = true;
        this.warn({ channels: this.channels.size }, 'shard subscribers were rebuilt after a slot-map change; re-confirming subscriptions');
      }
      if (this.lost) this.scheduleResubscribe(0);
    });
  }

  private scheduleResubscribe(delayMs = RESUBSCRIBE_RETRY_MS): void {
    if (this.closed || this.retryTimer || this.resubscribing) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.resubscribeAll();
    }, delayMs);
    this.retryTimer.unref?.();
  }

  /** Cluster: SSUBSCRIBE every channel again; when all are confirmed, live delivery is back. */
  private async resubscribeAll(): Promise<void> {
    if (this.closed || !this.lost) return;
    this.resubscribing = true;
    const cluster = this.client as Cluster;
    let ok = true;
    try {
      // SSUBSCRIBE of a channel already subscribed is a no-op on the server; ioredis re-sends the
      // channel on its own after a reset as well, which is fine.
      const wanted = [...this.channels];
      const results = await Promise.allSettled(wanted.map((ch) => cluster.ssubscribe(ch)));
      ok = results.every((r) => r.status === 'fulfilled');
      // A channel unsubscribed meanwhile must not stay subscribed on the server because of this retry.
      const dropped = wanted.filter((ch) => !this.channels.has(ch));
      await Promise.allSettled(dropped.map((ch) => cluster.sunsubscribe(ch)));
    } finally {
      this.resubscribing = false;
    }
    if (this.closed) return;
    if (!ok) {
      this.scheduleResubscribe();
      return;
    }
    this.lost = false;
    this.warn({ channels: this.channels.size }, 'shard subscribers are live again; listeners recover what they missed');
    this.fireResync();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.retryTimer);
    this.channels.clear();
    await closeRedis(this.client);
  }
}

/** Publishes `raw` on `channel` the way subscribers of `client`'s kind listen (SPUBLISH on a cluster). */
export async function publishOn(client: RedisClient, channel: string, raw: string): Promise<void> {
  if (isCluster(client)) await client.spublish(channel, raw);
  else await client.publish(channel, raw);
}
