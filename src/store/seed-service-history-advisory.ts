/**
 * Four weeks of demo recommendations and tasks (part of seedServiceHistory), as the advisory services
 * would have stored them:
 * - recommendations by broker1 and broker3: delivered ones with their inbox publication (backdated, read
 *   by the client, never relayed) and `suitability.delivered` record; refusals by suitability (level
 *   mismatch, expired assessment) with their `suitability.refusal` record; one batch of broker3 held for
 *   compliance approval (pending, with its approval and `approval.requested` record);
 * - tasks from manager1 to team A (broker1 and broker3): done on time, done late, one overdue, one open
 *   and not yet due, each with its `task.created` record. Progress steps have no `task.state` records
 *   and no inbox notices (a backfill of the states reached, not a replay of each step).
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { APPROVAL_CLIENT_LIMIT, APPROVAL_WINDOW_DAYS, refusalRecord } from '../advisory/recommendations.ts';
import { addDays, localParts, zonedToInstant } from '../domain/zoned-time.ts';
import { MARKET_TZ } from '../domain/trading-sessions.ts';
import { ArchiveRepo, type ArchiveInput } from './archive-repo.ts';
import { rows, type Db } from './db.ts';
import { MessagesRepo } from './messages-repo.ts';
import { approvals, inboxItems, recommendations, taskAssignments, tasks } from './schema/index.ts';

const MIN = 60_000;
const DAY = 86_400_000;
type Risk = 'R1' | 'R2' | 'R3' | 'R4' | 'R5';
type Client = { id: string; login: string; name: string; risk: string; assessed: string | null; expires: string | null; professional: boolean };

const RANK: Record<string, number> = { C1: 1, C2: 2, C3: 3, C4: 4, C5: 5, R1: 1, R2: 2, R3: 3, R4: 4, R5: 5 };

/** Shanghai wall time `daysAgo` days before `now`'s date. */
function at(now: Date, daysAgo: number, hour: number, minute = 0): Date {
  const p = localParts(now, MARKET_TZ);
  const d = addDays(p.year, p.month, p.day, -daysAgo);
  return zonedToInstant(d.year, d.month, d.day, hour, minute, MARKET_TZ);
}

export async function seedHistoryAdvisory(db: Db, now: Date): Promise<void> {
  const people = await rows<{ id: string; login: string; name: string; risk: string | null; assessed: string | null; expires: string | null; professional: boolean; team_id: string | null }>(
    db,
    sql`select id::text, login, display_name as name, risk_level as risk, risk_assessed_on::text as assessed, risk_expires_on::text as expires,
          professional_investor as professional, team_id::text from users
        where login in ('broker1', 'broker3', 'manager1', 'client2', 'client3', 'client12', 'client13', 'client14', 'client15', 'client16', 'client18', 'client19', 'client21', 'client22')`,
  );
  const u = new Map(people.map((p) => [p.login, { ...p, risk: p.risk ?? '' } as Client & { team_id: string | null }]));
  const [broker1, broker3, manager1] = ['broker1', 'broker3', 'manager1'].map((l) => u.get(l));
  if (!broker1 || !broker3 || !manager1) return;
  const archive = new ArchiveRepo(db);
  const messages = new MessagesRepo(db, archive);
  const records: ArchiveInput[] = [];

  type Batch = { broker: Client; brokerName: string; security: string; productName: string; risk: Risk; rationale: string; clients: string[]; sent: Date; held?: boolean };
  const batches: Batch[] = [
    { broker: broker1, brokerName: '王经纪', security: '601166.SH', productName: '兴业银行', risk: 'R3', rationale: '估值处于历史低位，股息率较高，适合作为底仓长期配置。', clients: ['client2'], sent: at(now, 18, 10, 20) },
    { broker: broker1, brokerName: '王经纪', security: '515080.SH', productName: '红利ETF', risk: 'R3', rationale: '红利策略波动相对较小，可作为权益配置的起点。', clients: ['client3'], sent: at(now, 9, 14, 5) },
    { broker: broker3, brokerName: '赵经纪', security: '600276.SH', productName: '恒瑞医药', risk: 'R3', rationale: '创新药管线进入收获期，研究所维持买入评级。', clients: ['client12', 'client13', 'client14', 'client15', 'client16'], sent: at(now, 20, 9, 45) },
    { broker: broker3, brokerName: '赵经纪', security: '000651.SZ', productName: '格力电器', risk: 'R3', rationale: '现金流稳健、分红率高，回调后性价比提升。', clients: ['client14', 'client18', 'client21'], sent: at(now, 2, 10, 30) },
    { broker: broker3, brokerName: '赵经纪', security: '588000.SH', productName: '科创50ETF', risk: 'R4', rationale: '科创板估值回落，可小比例分批配置，注意波动风险。', clients: ['client14', 'client22'], sent: at(now, 1, 13, 40), held: true },
  ];
  for (const b of batches) {
    const batchId = randomUUID();
    let approvalId: string | null = null;
    const decided = b.clients
      .map((l) => u.get(l))
      .filter((c): c is Client & { team_id: string | null } => !!c)
      .map((c) => {
        // As src/domain/suitability.ts decides: an expired assessment, else the levels.
        const expired = c.expires !== null && c.expires < b.sent.toISOString().slice(0, 10);
        const code = expired ? 'QIAO_RISK_ASSESSMENT_EXPIRED' : RANK[b.risk] > RANK[c.risk] ? 'QIAO_SUITABILITY_MISMATCH' : null;
        return { c, code };
      });
    if (b.held) {
      approvalId = randomUUID();
      const ok = decided.filter((d) => !d.code);
      await db.insert(approvals).values({
        id: approvalId,
        kind: 'recommendation',
        requestedBy: b.broker.id,
        payload: { batchId, security: b.security, productName: b.productName, productRisk: b.risk, rationale: b.rationale, clientCount: ok.length, reach: APPROVAL_CLIENT_LIMIT + ok.length, windowDays: APPROVAL_WINDOW_DAYS },
        createdAt: b.sent,
      });
    }
    const row = (c: Client, code: string | null, status: 'refused' | 'pending_approval' | 'delivered', messageId: string | null, id = randomUUID()) => ({
      id,
      batchId,
      brokerId: b.broker.id,
      clientId: c.id,
      security: b.security,
      productName: b.productName,
      productRisk: b.risk,
      rationale: b.rationale,
      clientRiskLevel: c.risk,
      clientRiskAssessedOn: c.assessed,
      professionalInvestor: c.professional,
      status,
      refusalCode: code,
      basis: code ? null : ('level' as const),
      approvalId: code ? null : approvalId,
      messageId,
      createdAt: b.sent,
    });
    const refused = decided.filter((d) => d.code);
    const stored = refused.length ? await db.insert(recommendations).values(refused.map((d) => row(d.c, d.code, 'refused', null))).returning() : [];
    for (const r of stored) records.push(refusalRecord(r, 'send', b.broker.id, b.sent));
    const ok = decided.filter((d) => !d.code);
    if (b.held) {
      const held = await db.insert(recommendations).values(ok.map((d) => row(d.c, null, 'pending_approval', null))).returning({ id: recommendations.id, clientId: recommendations.clientId });
      records.push({
        kind: 'approval.requested',
        actorId: b.broker.id,
        subjects: [b.broker.id, ...held.map((r) => r.clientId)],
        retentionClass: 'compliance-activity',
        body: { approvalId, kind: 'recommendation', batchId, security: b.security, productRisk: b.risk, reach: APPROVAL_CLIENT_LIMIT + ok.length, limit: APPROVAL_CLIENT_LIMIT, recommendationIds: held.map((r) => r.id) },
        text: `${b.security} ${b.productName}`,
        recordedAt: b.sent,
      });
      continue;
    }
    // Delivered: the inbox publication a minute after the decision, the row written with it (as deliverOne).
    const delivered = await Promise.all(
      ok.map(({ c }) => {
        const id = randomUUID();
        return messages.append({
          channel: `inbox.${c.id}`,
          family: 'inbox',
          kind: 'recommendation',
          senderId: b.broker.id,
          payload: { recommendationId: id, title: `投资建议 · ${b.security} ${b.productName}`, security: b.security, productName: b.productName, riskLevel: b.risk, body: b.rationale, basis: 'level', brokerName: b.brokerName },
          subjects: [c.id],
          idempotencyKey: `rec:${id}`,
          at: new Date(b.sent.getTime() + MIN),
          inTx: async (tx, pub) => {
            await tx.insert(recommendations).values(row(c, null, 'delivered', pub.id, id));
            return [
              {
                kind: 'suitability.delivered',
                actorId: b.broker.id,
                subjects: [b.broker.id, c.id],
                channel: pub.channel,
                retentionClass: 'suitability',
                body: { recommendationId: id, batchId, brokerId: b.broker.id, clientId: c.id, security: b.security, productName: b.productName, productRisk: b.risk, clientRisk: c.risk, clientRiskAssessedOn: c.assessed, professionalInvestor: c.professional, basis: 'level', messageId: pub.id, approvalId: null, approvedBy: null, approvedAt: null },
                text: `${b.security} ${b.productName}`,
                recordedAt: new Date(pub.time),
              },
            ];
          },
        });
      }),
    );
    if (!delivered.length) continue;
    await messages.relayed(delivered.map(({ pub }) => ({ channel: pub.channel, offset: pub.offset })));
    // Each client opened it (read) after it arrived.
    await db.insert(inboxItems).values(
      delivered.map(({ pub }) => ({ userId: pub.channel.slice('inbox.'.length), messageId: pub.id, channel: pub.channel, state: 'read' as const, createdAt: new Date(pub.time), updatedAt: new Date(new Date(pub.time).getTime() + 3 * 60 * MIN) })),
    );
  }

  // manager1's tasks to team A: [title, detail, created, due, broker1's progress, broker3's progress].
  type Progress = { state: 'delivered' | 'read' | 'accepted' | 'done'; done?: Date; note?: string };
  const plan: Array<[string, string, Date, Date, Progress, Progress]> = [
    ['整理名下客户的持仓风险提示', '对持仓集中度高的客户逐一电话提示风险，并在系统中记录。', at(now, 24, 9, 10), at(now, 20, 18), { state: 'done', done: at(now, 21, 16, 30), note: '已提示 3 位客户' }, { state: 'done', done: at(now, 19, 10, 15), note: '晚了一天，已全部提示' }],
    ['完成新开户客户的首次电话联系', '本周新开户客户，开户后三个交易日内完成首次联系。', at(now, 16, 9, 0), at(now, 12, 18), { state: 'done', done: at(now, 13, 11, 0) }, { state: 'done', done: at(now, 12, 15, 40), note: '已联系 4 位新客户' }],
    ['提交本月重点客户跟进名单', '每人列出 5 位重点跟进客户及计划。', at(now, 9, 9, 30), at(now, 5, 18), { state: 'done', done: at(now, 6, 17, 20) }, { state: 'accepted' }],
    ['准备下周投资策略会的客户邀约', '每人邀约 3 位以上客户参加，名单报给张经理。', at(now, 2, 9, 0), at(now, -3, 18), { state: 'read' }, { state: 'delivered' }],
  ];
  for (const [title, detail, created, due, ...progress] of plan) {
    const [task] = await db.insert(tasks).values({ managerId: manager1.id, title, detail, dueAt: due, createdAt: created }).returning();
    const recipients = [broker1, broker3];
    await db.insert(taskAssignments).values(
      recipients.map((b, i) => {
        const p = progress[i];
        const rank = ['delivered', 'read', 'accepted', 'done'].indexOf(p.state);
        const readAt = new Date(created.getTime() + (30 + 90 * i) * MIN);
        const acceptedAt = new Date(readAt.getTime() + 10 * MIN);
        return {
          taskId: task.id,
          brokerId: b.id,
          state: p.state,
          note: p.note ?? null,
          deliveredAt: created,
          readAt: rank >= 1 ? readAt : null,
          acceptedAt: rank >= 2 ? acceptedAt : null,
          doneAt: p.done ?? null,
          updatedAt: p.done ?? (rank >= 2 ? acceptedAt : rank >= 1 ? readAt : created),
        };
      }),
    );
    records.push({
      kind: 'task.created',
      actorId: manager1.id,
      subjects: [manager1.id, ...recipients.map((b) => b.id)],
      retentionClass: 'tasks',
      body: { taskId: task.id, managerId: manager1.id, title, detail, dueAt: due.toISOString(), teamIds: manager1.team_id ? [manager1.team_id] : [], brokerIds: recipients.map((b) => b.id), namedBrokerIds: [] },
      text: `${title}\n${detail}`,
      recordedAt: created,
    });
  }
  records.sort((a, b) => a.recordedAt!.getTime() - b.recordedAt!.getTime());
  await db.transaction((tx) => archive.appendMany(records, tx));
}
