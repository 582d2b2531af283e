/**
 * Helpers for the recommendation, approval and task suites: direct database set-up (a client's risk
 * data, extra clients assigned to a broker) and reads of what was recorded (rows, archive records).
 */
import { randomBytes } from 'node:crypto';
import { and, asc, eq, sql } from 'drizzle-orm';
import type { Db } from '../../src/store/db.ts';
import { archiveRecords, brokerClients, recommendations, taskAssignments, teams, users } from '../../src/store/schema/index.ts';
import type { TestApp } from './app.ts';

export const CLIENT_LEVELS = ['C1', 'C2', 'C3', 'C4', 'C5'] as const;
export const PRODUCT_LEVELS = ['R1', 'R2', 'R3', 'R4', 'R5'] as const;

export const dbOf = (t: TestApp): Db => t.app.qiao.db.db;

/** Today in Asia/Shanghai as YYYY-MM-DD (what a fresh assessment date looks like). */
export function today(): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Shanghai' }).format(new Date());
}

export function daysAgo(n: number): string {
  return new Date(Date.now() - n * 86_400_000).toISOString().slice(0, 10);
}

export async function setRisk(
  db: Db,
  clientId: string,
  risk: { level: (typeof CLIENT_LEVELS)[number] | null; assessedOn: string | null; professional?: boolean },
): Promise<void> {
  await db
    .update(users)
    .set({ riskLevel: risk.level, riskAssessedOn: risk.assessedOn, professionalInvestor: risk.professional ?? false })
    .where(eq(users.id, clientId));
}

/** Creates `n` clients assigned to `brokerId` (primary), with the given risk data; returns their ids. */
export async function addClients(
  db: Db,
  brokerId: string,
  n: number,
  opts: { level?: (typeof CLIENT_LEVELS)[number]; professional?: boolean; relation?: 'primary' | 'shared_read' | 'shared_full' } = {},
): Promise<string[]> {
  const [broker] = await db.select().from(users).where(eq(users.id, brokerId));
  const tag = randomBytes(4).toString('hex');
  const rows = await db
    .insert(users)
    .values(
      Array.from({ length: n }, (_, i) => ({
        firmId: broker.firmId,
        login: `t-${tag}-${i}`,
        passwordHash: 'scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
        displayName: `测试客户${i}`,
        role: 'client' as const,
        branchId: broker.branchId,
        tier: 'general' as const,
        riskLevel: opts.level ?? 'C5',
        riskAssessedOn: today(),
        professionalInvestor: opts.professional ?? false,
      })),
    )
    .returning({ id: users.id });
  await db.insert(brokerClients).values(rows.map((r) => ({ brokerId, clientId: r.id, relation: opts.relation ?? ('primary' as const) })));
  return rows.map((r) => r.id);
}

export async function assign(db: Db, brokerId: string, clientId: string, relation: 'primary' | 'shared_read' | 'shared_full'): Promise<void> {
  await db
    .insert(brokerClients)
    .values({ brokerId, clientId, relation })
    .onConflictDoUpdate({ target: [brokerClients.brokerId, brokerClients.clientId], set: { relation } });
}

export async function recRow(db: Db, id: string) {
  const [r] = await db.select().from(recommendations).where(eq(recommendations.id, id));
  return r;
}

export async function recsOf(db: Db, clientId: string, security: string) {
  return db
    .select()
    .from(recommendations)
    .where(and(eq(recommendations.clientId, clientId), eq(recommendations.security, security)))
    .orderBy(asc(recommendations.createdAt));
}

/** Archive records of a kind whose body field `key` equals `value`. */
export async function archived(db: Db, kind: string, key: string, value: string) {
  return db
    .select()
    .from(archiveRecords)
    .where(and(eq(archiveRecords.kind, kind), sql`${archiveRecords.body} ->> ${key} = ${value}`))
    .orderBy(asc(archiveRecords.seq));
}

export async function assignmentOf(db: Db, taskId: string, brokerId: string) {
  const [a] = await db
    .select()
    .from(taskAssignments)
    .where(and(eq(taskAssignments.taskId, taskId), eq(taskAssignments.brokerId, brokerId)));
  return a;
}

/** The publications of a channel as its reader sees them over REST (oldest first, up to 200). */
export async function historyOf(t: TestApp, channel: string, token: string): Promise<Array<{ id: string; offset: number; kind: string; payload: any; sender: string }>> {
  const r = await t.request('GET', `/api/channels/${channel}/history?limit=200`, { token });
  if (r.status !== 200) throw new Error(`history ${channel}: ${r.status} ${r.text}`);
  return r.body.publications;
}

/** Adds a broker who can log in with the demo password, in the team (and branch) of `teamCode`. */
export async function addBroker(db: Db, login: string, displayName: string, teamCode: string): Promise<string> {
  const { hashPassword } = await import('../../src/auth/password.ts');
  const { DEMO_PASSWORD } = await import('../../src/store/seed.ts');
  // The demo seed has broker3 赵经纪 in SH-A already (its service history): use that one.
  const [existing] = await db.select({ id: users.id }).from(users).where(eq(users.login, login));
  if (existing) return existing.id;
  const [team] = await db.select().from(teams).where(eq(teams.code, teamCode));
  const [firm] = await db.select().from(users).limit(1);
  const [b] = await db
    .insert(users)
    .values({ firmId: firm.firmId, login, passwordHash: await hashPassword(DEMO_PASSWORD), displayName, role: 'broker', branchId: team.branchId, teamId: team.id })
    .returning({ id: users.id });
  return b.id;
}

export async function teamId(db: Db, code: string): Promise<string> {
  const [team] = await db.select().from(teams).where(eq(teams.code, code));
  return team.id;
}
