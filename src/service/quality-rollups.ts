/**
 * `service_rollups` recomputed from the rows it counts (migration 0020_service_rollups:
 * `qiao_service_rollups_rebuild()`): what the triggers keep one change at a time, rebuilt at once —
 * after a bulk load that bypassed triggers (the bench), or to check that nothing drifted (the tests
 * compare both).
 */
import { sql } from 'drizzle-orm';
import type { Db } from '../store/db.ts';

export async function rebuildServiceRollups(db: Db): Promise<void> {
  await db.execute(sql`select qiao_service_rollups_rebuild()`);
}
