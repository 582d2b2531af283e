/**
 * The bus contract against a real local Redis Cluster (3 masters + 3 replicas, test/helpers/redis-cluster.ts),
 * plus the cluster-specific promises of src/bus/bus-redis.ts: live delivery uses sharded pub/sub
 * (the channel shows in PUBSUB SHARDCHANNELS on the master owning the channel's slot, never in
 * PUBSUB CHANNELS), and a channel's keys and shard channels share one slot.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Publication } from '../../src/bus/bus.ts';
import { RedisBus } from '../../src/bus/bus-redis.ts';
import { gateRedisCluster, startRedisCluster, type RedisClusterHandle } from '../helpers/redis-cluster.ts';
import { busContract } from './bus.contract.ts';

const available = gateRedisCluster('RedisBus cluster suite (test/contract/bus.cluster.test.ts)');
let cluster: RedisClusterHandle;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function mkPub(channel: string, offset: number): Publication {
  return { channel, id: randomUUID(), offset, kind: 'note', sender: 'cluster-test', payload: { n: offset }, time: new Date().toISOString() };
}

/** Shard channels and classic channels matching `pattern` over all live nodes, by node port. */
async function pubsubOnNodes(pattern: string): Promise<{ shard: Map<number, string[]>; classic: string[] }> {
  const shard = new Map<number, string[]>();
  const classic: string[] = [];
  for (const port of cluster.alivePorts()) {
    shard.set(port, (await cluster.command(port, 'PUBSUB', 'SHARDCHANNELS', pattern)) as string[]);
    classic.push(...((await cluster.command(port, 'PUBSUB', 'CHANNELS', pattern)) as string[]));
  }
  return { shard, classic };
}

describe.skipIf(!available)('RedisBus on a local Redis Cluster (3 masters + 3 replicas)', () => {
  beforeAll(async () => {
    cluster = await startRedisCluster();
  }, 60_000);
  afterAll(async () => {
    await cluster?.close();
  });

  busContract('RedisBus (cluster, sharded pub/sub)', async () => {
    const prefix = `qiao-test:${randomUUID()}:`;
    const bus = new RedisBus({ url: cluster.url, prefix });
    const bus2 = new RedisBus({ url: cluster.url, prefix });
    await Promise.all([bus.ping(), bus2.ping()]);
    return {
      bus,
      bus2,
      async cleanup() {
        await Promise.all([bus.close(), bus2.close()]);
      },
    };
  });

  describe('sharded pub/sub and slots', () => {
    it('subscribes with SSUBSCRIBE on the master owning the channel slot, publishes with SPUBLISH, never classic pub/sub', async () => {
      const prefix = `qiao-shard:${randomUUID().slice(0, 8)}:`;
      const pubBus = new RedisBus({ url: cluster.url, prefix });
      const subBus = new RedisBus({ url: cluster.url, prefix });
      try {
        expect(subBus.sharded).toBe(true);
        const channels = Array.from({ length: 12 }, (_, i) => `research.c${i}:${randomUUID().slice(0, 6)}`);
        const got = new Map<string, number[]>();
        const signals: unknown[] = [];
        for (const ch of channels) {
          got.set(ch, []);
          await subBus.subscribe(ch, (p) => got.get(ch)!.push(p.offset));
        }
        await subBus.subscribeSignals(channels[0], (d) => signals.push(d));

        const { shard, classic } = await pubsubOnNodes(`${prefix}*`);
        expect(classic, 'classic PUBSUB CHANNELS must not hold bus channels on a cluster').toEqual([]);
        const listed = [...shard.values()].flat();
        for (const ch of channels) expect(listed, `shard channel of ${ch}`).toContain(`${prefix}{${ch}}:live`);
        expect(listed).toContain(`${prefix}{${channels[0]}}:sig`);
        // Each shard channel is listed on the master that owns its slot, and that slot is the slot of the
        // channel's history keys (one hash tag).
        const owners = new Set<number>();
        for (const ch of channels) {
          const liveSlot = Number(await cluster.command(cluster.alivePorts()[0], 'CLUSTER', 'KEYSLOT', `${prefix}{${ch}}:live`));
          const streamSlot = Number(await cluster.command(cluster.alivePorts()[0], 'CLUSTER', 'KEYSLOT', `${prefix}{${ch}}:stream`));
          const topSlot = Number(await cluster.command(cluster.alivePorts()[0], 'CLUSTER', 'KEYSLOT', `${prefix}{${ch}}:top`));
          expect([streamSlot, topSlot]).toEqual([liveSlot, liveSlot]);
          const owner = await cluster.masterOfSlot(liveSlot);
          owners.add(owner);
          expect(shard.get(owner), `node ${owner} owns slot ${liveSlot}`).toContain(`${prefix}{${ch}}:live`);
        }
        // 12 random channels over 3 masters: more than one shard carries traffic (chance of all on one: 3 × 3^-12).
        expect(owners.size).toBeGreaterThan(1);

        for (const ch of channels) {
          for (let o = 1; o <= 3; o++) expect((await pubBus.publish(mkPub(ch, o), { historySize: 10, historyTtlMs: 60_000 })).accepted).toBe(true);
        }
        await pubBus.signal(channels[0], { typing: true });
        const deadline = Date.now() + 5000;
        while (Date.now() < deadline && ([...got.values()].some((o) => o.length < 3) || signals.length < 1)) await sleep(10);
        for (const ch of channels) expect(got.get(ch), ch).toEqual([1, 2, 3]);
        expect(signals).toEqual([{ typing: true }]);
        // The history keys are on the same master as the shard channel.
        const ch0 = channels[0];
        const slot0 = Number(await cluster.command(cluster.alivePorts()[0], 'CLUSTER', 'KEYSLOT', `${prefix}{${ch0}}:stream`));
        expect(await cluster.command(await cluster.masterOfSlot(slot0), 'XLEN', `${prefix}{${ch0}}:stream`)).toBe(3);

      } finally {
        await Promise.all([pubBus.close(), subBus.close()]);
      }
    });
  });
  // Last: it kills a master of the file's shared cluster.
  describe('failover (runs last: kills a master)', () => {
    it('a master is SIGKILLed: its replica takes over, onResync fires once live delivery is back, publish and delivery continue on every shard', async () => {
      const prefix = `qiao-failover:${randomUUID().slice(0, 8)}:`;
      const pubBus = new RedisBus({ url: cluster.url, prefix });
      const subBus = new RedisBus({ url: cluster.url, prefix });
      try {
        const channels = Array.from({ length: 9 }, (_, i) => `fo.c${i}:${randomUUID().slice(0, 6)}`);
        const got = new Map<string, number[]>(channels.map((c) => [c, []]));
        for (const ch of channels) await subBus.subscribe(ch, (p) => got.get(ch)!.push(p.offset));
        let resyncs = 0;
        subBus.onResync(() => resyncs++);
        const slotOf = async (ch: string) => Number(await cluster.command(cluster.alivePorts()[0], 'CLUSTER', 'KEYSLOT', `${prefix}{${ch}}:live`));
        const victimChannel = channels[0];
        const victim = await cluster.masterOfSlot(await slotOf(victimChannel));
        const OPTS = { historySize: 100, historyTtlMs: 60_000 };
        for (const ch of channels) expect((await pubBus.publish(mkPub(ch, 1), OPTS)).accepted).toBe(true);
        const deadline1 = Date.now() + 5000;
        while (Date.now() < deadline1 && [...got.values()].some((o) => o.length < 1)) await sleep(10);
        for (const ch of channels) expect(got.get(ch), ch).toEqual([1]);

        await cluster.killNode(victim);
        await cluster.waitHealthy(30_000);
        const promoted = await cluster.masterOfSlot(await slotOf(victimChannel));
        expect(promoted).not.toBe(victim);
        const deadline2 = Date.now() + 15_000;
        while (Date.now() < deadline2 && resyncs === 0) await sleep(20);
        expect(resyncs, 'onResync after the shard subscriber came back').toBeGreaterThan(0);

        // Offset 2 everywhere: on the promoted master (the replica had offset 1, or the bus accepts 2 as a
        // channel it holds no record of) and on the untouched shards.
        for (const ch of channels) expect((await pubBus.publish(mkPub(ch, 2), OPTS)).accepted, ch).toBe(true);
        const deadline3 = Date.now() + 5000;
        while (Date.now() < deadline3 && [...got.values()].some((o) => !o.includes(2))) await sleep(10);
        for (const ch of channels) expect(got.get(ch), ch).toEqual([1, 2]);
        const { shard } = await pubsubOnNodes(`${prefix}*`);
        expect(shard.get(promoted)).toContain(`${prefix}{${victimChannel}}:live`);
      } finally {
        await Promise.all([pubBus.close(), subBus.close()]);
      }
    }, 60_000);
  });
});
