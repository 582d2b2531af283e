/**
 * Demo conversations for a first start (called by seedDemo once the demo firm exists): broker1 with
 * client1 (the client's last question still waits for an answer, so the workstation shows a
 * first-response time and an unread message) and broker1 with manager1. Messages go through the
 * message log, so they have offsets and are archived like any other.
 */
import { sql } from 'drizzle-orm';
import { ArchiveRepo } from './archive-repo.ts';
import { ConversationsRepo, convChannel } from './conversations-repo.ts';
import { rows } from './db.ts';
import type { Db } from './db.ts';
import { MessagesRepo } from './messages-repo.ts';

export async function seedDemoConversations(db: Db): Promise<void> {
  const found = await rows<{ id: string; login: string; team_id: string | null }>(db, sql`select id, login, team_id from users where login in ('broker1', 'client1', 'manager1')`);
  const ids = new Map(found.map((u) => [u.login, String(u.id)]));
  const teamId = found.find((u) => u.login === 'broker1')?.team_id ?? null;
  const broker = ids.get('broker1');
  const client = ids.get('client1');
  const manager = ids.get('manager1');
  if (!broker || !client || !manager) return;
  const convs = new ConversationsRepo(db);
  const messages = new MessagesRepo(db, new ArchiveRepo(db));
  // Demo history, not news: readers get it from history, and it is never relayed (no live push, no fanout).
  const say = async (conversationId: string, senderId: string, text: string) => {
    // With its conversation side (unread counters, the sender's read position, first-response wait), as every publish to conv.*.
    const { pub } = await messages.append({
      channel: convChannel(conversationId),
      family: 'conv',
      kind: 'chat',
      senderId,
      payload: { text },
      conversationId,
      subjects: [],
      inTx: (tx, p) => convs.recordMessage(tx, p),
    });
    await messages.relayed([{ channel: pub.channel, offset: pub.offset }]);
    return pub.offset;
  };

  const { conversation: bc } = await convs.openBrokerClient(broker, client, broker);
  await say(bc.id, client, '王经理您好，想请教一下最近的市场情况。');
  const answered = await say(bc.id, broker, '刘女士您好！近期大盘震荡，消费板块估值已回到合理区间，我稍后把研究所的点评转给您。');
  await convs.advance(bc.id, client, 'read', answered);
  await say(bc.id, client, '好的，谢谢。另外我的风险测评是不是快到期了？');

  const { conversation: bm } = await convs.openBrokerManager(broker, manager, teamId, manager);
  await say(bm.id, manager, '本周客户回访进度如何？');
  await say(bm.id, broker, '已完成 12 位，剩余 5 位周五前完成。');
}
