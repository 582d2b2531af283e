/**
 * Holdings (table `positions`): a daily snapshot per client replaces the client's rows in one
 * transaction; fills move them during the day (a buy adds, a sell subtracts, and at 0 the row goes —
 * there is no short selling in a cash account, so a sell beyond the holding also ends at 0). "Who
 * holds X" is an index lookup on `positions_symbol_idx`, never a scan.
 */
import { and, asc, eq, gt, inArray, lte, or, sql, type SQL } from 'drizzle-orm';
import { pgArray, pgNumberArray, rows, type Db } from '../store/db.ts';
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

  /**
   * Many fills (in their order) in the caller's transaction, three statements whatever their number:
   * the rows they touch are read and locked, each position's end quantity is worked out here as
   * `applyFill` would one by one, then written (upserted, or deleted at 0).
   */
  async applyFills(tx: Tx, fills: ReadonlyArray<{ clientId: string; symbol: string; side: 'buy' | 'sell'; qty: number; at: Date }>): Promise<void> {
    if (!fills.length) return;
    const key = (c: string, s: string) => `${c}|${s}`;
    const keys = [...new Map(fills.map((f) => [key(f.clientId, f.symbol), f])).values()];
    const held = await rows<{ client_id: string; symbol: string; qty: number | string }>(
      tx,
      sql`select client_id, symbol, qty from positions
          where (client_id, symbol) in (select * from unnest(${`{${keys.map((f) => f.clientId).join(',')}}`}::uuid[], ${`{${keys.map((f) => `"${f.symbol}"`).join(',')}}`}::text[]))
          order by client_id, symbol for update`,
    );
    const qty = new Map<string, { q: number; existed: boolean; at: Date }>();
    for (const h of held) qty.set(key(h.client_id, h.symbol), { q: Number(h.qty), existed: true, at: new Date(0) });
    for (const f of fills) {
      const k = key(f.clientId, f.symbol);
      const cur = qty.get(k) ?? { q: 0, existed: false, at: f.at };
      cur.q = f.side === 'buy' ? cur.q + f.qty : Math.max(0, cur.q - f.qty);
      cur.at = f.at;
      qty.set(k, cur);
    }
    // Rows read (locked) get their end quantity; rows absent when read are inserted as an increment,
    // so a first buy of the same position committed meanwhile elsewhere is added to, not overwritten.
    const set: Array<{ clientId: string; symbol: string; qty: number; updatedAt: Date }> = [];
    const add: typeof set = [];
    const gone: Array<{ clientId: string; symbol: string }> = [];
    for (const f of keys) {
      const v = qty.get(key(f.clientId, f.symbol))!;
      if (v.q > 0) (v.existed ? set : add).push({ clientId: f.clientId, symbol: f.symbol, qty: v.q, updatedAt: v.at });
      else if (v.existed) gone.push({ clientId: f.clientId, symbol: f.symbol });
    }
    if (set.length) await upsertPositions(tx, set, sql`excluded.qty`);
    if (add.length) await upsertPositions(tx, add, sql`positions.qty + excluded.qty`);
    if (gone.length) {
      await tx.delete(positions).where(or(...gone.map((g) => and(eq(positions.clientId, g.clientId), eq(positions.symbol, g.symbol)))));
    }
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

/**
 * Upserts positions with array parameters (one statement text whatever the count, nothing per row for
 * the query builder to assemble); `qty` is the conflict's new quantity.
 */
async function upsertPositions(tx: Tx, rows: ReadonlyArray<{ clientId: string; symbol: string; qty: number; updatedAt: Date }>, qty: SQL): Promise<void> {
  await tx.execute(
    sql`insert into positions (client_id, symbol, qty, updated_at)
        select * from unnest(${pgArray(rows.map((r) => r.clientId))}::uuid[], ${pgArray(rows.map((r) => r.symbol))}::text[],
          ${pgNumberArray(rows.map((r) => r.qty))}::bigint[], ${pgArray(rows.map((r) => r.updatedAt.toISOString()))}::timestamptz[])
        on conflict (client_id, symbol) do update set qty = ${qty}, updated_at = excluded.updated_at`,
  );
}
