/**
 * Who may see and handle a complaint (投诉). Read from the database on every request, not from the
 * token, so a service-desk flag, a branch head or a team change made by an admin applies at once.
 *
 * - the client sees their own (client-visible events and the reply only);
 * - compliance and admin see every complaint of the firm (read; they may add internal notes);
 * - the branch's service desk (客服), its head (营业部负责人) and its managers see and handle the
 *   branch's complaints, EXCEPT that nobody sees a complaint about themselves unless it is assigned
 *   to them;
 * - the assignee (e.g. the broker it is about, once a manager assigned it) sees and handles it.
 */
import { and, eq, or, sql, type SQL } from 'drizzle-orm';
import type { Principal } from '../auth/principal.ts';
import { QiaoError } from '../errors/codes.ts';
import type { Db } from '../store/db.ts';
import { branches, complaints, users } from '../store/schema/index.ts';

export type ComplaintRow = typeof complaints.$inferSelect;

export interface ComplaintActor {
  p: Principal;
  id: string;
  firmId: string;
  role: Principal['role'];
  /** Branches whose complaints this person handles (service desk, head, manager of the branch). */
  handlesBranches: string[];
}

/** The caller as complaints see them: their branch duties from the database. */
export async function loadActor(db: Db, p: Principal): Promise<ComplaintActor> {
  if (p.role === 'feed') throw new QiaoError('QIAO_COMPLAINT_FORBIDDEN');
  const [u] = await db
    .select({ firmId: users.firmId, role: users.role, branchId: users.branchId, serviceDesk: users.serviceDesk, active: users.active })
    .from(users)
    .where(eq(users.id, p.id));
  if (!u || !u.active) throw new QiaoError('QIAO_COMPLAINT_FORBIDDEN');
  const handles = new Set<string>();
  if (u.branchId && u.role !== 'client' && (u.serviceDesk || u.role === 'manager')) handles.add(u.branchId);
  if (u.role !== 'client') {
    for (const b of await db.select({ id: branches.id }).from(branches).where(eq(branches.headId, p.id))) handles.add(b.id);
  }
  return { p, id: p.id, firmId: u.firmId, role: u.role, handlesBranches: [...handles] };
}

export const isOversight = (a: ComplaintActor): boolean => a.role === 'compliance' || a.role === 'admin';

/** About this person and not assigned to them: hidden from them whatever their branch duties. */
const aboutSelf = (a: ComplaintActor, c: Pick<ComplaintRow, 'brokerId' | 'assigneeId'>) => c.brokerId === a.id && c.assigneeId !== a.id;

/** Sees it as staff handling the branch or as its assignee. */
export function handles(a: ComplaintActor, c: ComplaintRow): boolean {
  if (c.assigneeId === a.id) return true;
  if (aboutSelf(a, c)) return false;
  return c.branchId !== null && a.handlesBranches.includes(c.branchId);
}

/** Branch staff who may assign it (not the assignee as such: a broker does not hand a complaint on). */
export function mayAssign(a: ComplaintActor, c: ComplaintRow): boolean {
  return !aboutSelf(a, c) && c.branchId !== null && a.handlesBranches.includes(c.branchId);
}

export type Sight = 'client' | 'oversight' | 'handler';

/** How the caller sees this complaint, or QIAO_COMPLAINT_FORBIDDEN. */
export function sightOf(a: ComplaintActor, c: ComplaintRow): Sight {
  if (c.firmId !== a.firmId) throw new QiaoError('QIAO_COMPLAINT_NOT_FOUND');
  if (a.role === 'client') {
    if (c.clientId === a.id) return 'client';
    throw new QiaoError('QIAO_COMPLAINT_FORBIDDEN');
  }
  if (handles(a, c)) return 'handler';
  if (isOversight(a)) return 'oversight';
  throw new QiaoError('QIAO_COMPLAINT_FORBIDDEN');
}

/** The same rule as `sightOf`, as a WHERE condition for lists. */
export function visibleWhere(a: ComplaintActor): SQL {
  if (a.role === 'client') return eq(complaints.clientId, a.id);
  if (isOversight(a)) return eq(complaints.firmId, a.firmId);
  const branchCond = a.handlesBranches.length
    ? and(
        sql`${complaints.branchId} in (${sql.join(
          a.handlesBranches.map((b) => sql`${b}::uuid`),
          sql`, `,
        )})`,
        sql`${complaints.brokerId} is distinct from ${a.id}::uuid`,
      )
    : sql`false`;
  return or(eq(complaints.assigneeId, a.id), branchCond)!;
}
