/**
 * Holdings (table `positions`): a daily snapshot per client replaces the client's rows in one
 * transaction; fills move them during the day (a buy adds, a sell subtracts, and at 0 the row goes —
 * there is no short selling in a cash account, so a sell beyond the holding also ends at 0). "Who
 * holds X" is an index lookup on `positions_symbol_idx`, never a scan.
 */
import { and, asc, eq, gt, inArray, lte, sql } from 'drizzle-orm';
import type { Db } from '../store/db.ts';
import type { Tx } from '../store/messages-repo.ts';
import { positions } from '../store/schema/index.ts';

export interface Position {
  symbol: string;
  qty: number;
  updatedAt: string;
}

type Executor = Db | Tx;

export class PositionsRepo {
  constructor(private readonly db: Db) {}

  /** Replaces every position of the client with `rows` (qty 0 rows are dropped), atomically. */
  async replaceSnapshot(clientId: string, rows: Array<{ symbol: string; qty: number }>, asOf: Date): Promise<number> {
    const kept = rows.filter((r) => r.qty > 0);
    await this.db.transaction(async (tx) => {
      await tx.delete(positions).where(eq(positions.clientId, clientId));
      if (kept.length) await tx.insert(positions).values(kept.map((r) => ({ clientId, symbol: r.symbol, qty: r.qty, updatedAt: asOf })));
    });
    return kept.length;
  }

  /** A fill's change to one position, in the caller's transaction (the fill's message commits with it). */
  async applyFill(tx: Executor, clientId: string, symbol: string, side: 'buy' | 'sell', qty: number, at: Date): Promise<void> {
    if (side === 'buy') {
      await tx
        .insert(positions)
        .values({ clientId, symbol, qty, updatedAt: at })
        .onConflictDoUpdate({ target: [positions.clientId, positions.symbol], set: { qty: sql`${positions.qty} + ${qty}`, updatedAt: at } });
      return;
    }
    const key = and(eq(positions.clientId, clientId), eq(positions.symbol, symbol));
    await tx.delete(positions).where(and(key, lte(positions.qty, qty)));
    await tx.update(positions).set({ qty: sql`${positions.qty} - ${qty}`, updatedAt: at }).where(key);
  }

  async forClient(clientId: string): Promise<Position[]> {
    const r = await this.db.select().from(positions).where(eq(positions.clientId, clientId)).orderBy(asc(positions.symbol));
    return r.map((x) => ({ symbol: x.symbol, qty: Number(x.qty), updatedAt: x.updatedAt.toISOString() }));
  }

  /** Holders of a symbol, in pages by client id (the index on symbol, then the primary key). */
  async holders(symbol: string, opts: { after?: string; limit: number }): Promise<string[]> {
    const r = await this.db
      .select({ clientId: positions.clientId })
      .from(positions)
      .where(and(eq(positions.symbol, symbol), opts.after ? gt(positions.clientId, opts.after) : undefined))
      .orderBy(asc(positions.clientId))
      .limit(opts.limit);
    return r.map((x) => x.clientId);
  }

  /** Which of these clients hold the symbol now. */
  async holding(symbol: string, clientIds: string[]): Promise<Set<string>> {
    if (!clientIds.length) return new Set();
    const r = await this.db
      .select({ clientId: positions.clientId })
      .from(positions)
      .where(and(eq(positions.symbol, symbol), inArray(positions.clientId, clientIds)));
    return new Set(r.map((x) => x.clientId));
  }
}
