/**
 * Web push storage: browser subscriptions (per user and device; the endpoint URL identifies the
 * browser profile) and the server's VAPID key pair, generated once and kept in `settings`.
 */
import { and, asc, eq, notInArray, sql } from 'drizzle-orm';
import webPush from 'web-push';
import { uuidIn, type Db } from './db.ts';
import { deliveries, pushSubscriptions, settings } from './schema/index.ts';

export type PushSubscriptionRow = typeof pushSubscriptions.$inferSelect;

export interface VapidKeys {
  /** Uncompressed P-256 public key, base64url (65 bytes): the browser's `applicationServerKey`. */
  publicKey: string;
  /** Private scalar, base64url (32 bytes). */
  privateKey: string;
}

export interface NewPushSubscription {
  endpoint: string;
  p256dh: string;
  auth: string;
  userAgent?: string;
}

/** Devices kept per user; subscribing one more forgets the oldest. */
export const MAX_PUSH_SUBSCRIPTIONS_PER_USER = 20;
const VAPID_KEY = 'vapid';

function isVapid(v: unknown): v is VapidKeys {
  const k = v as VapidKeys;
  return typeof k?.publicKey === 'string' && typeof k?.privateKey === 'string';
}

export class PushRepo {
  private vapidCache: Promise<VapidKeys> | null = null;

  constructor(private readonly db: Db) {}

  /**
   * The VAPID key pair, generated on first use. INSERT … ON CONFLICT DO NOTHING then SELECT, so
   * processes starting together agree on one pair. Keys never change afterwards: every browser
   * subscription is bound to the public key it was created with.
   */
  vapidKeys(): Promise<VapidKeys> {
    this.vapidCache ??= (async () => {
      const fresh = webPush.generateVAPIDKeys();
      await this.db.insert(settings).values({ key: VAPID_KEY, value: fresh }).onConflictDoNothing();
      const [row] = await this.db.select({ value: settings.value }).from(settings).where(eq(settings.key, VAPID_KEY)).limit(1);
      if (!row || !isVapid(row.value)) throw new Error('settings.vapid is missing or malformed');
      return { publicKey: row.value.publicKey, privateKey: row.value.privateKey };
    })();
    this.vapidCache.catch(() => {
      this.vapidCache = null;
    });
    return this.vapidCache;
  }

  /**
   * Stores a subscription for `userId`. The same endpoint subscribed again (same browser, possibly
   * another user logged in there now) is updated and moves to that user. Returns whether it is new.
   */
  async upsert(userId: string, s: NewPushSubscription): Promise<{ id: string; created: boolean }> {
    const [row] = await this.db
      .insert(pushSubscriptions)
      .values({ userId, endpoint: s.endpoint, p256dh: s.p256dh, auth: s.auth, userAgent: s.userAgent ?? null })
      .onConflictDoUpdate({
        target: pushSubscriptions.endpoint,
        set: { userId, p256dh: s.p256dh, auth: s.auth, userAgent: s.userAgent ?? null },
      })
      .returning({ id: pushSubscriptions.id, created: sql<boolean>`(xmax = 0)` });
    // Keep the newest devices only.
    const keep = this.db
      .select({ id: pushSubscriptions.id })
      .from(pushSubscriptions)
      .where(eq(pushSubscriptions.userId, userId))
      .orderBy(sql`${pushSubscriptions.createdAt} desc`, sql`${pushSubscriptions.id} desc`)
      .limit(MAX_PUSH_SUBSCRIPTIONS_PER_USER);
    await this.db.delete(pushSubscriptions).where(and(eq(pushSubscriptions.userId, userId), notInArray(pushSubscriptions.id, keep)));
    return { id: row.id, created: Boolean(row.created) };
  }

  /** Removes the user's own subscription with this endpoint; false when there is none. */
  async removeOwn(userId: string, endpoint: string): Promise<boolean> {
    const rows = await this.db
      .delete(pushSubscriptions)
      .where(and(eq(pushSubscriptions.userId, userId), eq(pushSubscriptions.endpoint, endpoint)))
      .returning({ id: pushSubscriptions.id });
    return rows.length > 0;
  }

  /** The push service said the subscription is gone (404/410). */
  async removeById(ids: string[]): Promise<void> {
    if (ids.length) await this.db.delete(pushSubscriptions).where(uuidIn(pushSubscriptions.id, ids));
  }

  async listForUser(userId: string): Promise<PushSubscriptionRow[]> {
    return this.db.select().from(pushSubscriptions).where(eq(pushSubscriptions.userId, userId)).orderBy(asc(pushSubscriptions.createdAt));
  }

  /** listForUser for many users in one query (the push worker's batched path); absent users → no entry. */
  async listForUsers(userIds: string[]): Promise<Map<string, PushSubscriptionRow[]>> {
    const out = new Map<string, PushSubscriptionRow[]>();
    const ids = [...new Set(userIds)];
    if (!ids.length) return out;
    const rows = await this.db.select().from(pushSubscriptions).where(uuidIn(pushSubscriptions.userId, ids)).orderBy(asc(pushSubscriptions.createdAt));
    for (const r of rows) {
      const list = out.get(r.userId);
      if (list) list.push(r);
      else out.set(r.userId, [r]);
    }
    return out;
  }

  async markSuccess(ids: string[]): Promise<void> {
    if (ids.length) await this.db.update(pushSubscriptions).set({ lastSuccessAt: sql`now()` }).where(uuidIn(pushSubscriptions.id, ids));
  }

  /** sending → suppressed (e.g. 'no-subscription'), for the claim holder only. */
  async suppressDelivery(deliveryId: string, reason: string, error?: string): Promise<void> {
    await this.db
      .update(deliveries)
      .set({ status: 'suppressed', reason, lastError: error?.slice(0, 1000) ?? null, updatedAt: sql`now()` })
      .where(and(eq(deliveries.id, deliveryId), eq(deliveries.status, 'sending')));
  }
}
