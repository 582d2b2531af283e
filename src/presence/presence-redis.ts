/**
 * Presence in Redis: per user two sorted sets, `<prefix>presence:{user}:online` and `…:away`, member =
 * connection id, score = expiry time (ms). Reading a user's state is two ZCOUNTs over unexpired scores,
 * O(log n) however many connections a user holds (one login may have thousands, e.g. a terminal farm).
 * Expired members are pruned on write; the keys expire after the longest TTL, so a crashed node leaves
 * nothing behind for long.
 */
import { Redis } from 'ioredis';
import type { Presence, PresenceState } from './presence.ts';

export class RedisPresence implements Presence {
  private readonly redis: Redis;
  private readonly prefix: string;

  constructor(opts: { url: string; prefix?: string }) {
    this.redis = new Redis(opts.url, { connectionName: 'qiao-presence' });
    this.redis.on('error', () => {});
    this.prefix = opts.prefix ?? 'qiao:';
  }

  private key(userId: string, state: 'online' | 'away'): string {
    return `${this.prefix}presence:{${userId}}:${state}`;
  }

  async set(userId: string, connId: string, state: 'online' | 'away', ttlMs: number): Promise<void> {
    const now = Date.now();
    const k = this.key(userId, state);
    const other = this.key(userId, state === 'online' ? 'away' : 'online');
    await this.redis
      .multi()
      .zadd(k, now + ttlMs, connId)
      .zrem(other, connId)
      .zremrangebyscore(k, '-inf', now)
      .pexpire(k, ttlMs, 'GT')
      .pexpire(k, ttlMs, 'NX')
      .exec();
  }

  async remove(userId: string, connId: string): Promise<void> {
    await this.redis.multi().zrem(this.key(userId, 'online'), connId).zrem(this.key(userId, 'away'), connId).exec();
  }

  async get(userIds: string[]): Promise<Map<string, PresenceState>> {
    const out = new Map<string, PresenceState>();
    if (userIds.length === 0) return out;
    const now = Date.now();
    const pipe = this.redis.pipeline();
    for (const id of userIds) {
      pipe.zcount(this.key(id, 'online'), `(${now}`, '+inf');
      pipe.zcount(this.key(id, 'away'), `(${now}`, '+inf');
    }
    const res = (await pipe.exec()) ?? [];
    userIds.forEach((id, i) => {
      const online = Number(res[2 * i]?.[1] ?? 0);
      const away = Number(res[2 * i + 1]?.[1] ?? 0);
      out.set(id, online > 0 ? 'online' : away > 0 ? 'away' : 'offline');
    });
    return out;
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}
