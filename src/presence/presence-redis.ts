/**
 * Presence in Redis: one hash per user (`<prefix>presence:{user}`), field = connection id, value =
 * `<state>:<expiresAtMs>`. Expired fields are ignored on read and pruned lazily; the whole key also
 * expires after the longest TTL, so a crashed node leaves nothing behind for long.
 */
import { Redis } from 'ioredis';
import { combine, type Presence, type PresenceState } from './presence.ts';

export class RedisPresence implements Presence {
  private readonly redis: Redis;
  private readonly prefix: string;

  constructor(opts: { url: string; prefix?: string }) {
    this.redis = new Redis(opts.url, { connectionName: 'qiao-presence' });
    this.redis.on('error', () => {});
    this.prefix = opts.prefix ?? 'qiao:';
  }

  private key(userId: string): string {
    return `${this.prefix}presence:{${userId}}`;
  }

  async set(userId: string, connId: string, state: 'online' | 'away', ttlMs: number): Promise<void> {
    const k = this.key(userId);
    await this.redis.multi().hset(k, connId, `${state}:${Date.now() + ttlMs}`).pexpire(k, ttlMs, 'GT').pexpire(k, ttlMs, 'NX').exec();
  }

  async remove(userId: string, connId: string): Promise<void> {
    await this.redis.hdel(this.key(userId), connId);
  }

  async get(userIds: string[]): Promise<Map<string, PresenceState>> {
    const out = new Map<string, PresenceState>();
    if (userIds.length === 0) return out;
    const pipe = this.redis.pipeline();
    for (const id of userIds) pipe.hgetall(this.key(id));
    const res = (await pipe.exec()) ?? [];
    const now = Date.now();
    userIds.forEach((id, i) => {
      const [err, fields] = res[i] ?? [null, {}];
      const live: Array<'online' | 'away'> = [];
      const stale: string[] = [];
      for (const [conn, v] of Object.entries((err ? {} : fields) as Record<string, string>)) {
        const [state, exp] = v.split(':');
        if (Number(exp) > now && (state === 'online' || state === 'away')) live.push(state);
        else stale.push(conn);
      }
      if (stale.length) void this.redis.hdel(this.key(id), ...stale).catch(() => {});
      out.set(id, combine(live));
    });
    return out;
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}
