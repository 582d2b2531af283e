/**
 * Demo work reminders (工作提醒) for broker1 (王经纪): client1 (刘女士) has a risk assessment expiring
 * in 20 days, so the reminder sweep's 30-day warning is there already (fired, under the key the sweep
 * would use, so the sweep does not make it again); two of broker1's own reminders are pending (one
 * tomorrow 10:00, one in three days) and one older one is done.
 */
import { and, eq, sql } from 'drizzle-orm';
import { addDays, localParts, ymd, zonedToInstant } from '../domain/zoned-time.ts';
import { MARKET_TZ } from '../domain/trading-sessions.ts';
import type { Db } from './db.ts';
import { brokerClients, conversations, reminders, users } from './schema/index.ts';

export async function seedServiceReminders(db: Db, now = new Date()): Promise<void> {
  const people = await db.select({ id: users.id, login: users.login }).from(users).where(sql`${users.login} in ('broker1', 'client1', 'client2')`);
  const id = new Map(people.map((p) => [p.login, p.id]));
  const broker = id.get('broker1');
  const client1 = id.get('client1');
  const client2 = id.get('client2');
  if (!broker || !client1 || !client2) return;
  const [primary] = await db
    .select({ b: brokerClients.brokerId })
    .from(brokerClients)
    .where(and(eq(brokerClients.clientId, client1), eq(brokerClients.relation, 'primary')));
  if (primary?.b !== broker) return;
  const [conv] = await db
    .select({ id: conversations.id })
    .from(conversations)
    .where(and(eq(conversations.type, 'broker_client'), eq(conversations.brokerId, broker), eq(conversations.clientId, client1)));

  const p = localParts(now, MARKET_TZ);
  const day = (n: number) => addDays(p.year, p.month, p.day, n);
  const at = (n: number, hour: number) => {
    const d = day(n);
    return zonedToInstant(d.year, d.month, d.day, hour, 0, MARKET_TZ);
  };
  const expires = day(20);
  const expiresOn = ymd(expires.year, expires.month, expires.day);
  await db.update(users).set({ riskExpiresOn: expiresOn }).where(eq(users.id, client1));

  const hour = 3_600_000;
  await db
    .insert(reminders)
    .values([
      {
        ownerId: broker,
        kind: 'risk_expiry' as const,
        title: `刘女士 的风险测评将于 ${expiresOn} 到期，请提醒客户重新测评`,
        clientId: client1,
        dueAt: new Date(now.getTime() - 2 * hour),
        state: 'fired' as const,
        firedAt: new Date(now.getTime() - 2 * hour),
        dedupKey: `risk_expiry:${client1}:${expiresOn}`,
        createdAt: new Date(now.getTime() - 2 * hour),
        updatedAt: new Date(now.getTime() - 2 * hour),
      },
      {
        ownerId: broker,
        kind: 'manual' as const,
        title: '致电刘女士，预约风险测评',
        note: '客户在对话中问到测评是否快到期，约她本周内来营业部或线上重新测评。',
        clientId: client1,
        conversationId: conv?.id ?? null,
        dueAt: at(1, 10),
        createdAt: new Date(now.getTime() - hour),
        updatedAt: new Date(now.getTime() - hour),
      },
      {
        ownerId: broker,
        kind: 'manual' as const,
        title: '整理周先生的持仓与红利再投资建议',
        clientId: client2,
        dueAt: at(3, 15),
        createdAt: new Date(now.getTime() - hour),
        updatedAt: new Date(now.getTime() - hour),
      },
      {
        ownerId: broker,
        kind: 'manual' as const,
        title: '提交上周客户回访记录',
        dueAt: at(-2, 17),
        state: 'done' as const,
        firedAt: at(-2, 17),
        doneAt: at(-2, 18),
        createdAt: at(-4, 9),
        updatedAt: at(-2, 18),
      },
    ])
    .onConflictDoNothing();
}
