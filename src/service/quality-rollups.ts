/**
 * `response_rollups` recomputed from `response_episodes` (set-based SQL): what the publish path keeps
 * one episode at a time (ConversationsRepo.recordMessage), rebuilt at once — after a bulk load (the
 * bench, a data import) or to check that nothing drifted (the tests compare both).
 */
import { sql, type SQL } from 'drizzle-orm';
import { RESPONSE_BINS, RESPONSE_BIN_SQL_THRESHOLDS } from '../domain/response-bins.ts';
import { MARKET_TZ } from '../domain/trading-sessions.ts';
import type { Db } from '../store/db.ts';

const thresholds = sql.raw(`array[${RESPONSE_BIN_SQL_THRESHOLDS.join(',')}]`);

/** `array[count(*) filter (where <col> = 0), …]`: a histogram of a bin column. */
const countsOf = (col: string): SQL =>
  sql.raw(`array[${Array.from({ length: RESPONSE_BINS }, (_, i) => `count(*) filter (where ${col} = ${i})::int`).join(', ')}]`);
/** `array[sum(<col>[1]), …]`: histograms added up. */
const sumsOf = (col: string): SQL => sql.raw(`array[${Array.from({ length: RESPONSE_BINS }, (_, i) => `sum(${col}[${i + 1}])::int`).join(', ')}]`);

/**
 * Replaces every rollup row with counts of the stored episodes (the day rows from the episodes, the
 * month rows from the day rows), in one transaction.
 */
export async function rebuildResponseRollups(db: Db): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.execute(sql`delete from response_rollups`);
    await tx.execute(sql`insert into response_rollups (grain, day, broker_id, answered, trading_hist, all_hist)
      select 'day', e.day, e.broker_id, count(*)::int, ${countsOf('e.tb')}, ${countsOf('e.ab')}
      from (select broker_id, (answered_at at time zone ${sql.raw(`'${MARKET_TZ}'`)})::date as day,
                   width_bucket(trading_seconds, ${thresholds}) as tb, width_bucket(all_seconds, ${thresholds}) as ab
            from response_episodes) e
      group by e.broker_id, e.day`);
    await tx.execute(sql`insert into response_rollups (grain, day, broker_id, answered, trading_hist, all_hist)
      select 'month', date_trunc('month', r.day)::date, r.broker_id, sum(r.answered)::int, ${sumsOf('r.trading_hist')}, ${sumsOf('r.all_hist')}
      from response_rollups r where r.grain = 'day'
      group by r.broker_id, date_trunc('month', r.day)::date`);
  });
}
