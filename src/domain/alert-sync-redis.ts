/**
 * Alert-rule index sync over Redis pub/sub (services mode): one channel `<prefix>alert-rules`, JSON
 * messages. Pub/sub is at-most-once; after the subscriber connection comes back the resync listeners
 * run so every node reloads its index from Postgres (see alert-sync.ts for why that is enough).
 * On a Redis Cluster the channel is a shard channel (SPUBLISH/SSUBSCRIBE, src/store/redis-pubsub.ts):
 * one master carries it instead of every node of the cluster.
 */
import { closeRedis, createRedis, type RedisClient } from '../store/redis-client.ts';
import { RedisSubscriber, publishOn } from '../store/redis-pubsub.ts';
import type { AlertSync, AlertSyncHandler, AlertSyncMessage } from './alert-sync.ts';

export interface RedisAlertSyncOptions {
  url: string;
  prefix: string;
  logger: { warn(obj: object, msg?: string): void };
}

export class RedisAlertSync implements AlertSync {
  private readonly pub: RedisClient;
  private readonly sub: RedisSubscriber;
  private readonly channel: string;
  private readonly handlers = new Set<AlertSyncHandler>();
  private readonly resync: Array<() => void> = [];
  private subscribed: Promise<unknown> | null = null;

  constructor(private readonly opts: RedisAlertSyncOptions) {
    this.channel = `${opts.prefix}alert-rules`;
    this.pub = createRedis(opts.url, { connectionName: 'qiao-alert-sync', lazyConnect: false, maxRetriesPerRequest: 2 });
    this.pub.on('error', (err: Error) => opts.logger.warn({ err, conn: 'alert-sync-pub' }, 'alert sync: redis connection error'));
    this.sub = new RedisSubscriber(opts.url, { connectionName: 'qiao-alert-sync-sub', logger: opts.logger, label: 'alert-sync-sub' });
    // Messages sent while the subscriber was away are lost, hence the reload.
    this.sub.onResync(() => {
      opts.logger.warn({ conn: 'alert-sync-sub' }, 'alert sync: subscriber reconnected; reloading alert rules');
      for (const l of this.resync) l();
    });
    this.sub.onMessage((channel: string, raw: string) => {
      if (channel !== this.channel) return;
      let msg: AlertSyncMessage;
      try {
        msg = JSON.parse(raw) as AlertSyncMessage;
      } catch {
        return;
      }
      for (const h of this.handlers) h(msg);
    });
  }

  async publish(msg: AlertSyncMessage): Promise<void> {
    await publishOn(this.pub, this.channel, JSON.stringify(msg));
  }

  async subscribe(handler: AlertSyncHandler): Promise<void> {
    this.handlers.add(handler);
    this.subscribed ??= this.sub.subscribe(this.channel);
    await this.subscribed;
  }

  unsubscribe(handler: AlertSyncHandler): void {
    this.handlers.delete(handler);
  }

  onResync(listener: () => void): void {
    this.resync.push(listener);
  }

  async close(): Promise<void> {
    this.handlers.clear();
    await Promise.all([this.sub.close(), closeRedis(this.pub)]);
  }
}
