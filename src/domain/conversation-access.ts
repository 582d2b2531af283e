/**
 * Who may read and write a conversation, who may amend (edit, recall) a chat message, and who may
 * assign, share and transfer clients. Pure functions over facts the store loads
 * (src/store/conversations-repo.ts); the channel catalogue (channels/conversation.ts) and the REST
 * routes both decide through here, so there is one rule book.
 *
 * Conversations:
 * - broker_client: the client (write); brokers with a broker_clients row for the client — primary and
 *   shared_full write, shared_read only reads; the manager of the team of the client's primary
 *   broker (read: managers talk to brokers in broker_manager conversations). Access follows the
 *   assignment, not the conversation row, so a transfer moves it at once.
 * - broker_manager: that broker and that manager (write).
 * - group: its members (write); members are staff of one team.
 * - compliance reads everything (supervision); admin has no access to content (it manages
 *   assignments, which needs no message content: least privilege); the feed has none.
 */
import type { Principal } from '../auth/principal.ts';
import type { ErrorCode } from '../errors/codes.ts';

export type AccessLevel = 'none' | 'read' | 'write';
export type ConversationType = 'broker_client' | 'broker_manager' | 'group';
export type BrokerRelation = 'primary' | 'shared_read' | 'shared_full';

export interface ConversationFacts {
  type: ConversationType;
  brokerId: string | null;
  clientId: string | null;
  managerId: string | null;
  teamId: string | null;
  /** broker_client: the viewer's broker_clients relation to the conversation's client. */
  viewerRelation: BrokerRelation | null;
  /** broker_client: the viewer is the manager of the team of the client's primary broker. */
  viewerLeadsPrimaryTeam: boolean;
  /** group: the viewer is a member. */
  viewerIsMember: boolean;
}

type Viewer = Pick<Principal, 'id' | 'role'>;

/** The viewer's access to a conversation; `null` facts (no such conversation) → none. */
export function conversationAccess(p: Viewer, f: ConversationFacts | null): AccessLevel {
  if (!f || p.role === 'feed' || p.role === 'admin') return 'none';
  if (p.role === 'compliance') return 'read';
  switch (f.type) {
    case 'broker_client':
      if (p.role === 'client') return p.id === f.clientId ? 'write' : 'none';
      if (p.role === 'broker') {
        if (f.viewerRelation === 'primary' || f.viewerRelation === 'shared_full') return 'write';
        return f.viewerRelation === 'shared_read' ? 'read' : 'none';
      }
      if (p.role === 'manager') return f.viewerLeadsPrimaryTeam ? 'read' : 'none';
      return 'none';
    case 'broker_manager':
      if (p.role === 'broker' && p.id === f.brokerId) return 'write';
      if (p.role === 'manager' && p.id === f.managerId) return 'write';
      return 'none';
    case 'group':
      return (p.role === 'broker' || p.role === 'manager') && f.viewerIsMember ? 'write' : 'none';
    default:
      return 'none';
  }
}

/**
 * Whose reads and typing count as "the other side" (they drive 已读 and unread pushes): the people the
 * conversation is between, not its supervisors (a manager or compliance reading must not show 已读
 * to a client).
 */
export function isParticipant(p: Viewer, f: ConversationFacts | null): boolean {
  if (!f) return false;
  switch (f.type) {
    case 'broker_client':
      return (p.role === 'client' && p.id === f.clientId) || (p.role === 'broker' && f.viewerRelation !== null);
    case 'broker_manager':
      return p.id === f.brokerId || p.id === f.managerId;
    case 'group':
      return f.viewerIsMember;
    default:
      return false;
  }
}

// ---------------------------------------------------------------------------------------------
// Edit and recall: new events referencing the original, which stays in history and the archive.

/** A sender may recall a chat message for 2 minutes (the common messenger rule) … */
export const RECALL_WINDOW_MS = 2 * 60_000;
/** … and correct it for 15 minutes. */
export const EDIT_WINDOW_MS = 15 * 60_000;

export interface ChatOriginal {
  sender: string;
  kind: string;
  /** ISO time of the original. */
  time: string;
  recalled: boolean;
}

export function checkChatAmendment(p: Viewer, kind: 'chat.edit' | 'chat.recall', original: ChatOriginal | null, now: number): ErrorCode | null {
  if (!original || original.kind !== 'chat') return 'QIAO_MESSAGE_REF_NOT_FOUND';
  if (original.sender !== p.id) return 'QIAO_MESSAGE_NOT_OWN';
  if (original.recalled) return 'QIAO_MESSAGE_RECALLED';
  const window = kind === 'chat.recall' ? RECALL_WINDOW_MS : EDIT_WINDOW_MS;
  return now - Date.parse(original.time) > window ? 'QIAO_MESSAGE_EDIT_EXPIRED' : null;
}

// ---------------------------------------------------------------------------------------------
// Assignment: admin anywhere; a manager only inside its own 营业部, for clients of its own team.

export type AssignmentOp = 'assign' | 'transfer' | 'share' | 'unshare';

export interface OrgUser {
  id: string;
  role: string;
  active: boolean;
  branchId: string | null;
  teamId: string | null;
}

export interface AssignmentActor {
  id: string;
  role: Principal['role'];
  /** Teams this user leads (teams.manager_id). */
  ledTeamIds: string[];
  /** Branches of the teams it leads. */
  ledBranchIds: string[];
}

export interface AssignmentFacts {
  client: OrgUser | null;
  /** The client's current primary broker. */
  primary: OrgUser | null;
  /** The broker the operation names (target of assign, transfer, share, unshare). */
  broker: OrgUser | null;
  /** The named broker's current relation to the client. */
  brokerRelation: BrokerRelation | null;
}

/**
 * Checks an assignment change, in the order: the client exists, the actor may act for it, the named
 * broker exists, the actor may act for that broker, the change makes sense.
 *
 * A manager acts for a client whose primary broker is in a team it leads (an unassigned client: one
 * in a branch it leads a team of), and names brokers of its own branch — so a manager can hand a
 * client to a colleague team in the same 营业部, but cannot take clients of another team or send them
 * to another branch.
 */
export function checkAssignment(op: AssignmentOp, actor: AssignmentActor, f: AssignmentFacts): ErrorCode | null {
  if (!f.client || f.client.role !== 'client') return 'QIAO_USER_NOT_FOUND';
  const admin = actor.role === 'admin';
  if (!admin && actor.role !== 'manager') return 'QIAO_FORBIDDEN';
  if (!admin) {
    const inScope = f.primary
      ? f.primary.teamId !== null && actor.ledTeamIds.includes(f.primary.teamId)
      : f.client.branchId !== null && actor.ledBranchIds.includes(f.client.branchId);
    if (!inScope) return 'QIAO_FORBIDDEN';
  }
  if (!f.broker) return 'QIAO_USER_NOT_FOUND';
  if (f.broker.role !== 'broker' || (!f.broker.active && op !== 'unshare')) return 'QIAO_ASSIGNMENT_INVALID';
  if (!admin && op !== 'unshare' && (f.broker.branchId === null || !actor.ledBranchIds.includes(f.broker.branchId))) return 'QIAO_FORBIDDEN';
  switch (op) {
    case 'assign':
      return f.primary ? 'QIAO_ASSIGNMENT_INVALID' : null;
    case 'transfer':
      return !f.primary || f.primary.id === f.broker.id ? 'QIAO_ASSIGNMENT_INVALID' : null;
    case 'share':
      return f.brokerRelation === 'primary' ? 'QIAO_ASSIGNMENT_INVALID' : null;
    case 'unshare':
      return f.brokerRelation === 'shared_read' || f.brokerRelation === 'shared_full' ? null : 'QIAO_ASSIGNMENT_INVALID';
  }
}
