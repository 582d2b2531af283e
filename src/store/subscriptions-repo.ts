/** A user's chosen channels with per-subscription preferences (persisted). */
import { and, asc, eq } from 'drizzle-orm';
import type { Db } from './db.ts';
import { subscriptions } from './schema/index.ts';

export interface SubscriptionView {
  channel: string;
  prefs: unknown;
  createdAt: string;
}

export class SubscriptionsRepo {
  constructor(private readonly db: Db) {}

  async list(userId: string): Promise<SubscriptionView[]> {
    const rows = await this.db
      .select()
      .from(subscriptions)
      .where(eq(subscriptions.userId, userId))
      .orderBy(asc(subscriptions.createdAt), asc(subscriptions.channel));
    return rows.map((r) => ({ channel: r.channel, prefs: r.prefs, createdAt: r.createdAt.toISOString() }));
  }

  /** Creates or updates; returns whether it was created. */
  async put(userId: string, channel: string, prefs: Record<string, unknown>): Promise<boolean> {
    const rows = await this.db
      .insert(subscriptions)
      .values({ userId, channel, prefs })
      .onConflictDoNothing()
      .returning({ channel: subscriptions.channel });
    if (rows.length > 0) return true;
    await this.db
      .update(subscriptions)
      .set({ prefs })
      .where(and(eq(subscriptions.userId, userId), eq(subscriptions.channel, channel)));
    return false;
  }

  async remove(userId: string, channel: string): Promise<boolean> {
    const rows = await this.db
      .delete(subscriptions)
      .where(and(eq(subscriptions.userId, userId), eq(subscriptions.channel, channel)))
      .returning({ channel: subscriptions.channel });
    return rows.length > 0;
  }

  async count(userId: string): Promise<number> {
    return (await this.list(userId)).length;
  }
}
