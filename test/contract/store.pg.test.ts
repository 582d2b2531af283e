import { describe } from 'vitest';
import { openPostgres } from '../../src/store/db.ts';
import { TEST_DATABASE_URL, createTestDatabase } from '../helpers/pg.ts';
import { gateService, postgresAvailable } from '../helpers/services.ts';
import { storeContract } from './store.contract.ts';

const available = await gateService('PostgreSQL', TEST_DATABASE_URL, postgresAvailable);

describe.skipIf(!available)('Store on PostgreSQL (QIAO_TEST_DATABASE_URL)', () => {
  storeContract('PostgreSQL', async () => {
    const tdb = await createTestDatabase();
    const db = await openPostgres(tdb.url, 5);
    return {
      db,
      async cleanup() {
        await db.close();
        await tdb.drop();
      },
    };
  });
});
