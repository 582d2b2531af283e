import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { describe } from 'vitest';
import { RedisBus } from '../../src/bus/bus-redis.ts';
import { gateService, redisAvailable } from '../helpers/services.ts';
import { busContract } from './bus.contract.ts';

const url = process.env.QIAO_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
// Skips loudly when Redis is down; throws (fails this file) when QIAO_REQUIRE_SERVICES=1.
const available = await gateService('Redis', url, redisAvailable);

/** Deletes every key under `prefix` (SCAN, never KEYS). */
async function deletePrefix(prefix: string): Promise<void> {
  const admin = new Redis(url, { lazyConnect: true });
  try {
    await admin.connect();
    let cursor = '0';
    do {
      const [next, keys] = await admin.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await admin.unlink(...keys);
    } while (cursor !== '0');
  } finally {
    admin.disconnect();
  }
}

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
        await deletePrefix(prefix);
      },
    };
  });
});
