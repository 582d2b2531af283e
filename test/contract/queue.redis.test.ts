import { randomUUID } from 'node:crypto';
import { describe } from 'vitest';
import { BullQueue } from '../../src/queue/queue-bullmq.ts';
import { TEST_REDIS_URL, deleteRedisPrefix } from '../helpers/redis.ts';
import { gateService, redisAvailable } from '../helpers/services.ts';
import { queueContract } from './queue.contract.ts';

const available = await gateService('Redis', TEST_REDIS_URL, redisAvailable);

describe.skipIf(!available)('BullQueue (Redis at QIAO_TEST_REDIS_URL)', () => {
  queueContract('BullQueue', async () => {
    const prefix = `qiao-test:${randomUUID()}:`;
    const queue = new BullQueue({ url: TEST_REDIS_URL, prefix, lockDurationMs: 2000 });
    return {
      queue,
      async cleanup() {
        await queue.close();
        await deleteRedisPrefix(prefix);
      },
    };
  });
});
