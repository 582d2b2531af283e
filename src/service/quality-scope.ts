/**
 * Who may see whose service figures (the service-quality dashboards, docs/service.md):
 * - a broker: its own figures only ("我的服务");
 * - a manager: the teams it leads (`teams.manager_id`), their brokers; as a branch head
 *   (`branches.head_id`) also its branch, every team of it and their brokers;
 * - admin and compliance: the whole firm, any branch, team or broker of it;
 * - anyone else, or anything outside these: QIAO_SERVICE_SCOPE_FORBIDDEN (also for an id that does
 *   not exist, so the answer tells nothing about other firms' or teams' ids).
 * Scoping is by the organisation as it is now: a team's figures are those of the brokers now in it.
 */
import { sql } from 'drizzle-orm';
import type { Principal } from '../auth/principal.ts';
import { QiaoError } from '../errors/codes.ts';
import { isUuid } from '../store/conversations-repo.ts';
import { rows, type Db } from '../store/db.ts';

export const SCOPES = ['broker', 'team', 'branch', 'firm'] as const;
export type ScopeKind = (typeof SCOPES)[number];

export interface ScopeRef {
  kind: ScopeKind;
  /** Broker, team or branch id; the firm's id for `firm`. */
  id: string;
  name: string;
}

export interface TeamRef {
  id: string;
  code: string;
  name: string;
  branchId: string;
}

export interface BranchRef {
  id: string;
  code: string;
  name: string;
}

/** What a caller may view: the choices of the scope picker (GET /api/service/scopes). */
export interface ViewableScopes {
  /** The caller's own figures (brokers). */
  self: { id: string; displayName: string } | null;
  firm: { id: string; name: string } | null;
  branches: BranchRef[];
  teams: TeamRef[];
  /** What the dashboard opens with. */
  default: { scope: ScopeKind; id: string } | null;
}

const forbidden = (what: string) => new QiaoError('QIAO_SERVICE_SCOPE_FORBIDDEN', what);

export class QualityScopes {
  constructor(private readonly db: Db) {}

  async viewable(p: Pick<Principal, 'id' | 'role' | 'displayName' | 'firmId'>): Promise<ViewableScopes> {
    const none: ViewableScopes = { self: null, firm: null, branches: [], teams: [], default: null };
    if (!isUuid(p.id) || !p.firmId || !isUuid(p.firmId)) return none;
    if (p.role === 'broker') return { ...none, self: { id: p.id, displayName: p.displayName }, default: { scope: 'broker', id: p.id } };
    if (p.role !== 'manager' && p.role !== 'admin' && p.role !== 'compliance') return none;
    const whole = p.role !== 'manager';
    const branches = await rows<Record<string, unknown>>(
      this.db,
      sql`select id::text, code, name from branches where firm_id = ${p.firmId} and closed_at is null
            ${whole ? sql`` : sql`and head_id = ${p.id}`}
          order by code`,
    );
    const headOf = branches.map((b) => String(b.id));
    const teams = await rows<Record<string, unknown>>(
      this.db,
      sql`select t.id::text, t.code, t.name, t.branch_id::text as branch_id, t.manager_id = ${p.id} as led from teams t join branches b on b.id = t.branch_id
          where b.firm_id = ${p.firmId} and t.closed_at is null
            ${
              whole
                ? sql``
                : sql`and (t.manager_id = ${p.id} ${headOf.length ? sql`or t.branch_id in (${sql.join(headOf.map((b) => sql`${b}::uuid`), sql`, `)})` : sql``})`
            }
          order by t.code`,
    );
    let firm: ViewableScopes['firm'] = null;
    if (whole) {
      const [f] = await rows<{ name: string }>(this.db, sql`select name from firms where id = ${p.firmId}`);
      firm = f ? { id: p.firmId, name: String(f.name) } : null;
    }
    const out: ViewableScopes = {
      self: null,
      firm,
      branches: branches.map((b) => ({ id: String(b.id), code: String(b.code), name: String(b.name) })),
      teams: teams.map((t) => ({ id: String(t.id), code: String(t.code), name: String(t.name), branchId: String(t.branch_id) })),
      default: null,
    };
    // A manager opens on the first team it leads, else its branch; admin and compliance on the firm.
    const led = p.role === 'manager' ? teams.find((t) => t.led === true || t.led === 't') : undefined;
    out.default = firm
      ? { scope: 'firm', id: firm.id }
      : led
        ? { scope: 'team', id: String(led.id) }
        : out.branches[0]
          ? { scope: 'branch', id: out.branches[0].id }
          : null;
    return out;
  }

  /**
   * The scope the caller asked for, checked; throws QIAO_SERVICE_SCOPE_FORBIDDEN when it may not see
   * it. `id` may be left out for the caller's own figures (brokers) and for the firm.
   */
  async resolve(p: Pick<Principal, 'id' | 'role' | 'displayName' | 'firmId'>, kind: ScopeKind, id: string | undefined): Promise<ScopeRef> {
    const v = await this.viewable(p);
    if (!p.firmId) throw forbidden('No firm');
    switch (kind) {
      case 'firm':
        if (!v.firm || (id !== undefined && id !== v.firm.id)) throw forbidden('Only admin and compliance see the whole firm');
        return { kind, id: v.firm.id, name: v.firm.name };
      case 'branch': {
        const b = v.branches.find((x) => x.id === id);
        if (!b) throw forbidden('You may not see this branch');
        return { kind, id: b.id, name: b.name };
      }
      case 'team': {
        const t = v.teams.find((x) => x.id === id);
        if (!t) throw forbidden('You may not see this team');
        return { kind, id: t.id, name: t.name };
      }
      case 'broker': {
        const brokerId = id ?? v.self?.id;
        if (!brokerId || !isUuid(brokerId)) throw forbidden('You may not see this broker');
        if (v.self?.id === brokerId) return { kind, id: brokerId, name: v.self.displayName };
        const [b] = await rows<Record<string, unknown>>(
          this.db,
          sql`select display_name, team_id::text as team_id, branch_id::text as branch_id from users
              where id = ${brokerId} and role = 'broker' and firm_id = ${p.firmId}`,
        );
        const visible =
          b && (v.firm !== null || v.teams.some((t) => t.id === b.team_id) || v.branches.some((x) => x.id === b.branch_id));
        if (!visible) throw forbidden('You may not see this broker');
        return { kind, id: brokerId, name: String(b.display_name) };
      }
    }
  }
}
