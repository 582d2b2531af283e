/**
 * Who sees and does which follow-ups (客户回访), and who is given a new one.
 *
 * Seeing (like conversations): a broker the follow-ups assigned to it; a manager also those of the
 * teams it leads; a branch head (branches.head_id) those of its branch; service-desk staff
 * (users.service_desk) also the independent ones of their branch, which they may take over;
 * compliance and admin all of the firm.
 *
 * Assigning: an independent follow-up goes to the least-loaded service-desk member of the client's
 * branch, else the branch head, else the manager of the broker's team — never the client's broker.
 */
import { sql, type SQL } from 'drizzle-orm';
import type { Principal } from '../auth/principal.ts';
import type { Executor } from '../store/archive-repo.ts';
import { rows } from '../store/db.ts';

export interface StaffScope {
  id: string;
  role: Principal['role'];
  firmId: string;
  ledTeamIds: string[];
  headOfBranchIds: string[];
  /** The branch of a service-desk member (null otherwise). */
  deskBranchId: string | null;
}

/** The client's primary broker, its team and branch (the branch falls back to the client's own). */
export interface ClientFacts {
  clientId: string;
  clientName: string;
  firmId: string;
  active: boolean;
  brokerId: string | null;
  teamId: string | null;
  branchId: string | null;
  teamManagerId: string | null;
  branchHeadId: string | null;
}

const isUuid = (s: string) => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(s);

export async function staffScope(db: Executor, p: Principal): Promise<StaffScope> {
  const base: StaffScope = { id: p.id, role: p.role, firmId: p.firmId ?? '', ledTeamIds: [], headOfBranchIds: [], deskBranchId: null };
  if (!isUuid(p.id) || p.role === 'client' || p.role === 'feed') return base;
  const [r] = await rows<{ led: string[] | null; heads: string[] | null; desk: string | null }>(
    db,
    sql`select
          (select array_agg(id::text) from teams where manager_id = ${p.id}) as led,
          (select array_agg(id::text) from branches where head_id = ${p.id}) as heads,
          (select branch_id::text from users where id = ${p.id} and service_desk and active) as desk`,
  );
  return { ...base, ledTeamIds: r?.led ?? [], headOfBranchIds: r?.heads ?? [], deskBranchId: r?.desk ?? null };
}

export const seesAll = (s: StaffScope) => s.role === 'admin' || s.role === 'compliance';

const uuidArray = (ids: string[]) => sql`${`{${ids.join(',')}}`}::uuid[]`;

/** SQL condition on a `followups` row alias `f`: the follow-ups this viewer sees. */
export function visibleSql(s: StaffScope, which?: 'mine' | 'team' | 'branch'): SQL {
  const mine = sql`f.assignee_id = ${s.id}`;
  const team = s.ledTeamIds.length ? sql`f.team_id = any(${uuidArray(s.ledTeamIds)})` : sql`false`;
  const branchIds = [...s.headOfBranchIds];
  const branch = branchIds.length ? sql`f.branch_id = any(${uuidArray(branchIds)})` : sql`false`;
  const desk = s.deskBranchId ? sql`(f.independent and f.branch_id = ${s.deskBranchId})` : sql`false`;
  const firm = sql`f.firm_id = ${s.firmId}`;
  if (which === 'mine') return sql`(${firm} and ${mine})`;
  if (which === 'team') return sql`(${firm} and ${team})`;
  if (which === 'branch') return seesAll(s) ? firm : sql`(${firm} and (${branch} or ${desk}))`;
  if (seesAll(s)) return firm;
  return sql`(${firm} and (${mine} or ${team} or ${branch} or ${desk}))`;
}

export async function clientFacts(db: Executor, clientId: string): Promise<ClientFacts | null> {
  if (!isUuid(clientId)) return null;
  const [r] = await rows<Record<string, unknown>>(
    db,
    sql`select c.id, c.display_name, c.firm_id, c.active, b.id as broker_id, b.team_id, coalesce(b.branch_id, c.branch_id) as branch_id,
               t.manager_id as team_manager_id, br.head_id as branch_head_id
          from users c
          left join broker_clients bc on bc.client_id = c.id and bc.relation = 'primary'
          left join users b on b.id = bc.broker_id
          left join teams t on t.id = b.team_id
          left join branches br on br.id = coalesce(b.branch_id, c.branch_id)
         where c.id = ${clientId} and c.role = 'client'`,
  );
  if (!r) return null;
  const s = (v: unknown) => (v == null ? null : String(v));
  return {
    clientId: String(r.id),
    clientName: String(r.display_name),
    firmId: String(r.firm_id),
    active: r.active === true,
    brokerId: s(r.broker_id),
    teamId: s(r.team_id),
    branchId: s(r.branch_id),
    teamManagerId: s(r.team_manager_id),
    branchHeadId: s(r.branch_head_id),
  };
}

/**
 * Picks assignees for independent follow-ups, one branch at a time: the service desk's open loads
 * are read once and counted up as follow-ups are handed out (round-robin by least load).
 */
export class AssigneePicker {
  private desks = new Map<string, Array<{ id: string; load: number }>>();

  constructor(private readonly db: Executor) {}

  async pick(f: { branchId: string | null; brokerId: string | null; teamManagerId: string | null; branchHeadId: string | null }): Promise<string | null> {
    if (f.branchId) {
      const desk = (await this.deskOf(f.branchId)).filter((d) => d.id !== f.brokerId);
      if (desk.length) {
        const best = desk.reduce((a, b) => (b.load < a.load || (b.load === a.load && b.id < a.id) ? b : a));
        best.load++;
        return best.id;
      }
    }
    if (f.branchHeadId && f.branchHeadId !== f.brokerId) return f.branchHeadId;
    if (f.teamManagerId && f.teamManagerId !== f.brokerId) return f.teamManagerId;
    return null;
  }

  private async deskOf(branchId: string): Promise<Array<{ id: string; load: number }>> {
    let d = this.desks.get(branchId);
    if (!d) {
      const r = await rows<{ id: string; load: number }>(
        this.db,
        sql`select u.id::text as id, (select count(*)::int from followups f where f.assignee_id = u.id and f.state = 'open') as load
              from users u where u.branch_id = ${branchId} and u.service_desk and u.active and u.role <> 'client'
             order by u.id`,
      );
      d = r.map((x) => ({ id: x.id, load: Number(x.load) }));
      this.desks.set(branchId, d);
    }
    return d;
  }
}
