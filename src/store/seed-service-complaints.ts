/**
 * Demo complaints (投诉) for branch SH-LJZ over the last weeks, so the complaint views are not empty
 * on first start: one resolved with a reply, one acknowledged, one open and past its acknowledgement
 * deadline (the escalation sweep escalates it to the branch head and compliance soon after start).
 * Each with its events and archive records, as the service writes them (deadlines at the defaults:
 * 24 hours to acknowledge, 15 days to resolve).
 */
import { and, eq, inArray, isNull } from 'drizzle-orm';
import { ArchiveRepo, type ArchiveInput } from './archive-repo.ts';
import type { Db } from './db.ts';
import { branches, complaintEvents, complaints, conversations, users } from './schema/index.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

export async function seedServiceComplaints(db: Db, now = new Date()): Promise<void> {
  const people = await db
    .select({ id: users.id, login: users.login, firmId: users.firmId })
    .from(users)
    .where(inArray(users.login, ['client1', 'client2', 'client3', 'broker1', 'service1']));
  const by = new Map(people.map((p) => [p.login, p]));
  const [sh] = await db.select().from(branches).where(eq(branches.code, 'SH-LJZ'));
  const [client1, client2, client3, broker1, service1] = ['client1', 'client2', 'client3', 'broker1', 'service1'].map((l) => by.get(l));
  if (!sh || !client1 || !client2 || !client3 || !broker1 || !service1) return;
  const [conv] = await db
    .select({ id: conversations.id })
    .from(conversations)
    .where(and(eq(conversations.clientId, client1.id), eq(conversations.brokerId, broker1.id), eq(conversations.type, 'broker_client')))
    .limit(1);
  // The branch head receives escalations; the history seed names manager1, this only fills a gap.
  const [manager1] = await db.select({ id: users.id }).from(users).where(eq(users.login, 'manager1'));
  if (manager1 && !sh.headId) await db.update(branches).set({ headId: manager1.id }).where(and(eq(branches.id, sh.id), isNull(branches.headId)));
  const archive = new ArchiveRepo(db);

  type Step = { action: 'filed' | 'acknowledged' | 'resolved'; actor: string; at: Date; note?: string; visible: boolean };
  const cases: Array<{ client: string; category: 'service' | 'advice' | 'fees'; text: string; conversationId: string | null; filed: Date; steps: Step[]; reply?: string }> = [
    {
      client: client2.id,
      category: 'advice',
      text: '经纪人推荐的基金风险偏高，与我之前沟通的稳健需求不一致，希望给出说明。',
      conversationId: null,
      filed: new Date(now.getTime() - 20 * DAY),
      steps: [
        { action: 'acknowledged', actor: service1.id, at: new Date(now.getTime() - 20 * DAY + 3 * HOUR), note: '周先生您好，您的投诉已受理，我们将核实推荐记录。', visible: true },
        { action: 'resolved', actor: service1.id, at: new Date(now.getTime() - 17 * DAY), note: '经核实，该产品风险等级为 R3，与您的 C4 等级匹配；我们已请经纪人补充书面风险提示，并致歉沟通不充分。', visible: true },
      ],
      reply: '经核实，该产品风险等级为 R3，与您的 C4 等级匹配；我们已请经纪人补充书面风险提示，并致歉沟通不充分。',
    },
    {
      client: client3.id,
      category: 'fees',
      text: '上月对账单里有一笔我不认识的服务费，请核实。',
      conversationId: null,
      filed: new Date(now.getTime() - 5 * DAY),
      steps: [{ action: 'acknowledged', actor: service1.id, at: new Date(now.getTime() - 5 * DAY + 5 * HOUR), note: '孙阿姨您好，已受理，我们正在向清算部门核实这笔费用。', visible: true }],
    },
    {
      client: client1.id,
      category: 'service',
      text: '我的问题已经等了很久没有人回复，希望尽快有人跟进。',
      conversationId: conv?.id ?? null,
      filed: new Date(now.getTime() - 2 * DAY),
      steps: [],
    },
  ];

  await db.transaction(async (tx) => {
    const records: ArchiveInput[] = [];
    for (const c of cases) {
      const last = c.steps[c.steps.length - 1];
      const acked = c.steps.find((s) => s.action === 'acknowledged');
      const closed = c.steps.find((s) => s.action === 'resolved');
      const [row] = await tx
        .insert(complaints)
        .values({
          firmId: sh.firmId,
          branchId: sh.id,
          clientId: c.client,
          brokerId: broker1.id,
          conversationId: c.conversationId,
          category: c.category,
          text: c.text,
          status: closed ? 'resolved' : acked ? 'acknowledged' : 'open',
          ackDueAt: new Date(c.filed.getTime() + 24 * HOUR),
          resolveDueAt: new Date(c.filed.getTime() + 15 * DAY),
          acknowledgedAt: acked?.at ?? null,
          closedAt: closed?.at ?? null,
          reply: c.reply ?? null,
          createdAt: c.filed,
          updatedAt: last?.at ?? c.filed,
        })
        .returning();
      const subjects = [c.client, broker1.id];
      const steps: Step[] = [{ action: 'filed', actor: c.client, at: c.filed, visible: true }, ...c.steps];
      for (const s of steps) {
        await tx.insert(complaintEvents).values({ complaintId: row.id, actorId: s.actor, action: s.action, note: s.note ?? null, clientVisible: s.visible, at: s.at });
        records.push({
          kind: `complaint.${s.action}`,
          actorId: s.actor,
          subjects,
          conversationId: c.conversationId,
          retentionClass: 'complaints',
          body:
            s.action === 'filed'
              ? { complaintId: row.id, category: c.category, text: c.text, conversationId: c.conversationId, branchId: sh.id, brokerId: broker1.id, ackDueAt: row.ackDueAt.toISOString(), resolveDueAt: row.resolveDueAt.toISOString() }
              : { complaintId: row.id, from: s.action === 'acknowledged' ? 'open' : 'acknowledged', to: s.action, note: s.note ?? null },
          text: s.action === 'filed' ? c.text : (s.note ?? ''),
          recordedAt: s.at,
        });
      }
    }
    await archive.appendMany(records, tx);
  });
}
