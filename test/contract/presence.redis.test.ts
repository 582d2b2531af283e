import { randomUUID } from 'node:crypto';
import { describe } from 'vitest';
import { RedisPresence } from '../../src/presence/presence-redis.ts';
import { TEST_REDIS_URL, deleteRedisPrefix } from '../helpers/redis.ts';
import { gateService, redisAvailable } from '../helpers/services.ts';
import { presenceContract } from './presence.contract.ts';

const available = await gateService('Redis', TEST_REDIS_URL, redisAvailable);

describe.skipIf(!available)('RedisPresence (Redis at QIAO_TEST_REDIS_URL)', () => {
  presenceContract('RedisPresence', async () => {
    const prefix = `qiao-test:${randomUUID()}:`;
    const presence = new RedisPresence({ url: TEST_REDIS_URL, prefix });
    const other = new RedisPresence({ url: TEST_REDIS_URL, prefix });
    return {
      presence,
      other,
      async cleanup() {
        await Promise.all([presence.close(), other.close()]);
        await deleteRedisPrefix(prefix);
      },
    };
  });
});
