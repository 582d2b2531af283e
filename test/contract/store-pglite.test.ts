import { openPglite } from '../../src/store/db.ts';
import { storeContract } from './store.contract.ts';

storeContract('PGlite (embedded)', async () => {
  const db = await openPglite(undefined);
  return { db, cleanup: () => db.close() };
});
