/**
 * Client assignment changes (assign, transfer, share, unshare). Each runs in one transaction that
 * locks the client's row (so changes of one client are serialised), re-reads the facts, checks them
 * with the pure rule (src/domain/conversation-access.ts), changes the rows, and writes an audit event
 * and an archive record — so a change is either complete and recorded, or nothing happened.
 */
import { sql } from 'drizzle-orm';
import type { Principal } from '../auth/principal.ts';
import { checkAssignment, type AssignmentActor, type AssignmentFacts, type AssignmentOp, type BrokerRelation, type OrgUser } from '../domain/conversation-access.ts';
import { QiaoError } from '../errors/codes.ts';
import type { ArchiveRepo, Executor } from './archive-repo.ts';
import { isUuid } from './conversations-repo.ts';
import { rows, type Db } from './db.ts';
import { auditLog } from './schema/index.ts';

export interface AssignmentChange {
  op: AssignmentOp;
  clientId: string;
  brokerId: string;
  /** Primary broker before the change (transfer: the broker that loses the client). */
  previousPrimary: string | null;
  /** The named broker's relation before and after. */
  before: BrokerRelation | null;
  after: BrokerRelation | null;
}

export interface ClientBroker {
  brokerId: string;
  displayName: string;
  relation: BrokerRelation;
  teamId: string | null;
  branchId: string | null;
}

const bool = (v: unknown) => v === true || v === 't';

function orgUser(r: Record<string, unknown> | undefined): OrgUser | null {
  if (!r) return null;
  return { id: String(r.id), role: String(r.role), active: bool(r.active), branchId: (r.branch_id as string | null) ?? null, teamId: (r.team_id as string | null) ?? null };
}

export class AssignmentsRepo {
  constructor(
    private readonly db: Db,
    private readonly archive: ArchiveRepo,
  ) {}

  /** The teams and branches a user leads. */
  async actor(p: Pick<Principal, 'id' | 'role'>, tx: Executor = this.db): Promise<AssignmentActor> {
    if (!isUuid(p.id)) return { id: p.id, role: p.role, ledTeamIds: [], ledBranchIds: [] };
    const r = await rows<{ id: string; branch_id: string }>(tx, sql`select id, branch_id from teams where manager_id = ${p.id}`);
    return { id: p.id, role: p.role, ledTeamIds: r.map((x) => String(x.id)), ledBranchIds: [...new Set(r.map((x) => String(x.branch_id)))] };
  }

  async facts(clientId: string, brokerId: string, tx: Executor = this.db): Promise<AssignmentFacts> {
    const user = async (id: string) =>
      isUuid(id) ? orgUser((await rows<Record<string, unknown>>(tx, sql`select id, role, active, branch_id, team_id from users where id = ${id}`))[0]) : null;
    const client = await user(clientId);
    if (!client) return { client: null, primary: null, broker: null, brokerRelation: null };
    const [p] = await rows<{ broker_id: string }>(tx, sql`select broker_id from broker_clients where client_id = ${clientId} and relation = 'primary'`);
    const broker = await user(brokerId);
    const [rel] = broker
      ? await rows<{ relation: BrokerRelation }>(tx, sql`select relation from broker_clients where client_id = ${clientId} and broker_id = ${brokerId}`)
      : [];
    return { client, primary: p ? await user(String(p.broker_id)) : null, broker, brokerRelation: rel?.relation ?? null };
  }

  /** The brokers of a client, primary first. */
  async brokersOf(clientId: string): Promise<ClientBroker[]> {
    if (!isUuid(clientId)) return [];
    const r = await rows<Record<string, unknown>>(
      this.db,
      sql`select bc.broker_id, bc.relation, u.display_name, u.team_id, u.branch_id from broker_clients bc join users u on u.id = bc.broker_id
          where bc.client_id = ${clientId} order by (bc.relation = 'primary') desc, u.display_name`,
    );
    return r.map((x) => ({
      brokerId: String(x.broker_id),
      displayName: String(x.display_name),
      relation: x.relation as BrokerRelation,
      teamId: (x.team_id as string | null) ?? null,
      branchId: (x.branch_id as string | null) ?? null,
    }));
  }

  /**
   * Applies one change after checking it inside the transaction. Throws a QiaoError (nothing
   * written) when the rule refuses it. `relation` is the share kind for `share`.
   */
  async change(
    op: AssignmentOp,
    p: Pick<Principal, 'id' | 'role'>,
    clientId: string,
    brokerId: string,
    relation: 'shared_read' | 'shared_full' = 'shared_read',
  ): Promise<AssignmentChange> {
    if (!isUuid(clientId) || !isUuid(brokerId)) throw new QiaoError('QIAO_USER_NOT_FOUND');
    return this.db.transaction(async (tx) => {
      // Serialise changes of one client: the second waits and then sees the first one's result.
      await tx.execute(sql`select id from users where id = ${clientId} for update`);
      const f = await this.facts(clientId, brokerId, tx);
      const refusal = checkAssignment(op, await this.actor(p, tx), f);
      if (refusal) throw new QiaoError(refusal);
      const before = f.brokerRelation;
      let after: BrokerRelation | null;
      switch (op) {
        case 'assign':
        case 'transfer': {
          if (f.primary) await tx.execute(sql`delete from broker_clients where client_id = ${clientId} and broker_id = ${f.primary.id}`);
          await tx.execute(sql`delete from broker_clients where client_id = ${clientId} and broker_id = ${brokerId}`);
          await tx.execute(sql`insert into broker_clients (broker_id, client_id, relation) values (${brokerId}, ${clientId}, 'primary')`);
          if (f.primary) {
            // The client's conversation continues with the new broker (history kept, same channel),
            // unless the new broker already has its own conversation with the client.
            await tx.execute(sql`update conversations set broker_id = ${brokerId}
              where type = 'broker_client' and client_id = ${clientId} and broker_id = ${f.primary.id}
                and not exists (select 1 from conversations o where o.type = 'broker_client' and o.client_id = ${clientId} and o.broker_id = ${brokerId})`);
          }
          after = 'primary';
          break;
        }
        case 'share':
          await tx.execute(sql`insert into broker_clients (broker_id, client_id, relation) values (${brokerId}, ${clientId}, ${relation})
            on conflict (broker_id, client_id) do update set relation = excluded.relation`);
          after = relation;
          break;
        case 'unshare':
          await tx.execute(sql`delete from broker_clients where client_id = ${clientId} and broker_id = ${brokerId}`);
          after = null;
          break;
      }
      const change: AssignmentChange = { op, clientId, brokerId, previousPrimary: f.primary?.id ?? null, before, after };
      const detail = { clientId, brokerId, previousPrimary: change.previousPrimary, before, after };
      await tx.insert(auditLog).values({ actorId: p.id, action: `assignment.${op}`, target: clientId, outcome: 'ok', detail });
      // Archived last: the archive's lock is held only until commit.
      await this.archive.append(
        {
          kind: `assignment.${op}`,
          actorId: p.id,
          subjects: [clientId, brokerId, ...(change.previousPrimary ? [change.previousPrimary] : [])],
          retentionClass: 'client-communications',
          body: { op, ...detail },
          text: `assignment ${op}`,
        },
        tx,
      );
      return change;
    });
  }
}
