/**
 * The API suite against the real services: a fresh Postgres database and a unique Redis prefix.
 * Skips loudly when Postgres or Redis is unreachable; fails instead with QIAO_REQUIRE_SERVICES=1.
 */
import { describe, it } from 'vitest';
import { startServicesApp, TEST_REDIS_URL } from '../helpers/app.ts';
import { TEST_DATABASE_URL } from '../helpers/pg.ts';
import { gateService, postgresAvailable, redisAvailable } from '../helpers/services.ts';
import { apiSuite } from './api.suite.ts';

const pgUp = await gateService('Postgres', TEST_DATABASE_URL, postgresAvailable);
const redisUp = await gateService('Redis', TEST_REDIS_URL, redisAvailable);

if (pgUp && redisUp) {
  apiSuite('Postgres + Redis', () => startServicesApp());
} else {
  describe.skip('Qiao API (Postgres + Redis): services unreachable', () => {
    it('needs Postgres and Redis', () => {});
  });
}
