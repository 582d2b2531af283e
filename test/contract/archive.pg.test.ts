import pg from 'pg';
import { describe } from 'vitest';
import { openPostgres } from '../../src/store/db.ts';
import { TEST_DATABASE_URL, createTestDatabase } from '../helpers/pg.ts';
import { gateService, postgresAvailable } from '../helpers/services.ts';
import { archiveContract } from './archive.contract.ts';

const available = await gateService('PostgreSQL', TEST_DATABASE_URL, postgresAvailable);

describe.skipIf(!available)('Archive on PostgreSQL (QIAO_TEST_DATABASE_URL)', () => {
  archiveContract('PostgreSQL', async () => {
    const tdb = await createTestDatabase();
    const db = await openPostgres(tdb.url, 4);
    return {
      db,
      async session(fn) {
        // One dedicated connection, so SET ROLE applies to the statements that follow it.
        const c = new pg.Client({ connectionString: tdb.url });
        await c.connect();
        try {
          await fn((text) => c.query(text));
        } finally {
          await c.end();
        }
      },
      async cleanup() {
        await db.close();
        await tdb.drop();
      },
    };
  });
});
