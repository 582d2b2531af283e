import { describe, expect, it } from 'vitest';
import type { Principal } from '../../src/auth/principal.ts';
import {
  EDIT_WINDOW_MS,
  RECALL_WINDOW_MS,
  checkAssignment,
  checkChatAmendment,
  conversationAccess,
  isParticipant,
  type AssignmentActor,
  type AssignmentFacts,
  type BrokerRelation,
  type ConversationFacts,
  type OrgUser,
} from '../../src/domain/conversation-access.ts';

const C1 = 'c1';
const B1 = 'b1';
const M1 = 'm1';
const who = (id: string, role: Principal['role']) => ({ id, role });

const bc = (over: Partial<ConversationFacts> = {}): ConversationFacts => ({
  type: 'broker_client',
  brokerId: B1,
  clientId: C1,
  managerId: null,
  teamId: null,
  viewerRelation: null,
  viewerLeadsPrimaryTeam: false,
  viewerIsMember: false,
  ...over,
});

describe('conversation access', () => {
  it('broker_client: the client writes; another client sees nothing', () => {
    expect(conversationAccess(who(C1, 'client'), bc())).toBe('write');
    expect(conversationAccess(who('c2', 'client'), bc())).toBe('none');
  });

  it.each<[BrokerRelation | null, string]>([
    ['primary', 'write'],
    ['shared_full', 'write'],
    ['shared_read', 'read'],
    [null, 'none'],
  ])('broker_client: a broker with relation %s → %s (whoever the conversation row names)', (rel, expected) => {
    expect(conversationAccess(who('b2', 'broker'), bc({ viewerRelation: rel }))).toBe(expected);
    // The row's broker without a relation (transferred away) has no access.
    expect(conversationAccess(who(B1, 'broker'), bc({ viewerRelation: rel }))).toBe(expected);
  });

  it('broker_client: the manager of the primary broker’s team reads, other managers nothing', () => {
    expect(conversationAccess(who(M1, 'manager'), bc({ viewerLeadsPrimaryTeam: true }))).toBe('read');
    expect(conversationAccess(who(M1, 'manager'), bc())).toBe('none');
  });

  it('compliance reads everything, admin, research and the feed nothing', () => {
    for (const f of [bc(), bc({ type: 'broker_manager', managerId: M1 }), bc({ type: 'group' })]) {
      expect(conversationAccess(who('x', 'compliance'), f)).toBe('read');
      expect(conversationAccess(who('x', 'admin'), f)).toBe('none');
      expect(conversationAccess(who('x', 'research'), f)).toBe('none');
      expect(conversationAccess(who('feed', 'feed'), f)).toBe('none');
    }
  });

  it('no conversation → none', () => {
    expect(conversationAccess(who(C1, 'client'), null)).toBe('none');
    expect(conversationAccess(who('x', 'compliance'), null)).toBe('none');
  });

  it('broker_manager: that broker and that manager write, nobody else', () => {
    const f = bc({ type: 'broker_manager', clientId: null, managerId: M1 });
    expect(conversationAccess(who(B1, 'broker'), f)).toBe('write');
    expect(conversationAccess(who(M1, 'manager'), f)).toBe('write');
    expect(conversationAccess(who('b2', 'broker'), f)).toBe('none');
    expect(conversationAccess(who('m2', 'manager'), { ...f, viewerLeadsPrimaryTeam: true })).toBe('none');
    expect(conversationAccess(who(C1, 'client'), f)).toBe('none');
  });

  it('group: members (staff) write, others nothing', () => {
    const f = bc({ type: 'group', brokerId: null, clientId: null, teamId: 't' });
    expect(conversationAccess(who(B1, 'broker'), { ...f, viewerIsMember: true })).toBe('write');
    expect(conversationAccess(who(M1, 'manager'), { ...f, viewerIsMember: true })).toBe('write');
    expect(conversationAccess(who(B1, 'broker'), f)).toBe('none');
    expect(conversationAccess(who(C1, 'client'), { ...f, viewerIsMember: true })).toBe('none');
  });

  it('participants are the people a conversation is between, not its supervisors', () => {
    expect(isParticipant(who(C1, 'client'), bc())).toBe(true);
    expect(isParticipant(who('b2', 'broker'), bc({ viewerRelation: 'shared_read' }))).toBe(true);
    expect(isParticipant(who(M1, 'manager'), bc({ viewerLeadsPrimaryTeam: true }))).toBe(false);
    expect(isParticipant(who('x', 'compliance'), bc())).toBe(false);
    expect(isParticipant(who(M1, 'manager'), bc({ type: 'broker_manager', managerId: M1 }))).toBe(true);
  });
});

describe('edit and recall', () => {
  const t0 = Date.parse('2026-11-25T02:00:00Z');
  const original = { sender: B1, kind: 'chat', time: new Date(t0).toISOString(), recalled: false };
  const me = who(B1, 'broker');

  it('the sender may edit within 15 minutes and recall within 2 minutes', () => {
    expect(checkChatAmendment(me, 'chat.edit', original, t0 + EDIT_WINDOW_MS)).toBeNull();
    expect(checkChatAmendment(me, 'chat.edit', original, t0 + EDIT_WINDOW_MS + 1)).toBe('QIAO_MESSAGE_EDIT_EXPIRED');
    expect(checkChatAmendment(me, 'chat.recall', original, t0 + RECALL_WINDOW_MS)).toBeNull();
    expect(checkChatAmendment(me, 'chat.recall', original, t0 + RECALL_WINDOW_MS + 1)).toBe('QIAO_MESSAGE_EDIT_EXPIRED');
  });

  it('only the sender, only chat messages, never a recalled one', () => {
    expect(checkChatAmendment(who(C1, 'client'), 'chat.edit', original, t0)).toBe('QIAO_MESSAGE_NOT_OWN');
    expect(checkChatAmendment(me, 'chat.edit', null, t0)).toBe('QIAO_MESSAGE_REF_NOT_FOUND');
    expect(checkChatAmendment(me, 'chat.recall', { ...original, kind: 'chat.edit' }, t0)).toBe('QIAO_MESSAGE_REF_NOT_FOUND');
    expect(checkChatAmendment(me, 'chat.edit', { ...original, recalled: true }, t0)).toBe('QIAO_MESSAGE_RECALLED');
    expect(checkChatAmendment(me, 'chat.recall', { ...original, recalled: true }, t0)).toBe('QIAO_MESSAGE_RECALLED');
  });
});

describe('assignment rules', () => {
  const u = (id: string, role: string, teamId: string | null, branchId: string | null, active = true): OrgUser => ({ id, role, teamId, branchId, active });
  const client = u('c1', 'client', null, 'SH');
  const b1 = u('b1', 'broker', 'TA', 'SH');
  const b3 = u('b3', 'broker', 'TC', 'SH'); // another team, same branch
  const b2 = u('b2', 'broker', 'TB', 'BJ');
  const admin: AssignmentActor = { id: 'a', role: 'admin', ledTeamIds: [], ledBranchIds: [] };
  const m1: AssignmentActor = { id: 'm1', role: 'manager', ledTeamIds: ['TA'], ledBranchIds: ['SH'] };
  const m3: AssignmentActor = { id: 'm3', role: 'manager', ledTeamIds: ['TC'], ledBranchIds: ['SH'] };
  const facts = (broker: OrgUser | null, over: Partial<AssignmentFacts> = {}): AssignmentFacts => ({ client, primary: b1, broker, brokerRelation: null, ...over });

  it('admin transfers anywhere; not to the current primary; not a client without a primary', () => {
    expect(checkAssignment('transfer', admin, facts(b2))).toBeNull();
    expect(checkAssignment('transfer', admin, facts(b1, { brokerRelation: 'primary' }))).toBe('QIAO_ASSIGNMENT_INVALID');
    expect(checkAssignment('transfer', admin, facts(b2, { primary: null }))).toBe('QIAO_ASSIGNMENT_INVALID');
  });

  it('a manager moves clients of its own team within its branch only', () => {
    expect(checkAssignment('transfer', m1, facts(b3))).toBeNull();
    expect(checkAssignment('transfer', m1, facts(b2))).toBe('QIAO_FORBIDDEN'); // other branch
    expect(checkAssignment('transfer', m3, facts(b3))).toBe('QIAO_FORBIDDEN'); // client of another team
    expect(checkAssignment('share', m1, facts(b3))).toBeNull();
    expect(checkAssignment('share', m1, facts(b2))).toBe('QIAO_FORBIDDEN');
  });

  it('brokers, clients and other staff may not change assignments', () => {
    for (const role of ['broker', 'client', 'compliance', 'research'] as const) {
      expect(checkAssignment('transfer', { id: 'x', role, ledTeamIds: [], ledBranchIds: [] }, facts(b3))).toBe('QIAO_FORBIDDEN');
    }
  });

  it('unknown client or broker → QIAO_USER_NOT_FOUND; a non-broker or inactive broker → QIAO_ASSIGNMENT_INVALID', () => {
    expect(checkAssignment('transfer', admin, facts(b2, { client: null }))).toBe('QIAO_USER_NOT_FOUND');
    expect(checkAssignment('transfer', admin, facts(b2, { client: b1 }))).toBe('QIAO_USER_NOT_FOUND');
    expect(checkAssignment('transfer', admin, facts(null))).toBe('QIAO_USER_NOT_FOUND');
    expect(checkAssignment('transfer', admin, facts(u('m1', 'manager', 'TA', 'SH')))).toBe('QIAO_ASSIGNMENT_INVALID');
    expect(checkAssignment('transfer', admin, facts(u('b9', 'broker', 'TA', 'SH', false)))).toBe('QIAO_ASSIGNMENT_INVALID');
  });

  it('assign only without a primary (manager: client of its branch); share never with the primary; unshare only a share', () => {
    expect(checkAssignment('assign', admin, facts(b2, { primary: null }))).toBeNull();
    expect(checkAssignment('assign', admin, facts(b2))).toBe('QIAO_ASSIGNMENT_INVALID');
    expect(checkAssignment('assign', m1, facts(b3, { primary: null }))).toBeNull();
    expect(checkAssignment('assign', m1, facts(b3, { primary: null, client: { ...client, branchId: 'BJ' } }))).toBe('QIAO_FORBIDDEN');
    expect(checkAssignment('share', admin, facts(b1, { brokerRelation: 'primary' }))).toBe('QIAO_ASSIGNMENT_INVALID');
    expect(checkAssignment('unshare', admin, facts(b2, { brokerRelation: 'shared_read' }))).toBeNull();
    expect(checkAssignment('unshare', admin, facts(b2))).toBe('QIAO_ASSIGNMENT_INVALID');
    expect(checkAssignment('unshare', admin, facts(b1, { brokerRelation: 'primary' }))).toBe('QIAO_ASSIGNMENT_INVALID');
  });
});
