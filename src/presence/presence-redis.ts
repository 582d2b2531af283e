/**
 * Presence in Redis: per user two sorted sets, `<prefix>presence:{user}:online` and `…:away`, member =
 * connection id, score = expiry time (ms). Reading a user's state is two ZCOUNTs over unexpired scores,
 * O(log n) however many connections a user holds (one login may have thousands, e.g. a terminal farm).
 * Expired members are pruned on write; the keys expire after the longest TTL, so a crashed node leaves
 * nothing behind for long.
 *
 * Redis Cluster: both keys of a user carry the hash tag `{user}`, so the MULTI in `set`/`remove` stays
 * in one slot. Reads of many users span slots, so they are single commands batched by auto-pipelining
 * (one write per master) rather than one cross-slot pipeline.
 */
import { closeRedis, createRedis, type RedisClient } from '../store/redis-client.ts';
import type { Presence, PresenceState } from './presence.ts';

export class RedisPresence implements Presence {
  private readonly redis: RedisClient;
  private readonly prefix: string;

  constructor(opts: { url: string; prefix?: string }) {
    this.redis = createRedis(opts.url, { connectionName: 'qiao-presence', enableAutoPipelining: true });
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
    const counts = await Promise.all(
      userIds.map((id) =>
        Promise.all([this.redis.zcount(this.key(id, 'online'), `(${now}`, '+inf'), this.redis.zcount(this.key(id, 'away'), `(${now}`, '+inf')]),
      ),
    );
    userIds.forEach((id, i) => {
      const [online, away] = counts[i];
      out.set(id, online > 0 ? 'online' : away > 0 ? 'away' : 'offline');
    });
    return out;
  }

  async close(): Promise<void> {
    await closeRedis(this.redis);
  }
}
