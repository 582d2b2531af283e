/**
 * The firm's organisation: branches (营业部) and the teams in them — create, rename, move, set manager,
 * close (only when empty). Every change is one transaction with its audit event and archive record.
 */
import { and, asc, eq, isNull, sql } from 'drizzle-orm';
import type { Principal } from '../auth/principal.ts';
import { QiaoError } from '../errors/codes.ts';
import { diff, iso, isUniqueViolation, recordChange } from './admin-record.ts';
import type { ArchiveRepo, Executor } from './archive-repo.ts';
import { isUuid } from './conversations-repo.ts';
import type { Db } from './db.ts';
import { branches, teams, users } from './schema/index.ts';

export type BranchRow = typeof branches.$inferSelect;
export type TeamRow = typeof teams.$inferSelect;

export interface BranchView {
  id: string;
  code: string;
  name: string;
  /** The branch head (营业部负责人): a manager of the branch; overdue complaints escalate to them. */
  headId: string | null;
  closedAt: string | null;
  createdAt: string;
}
export interface TeamView {
  id: string;
  branchId: string;
  code: string;
  name: string;
  managerId: string | null;
  closedAt: string | null;
  createdAt: string;
}

export const branchView = (b: BranchRow): BranchView => ({ id: b.id, code: b.code, name: b.name, headId: b.headId, closedAt: iso(b.closedAt), createdAt: b.createdAt.toISOString() });
export const teamView = (t: TeamRow): TeamView => ({
  id: t.id,
  branchId: t.branchId,
  code: t.code,
  name: t.name,
  managerId: t.managerId,
  closedAt: iso(t.closedAt),
  createdAt: t.createdAt.toISOString(),
});

/** A branch of the firm, or QIAO_BRANCH_NOT_FOUND; `lock` takes it FOR UPDATE. */
export async function branchFor(tx: Executor, firmId: string, id: string, lock = false): Promise<BranchRow> {
  if (!isUuid(id)) throw new QiaoError('QIAO_BRANCH_NOT_FOUND');
  const q = tx.select().from(branches).where(and(eq(branches.id, id), eq(branches.firmId, firmId)));
  const [b] = lock ? await q.for('update') : await q;
  if (!b) throw new QiaoError('QIAO_BRANCH_NOT_FOUND');
  return b;
}

export async function teamFor(tx: Executor, firmId: string, id: string, lock = false): Promise<TeamRow> {
  if (!isUuid(id)) throw new QiaoError('QIAO_TEAM_NOT_FOUND');
  const q = tx
    .select({ t: teams })
    .from(teams)
    .innerJoin(branches, eq(branches.id, teams.branchId))
    .where(and(eq(teams.id, id), eq(branches.firmId, firmId)));
  const [r] = lock ? await q.for('update', { of: teams }) : await q;
  if (!r) throw new QiaoError('QIAO_TEAM_NOT_FOUND');
  return r.t;
}

export class OrgRepo {
  constructor(
    private readonly db: Db,
    private readonly archive: ArchiveRepo,
  ) {}

  // -------------------------------------------------------------------------------------------
  // Organisation

  async listOrg(firmId: string): Promise<Array<BranchView & { teams: TeamView[] }>> {
    const bs = await this.db.select().from(branches).where(eq(branches.firmId, firmId)).orderBy(asc(branches.code));
    const ts = await this.db
      .select({ t: teams })
      .from(teams)
      .innerJoin(branches, eq(branches.id, teams.branchId))
      .where(eq(branches.firmId, firmId))
      .orderBy(asc(teams.code));
    return bs.map((b) => ({ ...branchView(b), teams: ts.filter((x) => x.t.branchId === b.id).map((x) => teamView(x.t)) }));
  }

  async createBranch(actor: Principal, input: { code: string; name: string }): Promise<BranchView> {
    try {
      return await this.db.transaction(async (tx) => {
        const [b] = await tx.insert(branches).values({ firmId: actor.firmId!, code: input.code, name: input.name }).returning();
        await recordChange(this.archive, tx, actor, 'org.branch.create', b.id, [b.id], { before: null, after: { code: b.code, name: b.name } });
        return branchView(b);
      });
    } catch (e) {
      if (isUniqueViolation(e)) throw new QiaoError('QIAO_CODE_TAKEN');
      throw e;
    }
  }

  /** Renames a branch and/or names its head (an active manager of this branch, or null). */
  async updateBranch(actor: Principal, id: string, patch: { name?: string; headId?: string | null }): Promise<BranchView> {
    return this.db.transaction(async (tx) => {
      const b = await branchFor(tx, actor.firmId!, id, true);
      if (b.closedAt) throw new QiaoError('QIAO_BRANCH_CLOSED');
      const set: Partial<BranchRow> = {};
      if (patch.name !== undefined) set.name = patch.name;
      if (patch.headId !== undefined) {
        if (patch.headId !== null) {
          const m = isUuid(patch.headId) ? (await tx.select().from(users).where(eq(users.id, patch.headId)))[0] : undefined;
          if (!m || m.firmId !== actor.firmId) throw new QiaoError('QIAO_USER_NOT_FOUND');
          if (m.role !== 'manager' || !m.active || m.branchId !== id) throw new QiaoError('QIAO_USER_INVALID', 'A branch head must be an active manager of the branch');
        }
        set.headId = patch.headId;
      }
      const d = diff({ name: b.name, headId: b.headId }, { name: set.name, headId: set.headId });
      if (!Object.keys(d.after).length) return branchView(b);
      const [after] = await tx.update(branches).set(set).where(eq(branches.id, id)).returning();
      const action = d.after.headId !== undefined && d.after.name === undefined ? 'org.branch.head' : 'org.branch.rename';
      await recordChange(this.archive, tx, actor, action, id, [id, ...(after.headId ? [after.headId] : []), ...(b.headId ? [b.headId] : [])], d);
      return branchView(after);
    });
  }

  async closeBranch(actor: Principal, id: string): Promise<BranchView> {
    return this.db.transaction(async (tx) => {
      const b = await branchFor(tx, actor.firmId!, id, true);
      if (b.closedAt) throw new QiaoError('QIAO_BRANCH_CLOSED');
      const [{ n: openTeams }] = await tx.select({ n: sql<number>`count(*)::int` }).from(teams).where(and(eq(teams.branchId, id), isNull(teams.closedAt)));
      const [{ n: people }] = await tx.select({ n: sql<number>`count(*)::int` }).from(users).where(and(eq(users.branchId, id), eq(users.active, true)));
      if (openTeams > 0 || people > 0) throw new QiaoError('QIAO_ORG_NOT_EMPTY', undefined, { openTeams, activeUsers: people });
      const [after] = await tx.update(branches).set({ closedAt: new Date() }).where(eq(branches.id, id)).returning();
      await recordChange(this.archive, tx, actor, 'org.branch.close', id, [id], { before: { closedAt: null }, after: { closedAt: iso(after.closedAt) } });
      return branchView(after);
    });
  }

  async createTeam(actor: Principal, input: { branchId: string; code: string; name: string }): Promise<TeamView> {
    try {
      return await this.db.transaction(async (tx) => {
        const b = await branchFor(tx, actor.firmId!, input.branchId, true);
        if (b.closedAt) throw new QiaoError('QIAO_BRANCH_CLOSED');
        const [t] = await tx.insert(teams).values({ branchId: b.id, code: input.code, name: input.name }).returning();
        await recordChange(this.archive, tx, actor, 'org.team.create', t.id, [t.id, b.id], { before: null, after: { code: t.code, name: t.name, branchId: b.id } });
        return teamView(t);
      });
    } catch (e) {
      if (isUniqueViolation(e)) throw new QiaoError('QIAO_CODE_TAKEN');
      throw e;
    }
  }

  /**
   * Renames a team, moves it to another branch (its members' branch follows), or names its manager
   * (an active manager of this team, or null). Returns the team and the users whose branch moved.
   */
  async updateTeam(actor: Principal, id: string, patch: { name?: string; branchId?: string; managerId?: string | null }): Promise<{ team: TeamView; movedUsers: string[] }> {
    return this.db.transaction(async (tx) => {
      const t = await teamFor(tx, actor.firmId!, id, true);
      if (t.closedAt) throw new QiaoError('QIAO_TEAM_CLOSED');
      const set: Partial<TeamRow> = {};
      if (patch.name !== undefined) set.name = patch.name;
      let movedUsers: string[] = [];
      if (patch.branchId !== undefined && patch.branchId !== t.branchId) {
        const b = await branchFor(tx, actor.firmId!, patch.branchId, true);
        if (b.closedAt) throw new QiaoError('QIAO_BRANCH_CLOSED');
        set.branchId = b.id;
        movedUsers = (await tx.update(users).set({ branchId: b.id }).where(eq(users.teamId, id)).returning({ id: users.id })).map((u) => u.id);
      }
      if (patch.managerId !== undefined) {
        if (patch.managerId !== null) {
          const m = isUuid(patch.managerId) ? (await tx.select().from(users).where(eq(users.id, patch.managerId)))[0] : undefined;
          if (!m || m.firmId !== actor.firmId) throw new QiaoError('QIAO_USER_NOT_FOUND');
          if (m.role !== 'manager' || !m.active || m.teamId !== id) throw new QiaoError('QIAO_USER_INVALID', 'A team’s manager must be an active manager who is a member of the team');
        }
        set.managerId = patch.managerId;
      }
      const [after] = Object.keys(set).length ? await tx.update(teams).set(set).where(eq(teams.id, id)).returning() : [t];
      const d = diff({ name: t.name, branchId: t.branchId, managerId: t.managerId }, { name: after.name, branchId: after.branchId, managerId: after.managerId });
      if (Object.keys(d.after).length) {
        const action = d.after.branchId !== undefined ? 'org.team.move' : d.after.managerId !== undefined && d.after.name === undefined ? 'org.team.manager' : 'org.team.update';
        await recordChange(this.archive, tx, actor, action, id, [id, t.branchId, ...(after.branchId !== t.branchId ? [after.branchId] : [])], { ...d, movedUsers });
      }
      return { team: teamView(after), movedUsers };
    });
  }

  async closeTeam(actor: Principal, id: string): Promise<TeamView> {
    return this.db.transaction(async (tx) => {
      const t = await teamFor(tx, actor.firmId!, id, true);
      if (t.closedAt) throw new QiaoError('QIAO_TEAM_CLOSED');
      const [{ n: people }] = await tx.select({ n: sql<number>`count(*)::int` }).from(users).where(and(eq(users.teamId, id), eq(users.active, true)));
      if (people > 0) throw new QiaoError('QIAO_ORG_NOT_EMPTY', undefined, { activeUsers: people });
      const [after] = await tx.update(teams).set({ closedAt: new Date(), managerId: null }).where(eq(teams.id, id)).returning();
      await recordChange(this.archive, tx, actor, 'org.team.close', id, [id, t.branchId], { before: { closedAt: null, managerId: t.managerId }, after: { closedAt: iso(after.closedAt), managerId: null } });
      return teamView(after);
    });
  }
}
