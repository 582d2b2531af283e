/**
 * The presence contract against a real local Redis Cluster (test/helpers/redis-cluster.ts): the MULTI per
 * user stays in one slot (hash tag `{user}`), and reads of many users spread over several masters.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisPresence } from '../../src/presence/presence-redis.ts';
import { gateRedisCluster, startRedisCluster, type RedisClusterHandle } from '../helpers/redis-cluster.ts';
import { presenceContract } from './presence.contract.ts';

const available = gateRedisCluster('RedisPresence cluster suite (test/contract/presence.cluster.test.ts)');
let cluster: RedisClusterHandle;

describe.skipIf(!available)('RedisPresence on a local Redis Cluster (3 masters + 3 replicas)', () => {
  beforeAll(async () => {
    cluster = await startRedisCluster();
  }, 60_000);
  afterAll(async () => {
    await cluster?.close();
  });

  presenceContract('RedisPresence (cluster)', async () => {
    const prefix = `qiao-test:${randomUUID()}:`;
    const presence = new RedisPresence({ url: cluster.url, prefix });
    const other = new RedisPresence({ url: cluster.url, prefix });
    return {
      presence,
      other,
      async cleanup() {
        await Promise.all([presence.close(), other.close()]);
      },
    };
  });

  it('reads 60 users whose keys live on every master in one call', async () => {
    const prefix = `qiao-test:${randomUUID()}:`;
    const presence = new RedisPresence({ url: cluster.url, prefix });
    try {
      const users = Array.from({ length: 60 }, (_, i) => `user-${i}-${randomUUID().slice(0, 4)}`);
      await Promise.all(users.map((u, i) => (i % 3 === 2 ? Promise.resolve() : presence.set(u, `c-${u}`, i % 3 === 0 ? 'online' : 'away', 60_000))));
      const owners = new Set<number>();
      for (const u of users) owners.add(await cluster.masterOfSlot(Number(await cluster.command(cluster.alivePorts()[0], 'CLUSTER', 'KEYSLOT', `${prefix}presence:{${u}}:online`))));
      expect(owners.size).toBe(3);
      const got = await presence.get(users);
      expect(users.map((u) => got.get(u))).toEqual(users.map((_, i) => (i % 3 === 0 ? 'online' : i % 3 === 1 ? 'away' : 'offline')));
    } finally {
      await presence.close();
    }
  });
});
