/**
 * Alert-rule sync (src/domain/alert-sync-redis.ts) on a real local Redis Cluster: two nodes exchange
 * messages over a shard channel (SPUBLISH/SSUBSCRIBE), never classic pub/sub; after the master owning
 * that channel is killed and its replica promoted, the resync listeners run (so nodes reload their
 * index from Postgres) and messages flow again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AlertSyncMessage } from '../../src/domain/alert-sync.ts';
import { RedisAlertSync } from '../../src/domain/alert-sync-redis.ts';
import { gateRedisCluster, startRedisCluster, type RedisClusterHandle } from '../helpers/redis-cluster.ts';

const available = gateRedisCluster('alert sync cluster suite (test/integration/alert-sync.cluster.test.ts)');
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const logger = { warn() {} };

async function until(cond: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

describe.skipIf(!available)('RedisAlertSync on a local Redis Cluster', () => {
  let cluster: RedisClusterHandle;
  beforeAll(async () => {
    cluster = await startRedisCluster();
  }, 60_000);
  afterAll(async () => {
    await cluster?.close();
  });

  it('delivers over a shard channel, and resyncs after a failover of its master', async () => {
    const prefix = 'qiao-as:';
    const a = new RedisAlertSync({ url: cluster.url, prefix, logger });
    const b = new RedisAlertSync({ url: cluster.url, prefix, logger });
    try {
      const got: AlertSyncMessage[] = [];
      let resyncs = 0;
      b.onResync(() => resyncs++);
      await b.subscribe((m) => got.push(m));
      const msg = (n: number): AlertSyncMessage => ({ from: 'node-a', events: [{ t: 'delete', id: `rule-${n}` }] });
      await a.publish(msg(1));
      await until(() => got.length === 1, 'first message');
      expect(got).toEqual([msg(1)]);

      const channel = `${prefix}alert-rules`;
      const slot = Number(await cluster.command(cluster.alivePorts()[0], 'CLUSTER', 'KEYSLOT', channel));
      const owner = await cluster.masterOfSlot(slot);
      expect(await cluster.command(owner, 'PUBSUB', 'SHARDCHANNELS', `${prefix}*`)).toEqual([channel]);
      for (const p of cluster.alivePorts()) expect(await cluster.command(p, 'PUBSUB', 'CHANNELS', `${prefix}*`)).toEqual([]);

      await cluster.killNode(owner);
      await cluster.waitHealthy();
      await until(() => resyncs > 0, 'resync after failover');
      await a.publish(msg(2));
      await until(() => got.length === 2, 'message after failover');
      expect(got[1]).toEqual(msg(2));
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  }, 60_000);
});
