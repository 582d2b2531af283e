/**
 * Alert-rule index sync over Redis pub/sub (services mode): one channel `<prefix>alert-rules`, JSON
 * messages. Pub/sub is at-most-once; after the subscriber connection comes back the resync listeners
 * run so every node reloads its index from Postgres (see alert-sync.ts for why that is enough).
 */
import { Redis } from 'ioredis';
import type { AlertSync, AlertSyncHandler, AlertSyncMessage } from './alert-sync.ts';

export interface RedisAlertSyncOptions {
  url: string;
  prefix: string;
  logger: { warn(obj: object, msg?: string): void };
}

export class RedisAlertSync implements AlertSync {
  private readonly pub: Redis;
  private readonly sub: Redis;
  private readonly channel: string;
  private readonly handlers = new Set<AlertSyncHandler>();
  private readonly resync: Array<() => void> = [];
  private subscribed: Promise<unknown> | null = null;
  private lostSinceReady = false;

  constructor(private readonly opts: RedisAlertSyncOptions) {
    this.channel = `${opts.prefix}alert-rules`;
    this.pub = new Redis(opts.url, { lazyConnect: false, maxRetriesPerRequest: 2 });
    this.sub = new Redis(opts.url, { lazyConnect: false, maxRetriesPerRequest: null });
    this.pub.on('error', (err: Error) => opts.logger.warn({ err, conn: 'alert-sync-pub' }, 'alert sync: redis connection error'));
    this.sub.on('error', (err: Error) => opts.logger.warn({ err, conn: 'alert-sync-sub' }, 'alert sync: redis connection error'));
    this.sub.on('close', () => {
      this.lostSinceReady = true;
    });
    // ioredis re-subscribes by itself on reconnect; messages sent meanwhile are lost, hence the resync.
    this.sub.on('ready', () => {
      if (!this.lostSinceReady) return;
      this.lostSinceReady = false;
      opts.logger.warn({ conn: 'alert-sync-sub' }, 'alert sync: subscriber reconnected; reloading alert rules');
      for (const l of this.resync) l();
    });
    this.sub.on('message', (channel: string, raw: string) => {
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
    await this.pub.publish(this.channel, JSON.stringify(msg));
  }

  async subscribe(handler: AlertSyncHandler): Promise<void> {
    this.handlers.add(handler);
    this.subscribed ??= this.sub.subscribe(this.channel).then(() => {
      // The first 'ready' is not a reconnect.
      this.lostSinceReady = false;
    });
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
    this.sub.disconnect();
    this.pub.disconnect();
  }
}
