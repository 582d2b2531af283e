/**
 * Demo history of the broker service (issue 11), the first part of seedServiceDemo: team A (SH-A)
 * gets a second broker, broker3 赵经纪, with a book of 18 clients opened over the last eight weeks
 * (tiers C1–C5, some assessments expiring within 30 days, one expired), and manager1 heads branch
 * SH-LJZ. Then four weeks of conversations (seed-service-history-chat.ts) and of recommendations and
 * tasks (seed-service-history-advisory.ts), so the service views show real numbers on first start.
 *
 * broker1's book stays client1–client3 (tests and the walkthrough rely on it); its history is with
 * client2. Runs once: only when the demo firm exists and broker3 does not.
 */
import { sql } from 'drizzle-orm';
import { addDays, localParts, ymd } from '../domain/zoned-time.ts';
import { MARKET_TZ } from '../domain/trading-sessions.ts';
import { rows, type Db } from './db.ts';
import { branches, brokerClients, users } from './schema/index.ts';
import { seedHistoryConversations } from './seed-service-history-chat.ts';
import { seedHistoryAdvisory } from './seed-service-history-advisory.ts';

const DAY = 86_400_000;

type Tier = 'general' | 'hnw';
type Risk = 'C1' | 'C2' | 'C3' | 'C4' | 'C5';

/**
 * broker3's book: login, name, tier, risk level, days since the account was opened, and when the
 * assessment expires (days from today; negative: expired) where it is not the default two years.
 */
export const HISTORY_CLIENTS: ReadonlyArray<{ login: string; name: string; tier: Tier; risk: Risk; openedDaysAgo: number; expiresInDays?: number }> = [
  { login: 'client11', name: '陈晓燕', tier: 'general', risk: 'C3', openedDaysAgo: 55 },
  { login: 'client12', name: '林国栋', tier: 'hnw', risk: 'C4', openedDaysAgo: 52, expiresInDays: 12 },
  { login: 'client13', name: '黄丽华', tier: 'general', risk: 'C2', openedDaysAgo: 49 },
  { login: 'client14', name: '吴建平', tier: 'hnw', risk: 'C5', openedDaysAgo: 46 },
  { login: 'client15', name: '郑美玲', tier: 'general', risk: 'C3', openedDaysAgo: 43, expiresInDays: 25 },
  { login: 'client16', name: '何志强', tier: 'general', risk: 'C4', openedDaysAgo: 40 },
  { login: 'client17', name: '马秀英', tier: 'general', risk: 'C1', openedDaysAgo: 37 },
  { login: 'client18', name: '高振宇', tier: 'hnw', risk: 'C4', openedDaysAgo: 34, expiresInDays: -3 },
  { login: 'client19', name: '罗佳怡', tier: 'general', risk: 'C2', openedDaysAgo: 31 },
  { login: 'client20', name: '许文博', tier: 'general', risk: 'C3', openedDaysAgo: 28, expiresInDays: 6 },
  { login: 'client21', name: '谢雨桐', tier: 'general', risk: 'C3', openedDaysAgo: 25 },
  { login: 'client22', name: '韩立新', tier: 'hnw', risk: 'C5', openedDaysAgo: 22 },
  { login: 'client23', name: '冯淑珍', tier: 'general', risk: 'C2', openedDaysAgo: 19 },
  { login: 'client24', name: '曹宇航', tier: 'general', risk: 'C4', openedDaysAgo: 15 },
  { login: 'client25', name: '彭丽娟', tier: 'general', risk: 'C3', openedDaysAgo: 11, expiresInDays: 18 },
  // Opened in the last days: nobody has talked to them yet (the book's coverage is below 100%).
  { login: 'client26', name: '邓子豪', tier: 'general', risk: 'C3', openedDaysAgo: 4 },
  { login: 'client27', name: '蒋文静', tier: 'general', risk: 'C2', openedDaysAgo: 3 },
  { login: 'client28', name: '沈浩然', tier: 'hnw', risk: 'C4', openedDaysAgo: 2 },
];

export async function seedServiceHistory(db: Db, now = new Date()): Promise<void> {
  const staff = await rows<{ id: string; login: string; firm_id: string; branch_id: string | null; team_id: string | null; password_hash: string }>(
    db,
    sql`select id::text, login, firm_id::text, branch_id::text, team_id::text, password_hash from users where login in ('broker1', 'broker3', 'manager1')`,
  );
  const by = new Map(staff.map((s) => [s.login, s]));
  const broker1 = by.get('broker1');
  const manager1 = by.get('manager1');
  if (!broker1 || !manager1 || by.has('broker3') || !broker1.team_id || !broker1.branch_id) return;

  const today = localParts(now, MARKET_TZ);
  const dateIn = (days: number) => {
    const d = addDays(today.year, today.month, today.day, days);
    return ymd(d.year, d.month, d.day);
  };
  const base = { firmId: broker1.firm_id, passwordHash: broker1.password_hash, branchId: broker1.branch_id };
  await db.transaction(async (tx) => {
    const [broker3] = await tx
      .insert(users)
      .values({ ...base, login: 'broker3', displayName: '赵经纪', role: 'broker', teamId: broker1.team_id, email: 'broker3@qiao.example', createdAt: new Date(now.getTime() - 70 * DAY) })
      .returning({ id: users.id });
    const clients = await tx
      .insert(users)
      .values(
        HISTORY_CLIENTS.map((c) => {
          const opened = new Date(now.getTime() - c.openedDaysAgo * DAY);
          return {
            ...base,
            login: c.login,
            displayName: c.name,
            role: 'client' as const,
            tier: c.tier,
            riskLevel: c.risk,
            // Assessed when the account was opened; valid two years unless set to expire sooner (as client1's).
            riskAssessedOn: dateIn(-c.openedDaysAgo),
            riskExpiresOn: c.expiresInDays === undefined ? null : dateIn(c.expiresInDays),
            email: `${c.login}@qiao.example`,
            createdAt: opened,
          };
        }),
      )
      .returning({ id: users.id });
    await tx.insert(brokerClients).values(clients.map((c) => ({ brokerId: broker3.id, clientId: c.id, relation: 'primary' as const })));
    // Escalations of the branch (complaints, follow-ups) go to its head.
    await tx.update(branches).set({ headId: manager1.id }).where(sql`${branches.id} = ${broker1.branch_id} and ${branches.headId} is null`);
  });
  await seedHistoryConversations(db, now);
  await seedHistoryAdvisory(db, now);
}
