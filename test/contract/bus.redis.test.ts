import { randomUUID } from 'node:crypto';
import { describe } from 'vitest';
import { RedisBus } from '../../src/bus/bus-redis.ts';
import { deleteRedisPrefix } from '../helpers/redis.ts';
import { gateService, redisAvailable } from '../helpers/services.ts';
import { busContract } from './bus.contract.ts';

const url = process.env.QIAO_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
// Skips loudly when Redis is down; throws (fails this file) when QIAO_REQUIRE_SERVICES=1.
const available = await gateService('Redis', url, redisAvailable);

describe.skipIf(!available)('RedisBus (Redis at QIAO_TEST_REDIS_URL)', () => {
  busContract('RedisBus', async () => {
    // A unique prefix per run keeps parallel runs apart; glob characters are avoided for SCAN MATCH.
    const prefix = `qiao-test:${randomUUID()}:`;
    const bus = new RedisBus({ url, prefix });
    const bus2 = new RedisBus({ url, prefix });
    await Promise.all([bus.ping(), bus2.ping()]);
    return {
      bus,
      bus2,
      async cleanup() {
        await Promise.all([bus.close(), bus2.close()]);
        await deleteRedisPrefix(prefix, url);
      },
    };
  });
});
