/**
 * The job-queue contract (BullMQ) against a real local Redis Cluster (test/helpers/redis-cluster.ts):
 * with the per-queue hash-tag prefix no BullMQ script crosses slots (a CROSSSLOT error would fail
 * every contract test), and different queues land on different masters.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QUEUES } from '../../src/queue/jobs.ts';
import { BullQueue, bullPrefix } from '../../src/queue/queue-bullmq.ts';
import { gateRedisCluster, startRedisCluster, type RedisClusterHandle } from '../helpers/redis-cluster.ts';
import { queueContract } from './queue.contract.ts';

const available = gateRedisCluster('BullQueue cluster suite (test/contract/queue.cluster.test.ts)');
let cluster: RedisClusterHandle;

describe.skipIf(!available)('BullQueue on a local Redis Cluster (3 masters + 3 replicas)', () => {
  beforeAll(async () => {
    cluster = await startRedisCluster();
  }, 60_000);
  afterAll(async () => {
    await cluster?.close();
  });

  queueContract('BullQueue (cluster)', async () => {
    const prefix = `qiao-test:${randomUUID()}:`;
    const queue = new BullQueue({ url: cluster.url, prefix, lockDurationMs: 2000 });
    return {
      queue,
      async cleanup() {
        await queue.close();
      },
    };
  });

  it('uses one hash-tag prefix per queue, and the queues of the workers spread over the masters', async () => {
    const prefix = 'qiao:';
    const queue = new BullQueue({ url: cluster.url, prefix, lockDurationMs: 2000 });
    try {
      expect(queue.prefixOf(QUEUES.email)).toBe('{qiao:bull:qiao-email}');
      expect(bullPrefix('qiao:', QUEUES.email, false)).toBe('qiao:bull');
      const names = Object.values(QUEUES);
      const owners = new Set<number>();
      for (const n of names) {
        await queue.add(n, 'probe', { n });
        const slot = Number(await cluster.command(cluster.alivePorts()[0], 'CLUSTER', 'KEYSLOT', `{qiao:bull:${n}}:${n}:wait`));
        const owner = await cluster.masterOfSlot(slot);
        owners.add(owner);
        // The job really is on that master (its wait list), in the queue's own slot.
        expect(await cluster.command(owner, 'LLEN', `{qiao:bull:${n}}:${n}:wait`), n).toBe(1);
        expect(await queue.pendingCount(n)).toBe(1);
      }
      expect(owners.size).toBeGreaterThan(1);
    } finally {
      await queue.close();
    }
  });
});
