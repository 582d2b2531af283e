/** Notification preferences per user and category (a channel family, or '*' for every category). */
import { and, eq, inArray, sql } from 'drizzle-orm';
import type { DigestMode, PrefsLayer, Transport } from '../domain/routing.ts';
import { pgArray, type Db } from './db.ts';
import { notificationPrefs } from './schema/index.ts';

export interface CategoryPrefs {
  category: string;
  transports: Partial<Record<Transport, boolean>>;
  quietStart: string | null;
  quietEnd: string | null;
  timeZone: string;
  digest: DigestMode;
  digestAt: string | null;
  muted: boolean;
  tradingHoursOnly: boolean;
  updatedAt: string;
}

type Row = typeof notificationPrefs.$inferSelect;

function toView(r: Row): CategoryPrefs {
  return {
    category: r.category,
    transports: (r.transports ?? {}) as Partial<Record<Transport, boolean>>,
    quietStart: r.quietStart,
    quietEnd: r.quietEnd,
    timeZone: r.timeZone,
    digest: r.digest,
    digestAt: r.digestAt,
    muted: r.muted,
    tradingHoursOnly: r.tradingHoursOnly,
    updatedAt: r.updatedAt.toISOString(),
  };
}

export function toLayer(r: Row | CategoryPrefs): PrefsLayer {
  return {
    transports: r.transports as PrefsLayer['transports'],
    quietStart: r.quietStart,
    quietEnd: r.quietEnd,
    timeZone: r.timeZone,
    digest: r.digest,
    digestAt: r.digestAt,
    muted: r.muted,
    tradingHoursOnly: r.tradingHoursOnly,
  };
}

export class PrefsRepo {
  constructor(private readonly db: Db) {}

  async list(userId: string): Promise<CategoryPrefs[]> {
    const rows = await this.db.select().from(notificationPrefs).where(eq(notificationPrefs.userId, userId)).orderBy(notificationPrefs.category);
    return rows.map(toView);
  }

  /** For fanout: each user's '*' and `category` layers. */
  async layersFor(userIds: string[], category: string): Promise<Map<string, { global?: PrefsLayer; category?: PrefsLayer }>> {
    const out = new Map<string, { global?: PrefsLayer; category?: PrefsLayer }>();
    if (!userIds.length) return out;
    const rows = await this.db
      .select()
      .from(notificationPrefs)
      // One array parameter, not one per user: a fanout asks for 1,000+ users at a time.
      .where(and(sql`${notificationPrefs.userId} = any(${pgArray(userIds)}::uuid[])`, inArray(notificationPrefs.category, ['*', category])));
    for (const r of rows) {
      const e = out.get(r.userId) ?? {};
      if (r.category === '*') e.global = toLayer(r);
      else e.category = toLayer(r);
      out.set(r.userId, e);
    }
    return out;
  }

  /** Creates or replaces one category's row (rows are complete: unspecified fields take defaults). */
  async put(userId: string, p: Omit<CategoryPrefs, 'updatedAt'>): Promise<void> {
    const values = {
      userId,
      category: p.category,
      transports: p.transports,
      quietStart: p.quietStart,
      quietEnd: p.quietEnd,
      timeZone: p.timeZone,
      digest: p.digest,
      digestAt: p.digestAt,
      muted: p.muted,
      tradingHoursOnly: p.tradingHoursOnly,
      updatedAt: new Date(),
    };
    const { userId: _u, category: _c, ...set } = values;
    await this.db.insert(notificationPrefs).values(values).onConflictDoUpdate({ target: [notificationPrefs.userId, notificationPrefs.category], set });
  }

  async remove(userId: string, category: string): Promise<boolean> {
    const rows = await this.db
      .delete(notificationPrefs)
      .where(and(eq(notificationPrefs.userId, userId), eq(notificationPrefs.category, category)))
      .returning({ c: notificationPrefs.category });
    return rows.length > 0;
  }
}
