/**
 * Demo follow-ups (客户回访) and satisfaction surveys (满意度调查), run by seedServiceDemo:
 * - the firm's default rules (the regulator's floor);
 * - team A's clients: new-account follow-ups under the keys the sweep would use (so it does not make
 *   them again), most done over the last weeks with the full checklist by independent staff, one
 *   unreachable, the rest open; one follow-up manager1 scheduled for broker1 that is overdue (the
 *   first sweep escalates it to manager1);
 * - answered surveys with scores and comments for broker1 (and broker3 when the history part added
 *   it), and one pending survey for client1 in its inbox (read, not answered: answerable from the item).
 * Demo history: its notices are written as already relayed (no live push, no fanout).
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { AssigneePicker } from '../service/followup-scope.ts';
import { FollowupRules } from '../service/followup-rules.ts';
import { followupRecord } from '../service/followups.ts';
import { SURVEY_PRINCIPAL } from '../service/surveys.ts';
import { ArchiveRepo, type ArchiveInput } from './archive-repo.ts';
import { ConversationsRepo } from './conversations-repo.ts';
import { rows, type Db } from './db.ts';
import { MessagesRepo } from './messages-repo.ts';
import { followups, inboxItems, surveys } from './schema/index.ts';

const DAY = 86_400_000;
const FULL = { identityConfirmed: true, riskExplained: true, noReturnPromise: true, complaintChannelTold: true };

export async function seedServiceFollowups(db: Db, now = new Date()): Promise<void> {
  const people = await rows<{ id: string; login: string; team_id: string | null; branch_id: string | null; firm_id: string }>(
    db,
    sql`select id::text, login, team_id::text, branch_id::text, firm_id::text from users where login in ('broker1', 'broker3', 'manager1', 'client1', 'client2', 'client3')`,
  );
  const u = new Map(people.map((p) => [p.login, p]));
  const broker1 = u.get('broker1');
  const manager1 = u.get('manager1');
  const client1 = u.get('client1');
  if (!broker1 || !manager1 || !client1 || !broker1.team_id) return;
  const archive = new ArchiveRepo(db);
  const rules = await new FollowupRules({ db, archive }).ensureDefaults(broker1.firm_id);
  const newAccount = rules.find((r) => r.code === 'new_account')!;

  // Team A's clients with their primary broker, oldest account first.
  const clients = await rows<{ id: string; name: string; created_at: string; broker_id: string; team_id: string; branch_id: string | null; manager_id: string | null; head_id: string | null }>(
    db,
    sql`select c.id::text, c.display_name as name, c.created_at, b.id::text as broker_id, b.team_id::text, coalesce(b.branch_id, c.branch_id)::text as branch_id,
               t.manager_id::text, br.head_id::text
          from users c join broker_clients bc on bc.client_id = c.id and bc.relation = 'primary'
          join users b on b.id = bc.broker_id join teams t on t.id = b.team_id
          left join branches br on br.id = coalesce(b.branch_id, c.branch_id)
         where b.team_id = ${broker1.team_id} and c.role = 'client' and c.active
         order by c.created_at, c.id limit 12`,
  );
  const picker = new AssigneePicker(db);
  const records: ArchiveInput[] = [];
  for (const [i, c] of clients.entries()) {
    const opened = new Date(c.created_at).getTime();
    const assignee = await picker.pick({ branchId: c.branch_id, brokerId: c.broker_id, teamManagerId: c.manager_id, branchHeadId: c.head_id });
    // Spread over the last weeks: two thirds done (one unreachable), the rest open.
    const state = i % 3 === 2 ? 'open' : 'done';
    const doneAt = new Date(Math.min(now.getTime() - (clients.length - i) * 2 * DAY, opened + (i + 1) * DAY));
    const done = state === 'done' ? new Date(Math.max(doneAt.getTime(), opened, now.getTime() - 40 * DAY)) : null;
    const unreachable = i === 1;
    const id = randomUUID();
    await db.insert(followups).values({
      id,
      firmId: broker1.firm_id,
      clientId: c.id,
      brokerId: c.broker_id,
      teamId: c.team_id,
      branchId: c.branch_id,
      assigneeId: assignee,
      ruleId: newAccount.id,
      independent: true,
      reason: '新开户回访 New account follow-up (30 d)',
      dueAt: new Date(opened + 30 * DAY),
      state,
      outcome: done ? (unreachable ? 'unreachable' : 'reached') : null,
      notes: done ? (unreachable ? '两次致电均无人接听，已短信告知回访事项。' : '已核实身份，说明了风险等级与适当性匹配，未承诺收益，告知投诉电话 95xxx。') : null,
      checklist: done ? (unreachable ? { identityConfirmed: false, riskExplained: false, noReturnPromise: false, complaintChannelTold: false } : FULL) : null,
      doneBy: done ? assignee : null,
      doneAt: done,
      dedupKey: `new_account:${newAccount.id}:${c.id}`,
      createdAt: new Date(Math.min(opened, now.getTime())),
      updatedAt: done ?? now,
    });
    records.push(followupRecord('followup.scheduled', 'service-followups', { id, clientId: c.id, brokerId: c.broker_id, assigneeId: assignee }, { ruleId: newAccount.id, independent: true }, '', new Date(Math.min(opened, now.getTime()))));
    if (done && assignee) records.push(followupRecord('followup.done', assignee, { id, clientId: c.id, brokerId: c.broker_id, assigneeId: assignee }, { outcome: unreachable ? 'unreachable' : 'reached' }, '', done));
  }
  // One manager1 scheduled for broker1 himself, three days overdue: the first sweep escalates it.
  const client2 = u.get('client2');
  if (client2) {
    const id = randomUUID();
    await db.insert(followups).values({
      id,
      firmId: broker1.firm_id,
      clientId: client2.id,
      brokerId: broker1.id,
      teamId: broker1.team_id,
      branchId: broker1.branch_id,
      assigneeId: broker1.id,
      independent: false,
      scheduledBy: manager1.id,
      reason: '高净值客户季度回访：了解港股通开通需求',
      dueAt: new Date(now.getTime() - 3 * DAY),
      createdAt: new Date(now.getTime() - 10 * DAY),
      updatedAt: new Date(now.getTime() - 10 * DAY),
    });
    records.push(followupRecord('followup.scheduled', manager1.id, { id, clientId: client2.id, brokerId: broker1.id, assigneeId: broker1.id }, { independent: false }, '', new Date(now.getTime() - 10 * DAY)));
  }
  records.sort((a, b) => a.recordedAt!.getTime() - b.recordedAt!.getTime());
  await db.transaction((tx) => archive.appendMany(records, tx));

  await seedSurveys(db, now, u);
}

async function seedSurveys(db: Db, now: Date, u: Map<string, { id: string; team_id: string | null; branch_id: string | null }>): Promise<void> {
  const convs = new ConversationsRepo(db);
  const answered: Array<{ broker: string; client: string; score: number; comment: string; daysAgo: number }> = [];
  const b1 = u.get('broker1')!;
  for (const [login, score, comment, daysAgo] of [
    ['client2', 5, '王经理回复很及时，讲解清楚。', 6],
  ] as const) {
    const c = u.get(login);
    if (c) answered.push({ broker: b1.id, client: c.id, score, comment, daysAgo });
  }
  const b3 = u.get('broker3');
  if (b3) {
    // The book's three oldest accounts (ids are random: ordering by them once picked client28, whom the
    // conversation suites expect to have no conversation yet).
    const mine = await rows<{ id: string }>(
      db,
      sql`select bc.client_id::text as id from broker_clients bc join users u on u.id = bc.client_id
          where bc.broker_id = ${b3.id} and bc.relation = 'primary' order by u.created_at, u.login limit 3`,
    );
    const said = [
      [3, '回复有点慢，希望能更主动一些。'],
      [4, '专业，建议中肯。'],
      [5, '非常满意！'],
    ] as const;
    mine.forEach((c, i) => answered.push({ broker: b3.id, client: c.id, score: said[i][0], comment: said[i][1], daysAgo: 4 + i * 5 }));
  }
  for (const a of answered) {
    const { conversation } = await convs.openBrokerClient(a.broker, a.client, a.broker);
    const broker = a.broker === b1.id ? b1 : b3!;
    const sent = new Date(now.getTime() - a.daysAgo * DAY);
    await db
      .insert(surveys)
      .values({ conversationId: conversation.id, clientId: a.client, brokerId: a.broker, teamId: broker.team_id, branchId: broker.branch_id, trigger: a.daysAgo % 2 ? 'quiet' : 'resolved', atOffset: await convs.topOffset(conversation.id), sentAt: sent, score: a.score, comment: a.comment, answeredAt: new Date(sent.getTime() + 5 * 3_600_000) })
      .onConflictDoNothing();
  }

  // client1's pending survey about its conversation with broker1, in its inbox.
  const c1 = u.get('client1')!;
  const [conv] = await rows<{ id: string }>(db, sql`select id::text from conversations where type = 'broker_client' and broker_id = ${b1.id} and client_id = ${c1.id}`);
  if (!conv) return;
  const messages = new MessagesRepo(db, new ArchiveRepo(db));
  const surveyId = randomUUID();
  const offset = await convs.topOffset(conv.id);
  const [b1name] = await rows<{ n: string }>(db, sql`select display_name as n from users where id = ${b1.id}`);
  const { pub } = await messages.append({
    channel: `inbox.${c1.id}`,
    family: 'inbox',
    kind: 'survey',
    senderId: SURVEY_PRINCIPAL.id,
    payload: { surveyId, brokerName: b1name.n, conversationId: conv.id },
    subjects: [c1.id],
    idempotencyKey: `survey:${conv.id}:${offset}`,
    inTx: async (tx, p) => {
      await tx.insert(surveys).values({ id: surveyId, conversationId: conv.id, clientId: c1.id, brokerId: b1.id, teamId: b1.team_id, branchId: b1.branch_id, trigger: 'resolved', atOffset: offset, sentAt: new Date(p.time), messageId: p.id });
    },
  });
  await messages.relayed([{ channel: pub.channel, offset: pub.offset }]);
  // Already seen (read) but not answered: the demo's unread counts stay those of the other parts.
  await db.insert(inboxItems).values({ userId: c1.id, messageId: pub.id, channel: pub.channel, state: 'read' }).onConflictDoNothing();
}
