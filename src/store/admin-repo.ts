/**
 * Firm administration of people: users of every role and client profiles (the organisation itself,
 * branches and teams, is in org-repo.ts). Every change is one transaction with its audit event and
 * its archive record (who, when, old → new); callers then tell the nodes (SessionGuard.changed) so
 * tokens, sockets and entitlements follow at once.
 */
import { and, asc, eq, inArray, ne, sql } from 'drizzle-orm';
import { hashPassword } from '../auth/password.ts';
import { assertPasswordPolicy } from '../auth/password-policy.ts';
import { ROLES, type Principal, type Role } from '../auth/principal.ts';
import { QiaoError } from '../errors/codes.ts';
import type { ArchiveRepo, Executor } from './archive-repo.ts';
import { isUuid } from './conversations-repo.ts';
import { diff, iso, isUniqueViolation, recordChange } from './admin-record.ts';
import { branchFor, teamFor } from './org-repo.ts';
import type { Db } from './db.ts';
import { branches, deliveries, teams, totpRecoveryCodes, userTotp, users } from './schema/index.ts';
import { toPublicUser, type PublicUser, type UserRow } from './users-repo.ts';

type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];
export interface AdminUserView extends PublicUser {
  email: string | null;
  phone: string | null;
  active: boolean;
  disabledAt: string | null;
  riskExpiresOn: string | null;
  passwordChangedAt: string | null;
  /** Staff of the branch's client service desk (客服): complaints go to them. */
  serviceDesk: boolean;
  createdAt: string;
}

export function adminUserView(u: UserRow): AdminUserView {
  return {
    ...toPublicUser(u),
    email: u.email,
    phone: u.phone,
    active: u.active,
    disabledAt: iso(u.disabledAt),
    riskExpiresOn: u.riskExpiresOn,
    passwordChangedAt: iso(u.passwordChangedAt),
    serviceDesk: u.serviceDesk,
    createdAt: u.createdAt.toISOString(),
  };
}

/** Roles that belong to a team (a broker's clients, a manager's team). */
const TEAM_ROLES: ReadonlySet<Role> = new Set(['broker', 'manager']);

export interface NewUser {
  login: string;
  password: string;
  displayName: string;
  role: string;
  teamId?: string | null;
  branchId?: string | null;
  email?: string | null;
  phone?: string | null;
  tier?: 'general' | 'hnw' | 'institutional' | null;
  riskLevel?: 'C1' | 'C2' | 'C3' | 'C4' | 'C5' | null;
  riskAssessedOn?: string | null;
  riskExpiresOn?: string | null;
  professionalInvestor?: boolean;
  locale?: string;
  timeZone?: string;
  serviceDesk?: boolean;
}

export interface UserPatch {
  displayName?: string;
  email?: string | null;
  phone?: string | null;
  role?: string;
  teamId?: string | null;
  branchId?: string | null;
  locale?: string;
  timeZone?: string;
  serviceDesk?: boolean;
}

export interface ClientProfilePatch {
  tier?: 'general' | 'hnw' | 'institutional';
  riskLevel?: 'C1' | 'C2' | 'C3' | 'C4' | 'C5' | null;
  riskAssessedOn?: string | null;
  riskExpiresOn?: string | null;
  professionalInvestor?: boolean;
}

export interface ClientProfile {
  clientId: string;
  tier: 'general' | 'hnw' | 'institutional';
  riskLevel: string | null;
  riskAssessedOn: string | null;
  riskExpiresOn: string | null;
  professionalInvestor: boolean;
}

export const clientProfile = (u: UserRow): ClientProfile => ({
  clientId: u.id,
  tier: u.tier ?? 'general',
  riskLevel: u.riskLevel,
  riskAssessedOn: u.riskAssessedOn,
  riskExpiresOn: u.riskExpiresOn,
  professionalInvestor: u.professionalInvestor,
});

/** What changed: only the fields whose value differs. */

export class AdminRepo {
  constructor(
    private readonly db: Db,
    private readonly archive: ArchiveRepo,
  ) {}


  // -------------------------------------------------------------------------------------------
  // Users

  async getUser(firmId: string, id: string): Promise<UserRow> {
    if (!isUuid(id)) throw new QiaoError('QIAO_USER_NOT_FOUND');
    const [u] = await this.db.select().from(users).where(and(eq(users.id, id), eq(users.firmId, firmId)));
    if (!u) throw new QiaoError('QIAO_USER_NOT_FOUND');
    return u;
  }

  async listUsers(firmId: string, f: { role?: string; teamId?: string; active?: boolean; q?: string; limit: number; cursor?: string }): Promise<{ users: AdminUserView[]; nextCursor: string | null }> {
    const conds = [eq(users.firmId, firmId)];
    if (f.role) conds.push(eq(users.role, f.role as Role));
    if (f.teamId) conds.push(eq(users.teamId, f.teamId));
    if (f.active !== undefined) conds.push(eq(users.active, f.active));
    if (f.q) {
      const like = `%${f.q.replace(/[\\%_]/g, (c) => '\\' + c)}%`;
      conds.push(sql`(${users.login} ilike ${like} or ${users.displayName} ilike ${like})`);
    }
    if (f.cursor) conds.push(sql`${users.login} > ${f.cursor}`);
    const rows = await this.db.select().from(users).where(and(...conds)).orderBy(asc(users.login)).limit(f.limit + 1);
    const more = rows.length > f.limit;
    const page = rows.slice(0, f.limit);
    return { users: page.map(adminUserView), nextCursor: more ? page[page.length - 1].login : null };
  }

  /** Team (open, of the firm) → its branch; or a branch alone (open). */
  private async placement(tx: Executor, firmId: string, teamId: string | null | undefined, branchId: string | null | undefined): Promise<{ teamId: string | null; branchId: string | null }> {
    if (teamId) {
      const t = await teamFor(tx, firmId, teamId);
      if (t.closedAt) throw new QiaoError('QIAO_TEAM_CLOSED');
      if (branchId && branchId !== t.branchId) throw new QiaoError('QIAO_USER_INVALID', 'branchId must be the team’s branch (or be left out)');
      return { teamId: t.id, branchId: t.branchId };
    }
    if (branchId) {
      const b = await branchFor(tx, firmId, branchId);
      if (b.closedAt) throw new QiaoError('QIAO_BRANCH_CLOSED');
      return { teamId: null, branchId: b.id };
    }
    return { teamId: null, branchId: null };
  }

  async createUser(actor: Principal, input: NewUser): Promise<AdminUserView> {
    if (!(ROLES as readonly string[]).includes(input.role)) throw new QiaoError('QIAO_ROLE_INVALID');
    const role = input.role as Role;
    const isClient = role === 'client';
    if (isClient && !input.tier) throw new QiaoError('QIAO_USER_INVALID', 'A client needs a tier');
    if (!isClient && (input.tier || input.riskLevel || input.riskAssessedOn || input.riskExpiresOn || input.professionalInvestor))
      throw new QiaoError('QIAO_USER_INVALID', 'Tier, risk level and the professional flag are for clients only');
    if (TEAM_ROLES.has(role) && !input.teamId) throw new QiaoError('QIAO_USER_INVALID', 'Brokers and managers belong to a team');
    if (isClient && input.serviceDesk) throw new QiaoError('QIAO_USER_INVALID', 'The service desk (客服) flag is for staff only');
    assertPasswordPolicy(input.password, input.login);
    const passwordHash = await hashPassword(input.password);
    try {
      return await this.db.transaction(async (tx) => {
        const [dup] = await tx.select({ id: users.id }).from(users).where(sql`lower(${users.login}) = lower(${input.login})`);
        if (dup) throw new QiaoError('QIAO_LOGIN_TAKEN');
        const place = await this.placement(tx, actor.firmId!, input.teamId, input.branchId);
        const [u] = await tx
          .insert(users)
          .values({
            firmId: actor.firmId!,
            login: input.login,
            passwordHash,
            displayName: input.displayName,
            email: input.email ?? null,
            phone: input.phone ?? null,
            role,
            ...place,
            tier: isClient ? input.tier! : null,
            riskLevel: isClient ? (input.riskLevel ?? null) : null,
            riskAssessedOn: isClient ? (input.riskAssessedOn ?? null) : null,
            riskExpiresOn: isClient ? (input.riskExpiresOn ?? null) : null,
            professionalInvestor: isClient ? (input.professionalInvestor ?? false) : false,
            serviceDesk: input.serviceDesk ?? false,
            ...(input.locale ? { locale: input.locale } : {}),
            ...(input.timeZone ? { timeZone: input.timeZone } : {}),
          })
          .returning();
        const after = adminUserView(u);
        await recordChange(this.archive, tx, actor, 'user.create', u.id, [u.id], { before: null, after }, isClient ? 'suitability' : 'compliance-activity');
        return after;
      });
    } catch (e) {
      if (isUniqueViolation(e)) throw new QiaoError('QIAO_LOGIN_TAKEN');
      throw e;
    }
  }

  /** Profile, role and team changes. `revoke`: the role changed, so the user's tokens end. */
  async updateUser(actor: Principal, id: string, patch: UserPatch): Promise<{ user: AdminUserView; revoke: boolean }> {
    if (patch.role !== undefined && !(ROLES as readonly string[]).includes(patch.role)) throw new QiaoError('QIAO_ROLE_INVALID');
    return this.db.transaction(async (tx) => {
      const u = await this.getUserTx(tx, actor.firmId!, id, true);
      const role = (patch.role ?? u.role) as Role;
      if ((role === 'client') !== (u.role === 'client')) throw new QiaoError('QIAO_ROLE_INVALID');
      const set: Partial<UserRow> = {};
      if (patch.displayName !== undefined) set.displayName = patch.displayName;
      if (patch.email !== undefined) set.email = patch.email;
      if (patch.phone !== undefined) set.phone = patch.phone;
      if (patch.locale !== undefined) set.locale = patch.locale;
      if (patch.timeZone !== undefined) set.timeZone = patch.timeZone;
      if (patch.role !== undefined) set.role = role;
      if (patch.serviceDesk !== undefined) {
        if (role === 'client' && patch.serviceDesk) throw new QiaoError('QIAO_USER_INVALID', 'The service desk (客服) flag is for staff only');
        set.serviceDesk = patch.serviceDesk;
      }
      if (patch.teamId !== undefined || patch.branchId !== undefined) {
        const teamId = patch.teamId !== undefined ? patch.teamId : patch.branchId !== undefined ? null : u.teamId;
        const branchId = patch.branchId !== undefined ? patch.branchId : null;
        Object.assign(set, await this.placement(tx, actor.firmId!, teamId, branchId));
      }
      const teamAfter = set.teamId !== undefined ? set.teamId : u.teamId;
      if (TEAM_ROLES.has(role) && !teamAfter) throw new QiaoError('QIAO_USER_INVALID', 'Brokers and managers belong to a team');
      const d = diff(
        { displayName: u.displayName, email: u.email, phone: u.phone, locale: u.locale, timeZone: u.timeZone, role: u.role, teamId: u.teamId, branchId: u.branchId, serviceDesk: u.serviceDesk } as Record<string, unknown>,
        set as Record<string, unknown>,
      );
      if (!Object.keys(d.after).length) return { user: adminUserView(u), revoke: false };
      // A new role ends the sessions (the client shows another workspace); a team or branch move keeps
      // them: every node re-authorises the user's subscriptions with the new team.
      const revoke = 'role' in d.after;
      if (revoke) set.sessionVersion = u.sessionVersion + 1;
      const [after] = await tx.update(users).set(set).where(eq(users.id, id)).returning();
      // A manager who leaves the team (or the role) no longer leads it.
      if (u.role === 'manager' && (after.role !== 'manager' || after.teamId !== u.teamId)) await tx.update(teams).set({ managerId: null }).where(eq(teams.managerId, id));
      const action = 'role' in d.after ? 'user.role' : 'teamId' in d.after || 'branchId' in d.after ? 'user.team' : 'serviceDesk' in d.after ? 'user.service-desk' : 'user.profile';
      await recordChange(this.archive, tx, actor, action, id, [id], { ...d, sessionsEnded: revoke });
      return { user: adminUserView(after), revoke };
    });
  }

  private async getUserTx(tx: Executor, firmId: string, id: string, lock = false): Promise<UserRow> {
    if (!isUuid(id)) throw new QiaoError('QIAO_USER_NOT_FOUND');
    const q = tx.select().from(users).where(and(eq(users.id, id), eq(users.firmId, firmId)));
    const [u] = lock ? await q.for('update') : await q;
    if (!u) throw new QiaoError('QIAO_USER_NOT_FOUND');
    return u;
  }

  /** Disable (ends every session) or re-enable. Disabling oneself is refused. */
  async setActive(actor: Principal, id: string, active: boolean): Promise<AdminUserView> {
    if (!active && id === actor.id) throw new QiaoError('QIAO_FORBIDDEN', 'You cannot disable your own account');
    return this.db.transaction(async (tx) => {
      const u = await this.getUserTx(tx, actor.firmId!, id, true);
      if (u.active === active) return adminUserView(u);
      if (active && u.teamId) {
        const [t] = await tx.select().from(teams).where(eq(teams.id, u.teamId));
        if (t?.closedAt) throw new QiaoError('QIAO_TEAM_CLOSED', 'The user’s team is closed; move the user to an open team first');
      }
      const [after] = await tx
        .update(users)
        .set(active ? { active: true, disabledAt: null } : { active: false, disabledAt: new Date(), sessionVersion: u.sessionVersion + 1 })
        .where(eq(users.id, id))
        .returning();
      // A leaver gets nothing more: deliveries still waiting to go out by email, push or SMS stop here
      // (in-app inbox rows stay, they are records). Workers skip suppressed rows; escalation skips the disabled.
      const stopped = active
        ? []
        : await tx
            .update(deliveries)
            .set({ status: 'suppressed', reason: 'account_disabled', updatedAt: sql`now()` })
            .where(and(eq(deliveries.userId, id), inArray(deliveries.status, ['queued', 'held', 'failed']), ne(deliveries.transport, 'inbox')))
            .returning({ id: deliveries.id });
      await recordChange(this.archive, tx, actor, active ? 'user.enable' : 'user.disable', id, [id], {
        before: { active: u.active },
        after: active ? { active } : { active, deliveriesStopped: stopped.length },
      });
      return adminUserView(after);
    });
  }

  /** Bumps the session version: every token of the user stops working. `action` names why. */
  async bumpSession(actor: Principal, id: string, action: 'user.sign-out' | 'auth.logout' | 'auth.totp-enable' | 'auth.totp-disable', ip?: string): Promise<number> {
    return this.db.transaction(async (tx) => {
      const [r] = await tx
        .update(users)
        .set({ sessionVersion: sql`${users.sessionVersion} + 1` })
        .where(isUuid(id) ? and(eq(users.id, id), eq(users.firmId, actor.firmId!)) : sql`false`)
        .returning({ sv: users.sessionVersion });
      if (!r) throw new QiaoError('QIAO_USER_NOT_FOUND');
      await recordChange(this.archive, tx, actor, action, id, [id], { before: { sessionVersion: r.sv - 1 }, after: { sessionVersion: r.sv } }, 'compliance-activity', ip);
      return r.sv;
    });
  }

  /**
   * Admin reset of a user's TOTP factor (e.g. a lost phone): removes the secret and recovery codes and
   * ends the user's sessions; a role that requires TOTP must enrol again at its next login.
   */
  async resetTotp(actor: Principal, id: string, ip?: string): Promise<UserRow> {
    return this.db.transaction(async (tx) => {
      const [after] = await tx
        .update(users)
        .set({ sessionVersion: sql`${users.sessionVersion} + 1` })
        .where(isUuid(id) ? and(eq(users.id, id), eq(users.firmId, actor.firmId!)) : sql`false`)
        .returning();
      if (!after) throw new QiaoError('QIAO_USER_NOT_FOUND');
      await tx.delete(totpRecoveryCodes).where(eq(totpRecoveryCodes.userId, id));
      const gone = await tx.delete(userTotp).where(eq(userTotp.userId, id)).returning({ enabledAt: userTotp.enabledAt });
      const wasEnrolled = gone.some((g) => g.enabledAt !== null);
      await recordChange(this.archive, tx, actor, 'user.totp-reset', id, [id], { before: { totpEnrolled: wasEnrolled, sessionVersion: after.sessionVersion - 1 }, after: { totpEnrolled: false, sessionVersion: after.sessionVersion } }, 'compliance-activity', ip);
      return after;
    });
  }

  /** Sets a new password (already checked against the policy) and ends every earlier session. */
  async setPassword(actor: Principal, id: string, password: string, action: 'auth.password' | 'user.password-reset', ip?: string): Promise<UserRow> {
    const passwordHash = await hashPassword(password);
    return this.db.transaction(async (tx) => {
      const [after] = await tx
        .update(users)
        .set({ passwordHash, passwordChangedAt: new Date(), sessionVersion: sql`${users.sessionVersion} + 1` })
        .where(isUuid(id) ? and(eq(users.id, id), eq(users.firmId, actor.firmId!)) : sql`false`)
        .returning();
      if (!after) throw new QiaoError('QIAO_USER_NOT_FOUND');
      // The password itself is never recorded, only that it changed.
      await recordChange(this.archive, tx, actor, action, id, [id], { before: { sessionVersion: after.sessionVersion - 1 }, after: { sessionVersion: after.sessionVersion, passwordChanged: true } }, 'compliance-activity', ip);
      return after;
    });
  }

  // -------------------------------------------------------------------------------------------
  // Client profile

  async getClient(firmId: string, id: string): Promise<UserRow> {
    const u = await this.getUser(firmId, id);
    if (u.role !== 'client') throw new QiaoError('QIAO_NOT_A_CLIENT');
    return u;
  }

  async updateClientProfile(actor: Principal, id: string, patch: ClientProfilePatch): Promise<{ profile: ClientProfile; tierChanged: boolean }> {
    return this.db.transaction(async (tx) => {
      const u = await this.getUserTx(tx, actor.firmId!, id, true);
      if (u.role !== 'client') throw new QiaoError('QIAO_NOT_A_CLIENT');
      const before = clientProfile(u);
      const next = { ...before, ...Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined)) } as ClientProfile;
      // A new risk level without a date is assessed today (Asia/Shanghai).
      if (patch.riskLevel !== undefined && patch.riskLevel !== before.riskLevel && patch.riskAssessedOn === undefined && patch.riskLevel !== null) {
        next.riskAssessedOn = new Date(Date.now() + 8 * 3600_000).toISOString().slice(0, 10);
        if (patch.riskExpiresOn === undefined) next.riskExpiresOn = null;
      }
      if (next.riskExpiresOn && next.riskAssessedOn && next.riskExpiresOn <= next.riskAssessedOn)
        throw new QiaoError('QIAO_BAD_REQUEST', 'riskExpiresOn must be after riskAssessedOn');
      const d = diff(before as unknown as Record<string, unknown>, next as unknown as Record<string, unknown>);
      if (!Object.keys(d.after).length) return { profile: before, tierChanged: false };
      const [after] = await tx
        .update(users)
        .set({ tier: next.tier, riskLevel: next.riskLevel as UserRow['riskLevel'], riskAssessedOn: next.riskAssessedOn, riskExpiresOn: next.riskExpiresOn, professionalInvestor: next.professionalInvestor })
        .where(eq(users.id, id))
        .returning();
      await recordChange(this.archive, tx, actor, 'client.profile', id, [id], d, 'suitability');
      return { profile: clientProfile(after), tierChanged: 'tier' in d.after };
    });
  }

  /** Ids of the active users of a team other than `except` (for signals after a team move). */
  async teamMembers(teamId: string, except?: string): Promise<string[]> {
    const r = await this.db
      .select({ id: users.id })
      .from(users)
      .where(and(eq(users.teamId, teamId), except ? ne(users.id, except) : sql`true`));
    return r.map((x) => x.id);
  }
}
