/**
 * Demo firm for a first start: two branches (营业部), two teams, and one login per role.
 * Runs only when the database has no firm yet, so it never touches real data.
 */
import { eq } from 'drizzle-orm';
import { hashPassword } from '../auth/password.ts';
import type { Db } from './db.ts';
import { seedServiceDemo } from './seed-service.ts';
import { seedDemoConversations } from './seed-conversations.ts';
import { branches, brokerClients, firms, teams, users } from './schema/index.ts';

export const DEMO_PASSWORD = 'qiao-demo-2026';

export interface DemoLogin {
  login: string;
  role: string;
  note: string;
}

export const DEMO_LOGINS: DemoLogin[] = [
  { login: 'client1', role: 'client', note: '普通投资者 general, C3' },
  { login: 'client2', role: 'client', note: '高净值 HNW, C4' },
  { login: 'client3', role: 'client', note: '普通投资者 general, C1 (conservative: refuses R2+ recommendations)' },
  { login: 'inst1', role: 'client', note: '机构 institutional, C5, professional' },
  { login: 'client12', role: 'client', note: '高净值 HNW, C4, of broker3 (risk assessment expires within 30 days)' },
  { login: 'client13', role: 'client', note: '普通投资者 general, C2, of broker3 (waiting for an answer now)' },
  { login: 'broker1', role: 'broker', note: '经纪人, team A' },
  { login: 'broker2', role: 'broker', note: '经纪人, team B' },
  { login: 'broker3', role: 'broker', note: '经纪人, team A: 18 clients client11–client28 with four weeks of history' },
  { login: 'manager1', role: 'manager', note: '团队经理, team A; head of branch SH-LJZ' },
  { login: 'manager2', role: 'manager', note: '团队经理, team B' },
  { login: 'service1', role: 'manager', note: '客服专员 (service desk, SH-LJZ): complaints' },
  { login: 'research1', role: 'research', note: '研究所' },
  { login: 'compliance1', role: 'compliance', note: '合规' },
  { login: 'admin', role: 'admin', note: '管理员' },
];

/** Returns true when it seeded, false when the database already had a firm. */
export async function seedDemo(db: Db): Promise<boolean> {
  const existing = await db.select({ id: firms.id }).from(firms).limit(1);
  if (existing.length) return false;
  const hash = await hashPassword(DEMO_PASSWORD);
  await db.transaction(async (tx) => {
    const [firm] = await tx.insert(firms).values({ code: 'QIAO', name: '桥证券股份有限公司' }).returning();
    const [sh, bj] = await tx
      .insert(branches)
      .values([
        { firmId: firm.id, code: 'SH-LJZ', name: '上海陆家嘴营业部' },
        { firmId: firm.id, code: 'BJ-JRJ', name: '北京金融街营业部' },
      ])
      .returning();
    const [teamA, teamB, teamSvc] = await tx
      .insert(teams)
      .values([
        { branchId: sh.id, code: 'SH-A', name: '陆家嘴财富一组' },
        { branchId: bj.id, code: 'BJ-B', name: '金融街机构组' },
        // The branch's client service desk (客服): no brokers; receives the branch's complaints.
        { branchId: sh.id, code: 'SH-SVC', name: '陆家嘴客户服务组' },
      ])
      .returning();
    const base = { firmId: firm.id, passwordHash: hash };
    const staff = await tx
      .insert(users)
      .values([
        { ...base, login: 'broker1', displayName: '王经纪', role: 'broker', branchId: sh.id, teamId: teamA.id, email: 'broker1@qiao.example' },
        { ...base, login: 'broker2', displayName: '李经纪', role: 'broker', branchId: bj.id, teamId: teamB.id, email: 'broker2@qiao.example' },
        { ...base, login: 'manager1', displayName: '张经理', role: 'manager', branchId: sh.id, teamId: teamA.id, email: 'manager1@qiao.example' },
        { ...base, login: 'manager2', displayName: '吴经理', role: 'manager', branchId: bj.id, teamId: teamB.id, email: 'manager2@qiao.example' },
        { ...base, login: 'service1', displayName: '钱客服', role: 'manager', branchId: sh.id, teamId: teamSvc.id, serviceDesk: true, email: 'service1@qiao.example' },
        { ...base, login: 'research1', displayName: '陈研究员', role: 'research', email: 'research1@qiao.example' },
        { ...base, login: 'compliance1', displayName: '赵合规', role: 'compliance', email: 'compliance1@qiao.example' },
        { ...base, login: 'admin', displayName: '系统管理员', role: 'admin', email: 'admin@qiao.example' },
      ])
      .returning();
    const byLogin = new Map(staff.map((u) => [u.login, u]));
    const assessed = new Date().toISOString().slice(0, 10);
    const clients = await tx
      .insert(users)
      .values([
        { ...base, login: 'client1', displayName: '刘女士', role: 'client', branchId: sh.id, tier: 'general', riskLevel: 'C3', riskAssessedOn: assessed, email: 'client1@qiao.example', accountNo: '310000000001' },
        { ...base, login: 'client2', displayName: '周先生', role: 'client', branchId: sh.id, tier: 'hnw', riskLevel: 'C4', riskAssessedOn: assessed, email: 'client2@qiao.example', accountNo: '310000000002' },
        { ...base, login: 'client3', displayName: '孙阿姨', role: 'client', branchId: sh.id, tier: 'general', riskLevel: 'C1', riskAssessedOn: assessed, email: 'client3@qiao.example', accountNo: '310000000003' },
        { ...base, login: 'inst1', displayName: '华夏资产管理有限公司', role: 'client', branchId: bj.id, tier: 'institutional', riskLevel: 'C5', riskAssessedOn: assessed, professionalInvestor: true, email: 'inst1@qiao.example', accountNo: '110000000004' },
      ])
      .returning();
    const c = new Map(clients.map((u) => [u.login, u]));
    await tx.update(teams).set({ managerId: byLogin.get('manager1')!.id }).where(eq(teams.id, teamA.id));
    await tx.update(teams).set({ managerId: byLogin.get('manager2')!.id }).where(eq(teams.id, teamB.id));
    await tx.insert(brokerClients).values([
      { brokerId: byLogin.get('broker1')!.id, clientId: c.get('client1')!.id, relation: 'primary' },
      { brokerId: byLogin.get('broker1')!.id, clientId: c.get('client2')!.id, relation: 'primary' },
      { brokerId: byLogin.get('broker1')!.id, clientId: c.get('client3')!.id, relation: 'primary' },
      { brokerId: byLogin.get('broker2')!.id, clientId: c.get('inst1')!.id, relation: 'primary' },
    ]);
  });
  await seedDemoConversations(db);
  await seedServiceDemo(db);
  return true;
}
