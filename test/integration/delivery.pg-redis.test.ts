/**
 * Delivery end to end on real Postgres + Redis: BullMQ queues, workers in the hub process
 * (QIAO_EMBEDDED_WORKERS=true), a local SMTP sink. Skips loudly when a service is unreachable; fails
 * instead with QIAO_REQUIRE_SERVICES=1.
 */
import { describe, it } from 'vitest';
import { startServicesApp, TEST_REDIS_URL } from '../helpers/app.ts';
import { TEST_DATABASE_URL } from '../helpers/pg.ts';
import { gateService, postgresAvailable, redisAvailable } from '../helpers/services.ts';
import { deliverySuite } from './delivery.suite.ts';

const pgUp = await gateService('Postgres', TEST_DATABASE_URL, postgresAvailable);
const redisUp = await gateService('Redis', TEST_REDIS_URL, redisAvailable);

if (pgUp && redisUp) {
  deliverySuite('Postgres + Redis + BullMQ', (env) => startServicesApp({ ...env, QIAO_EMBEDDED_WORKERS: 'true' }));
} else {
  describe.skip('delivery (Postgres + Redis): services unreachable', () => {
    it('needs Postgres and Redis', () => {});
  });
}
