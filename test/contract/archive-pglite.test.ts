import { sql } from 'drizzle-orm';
import { openPglite } from '../../src/store/db.ts';
import { archiveContract } from './archive.contract.ts';

archiveContract('PGlite (embedded)', async () => {
  const db = await openPglite(undefined);
  return {
    db,
    // PGlite has a single connection: SET ROLE holds until the session resets it.
    session: (fn) => fn((text) => db.db.execute(sql.raw(text))),
    cleanup: () => db.close(),
  };
});
