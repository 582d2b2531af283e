/**
 * Four weeks of demo conversations (part of seedServiceHistory): broker3 with the clients of its book
 * that had opened their account by then, broker1 with client2, broker2 with inst1 (so the
 * branch and firm roll-ups have two branches). Each exchange is a client's question, the broker's
 * answer after a wait from a minute to a few hours (some the next trading day), often a thank-you and a
 * closing line; two of broker3's clients are waiting now. Deterministic (seeded PRNG) relative to now.
 *
 * Every message goes through the message log with its conversation side (ConversationsRepo.
 * recordMessage) at its backdated time (`at`), so offsets follow time per channel and the response
 * episodes, rollups, waits and last chat times are those a live run would have made. Demo history is
 * never relayed (no live push, no fanout); clients have read everything sent to them.
 */
import { sql } from 'drizzle-orm';
import { addDays, localParts, zonedToInstant } from '../domain/zoned-time.ts';
import { MARKET_TZ, nextSessionOpen } from '../domain/trading-sessions.ts';
import { ArchiveRepo } from './archive-repo.ts';
import { ConversationsRepo, convChannel } from './conversations-repo.ts';
import { rows, type Db } from './db.ts';
import { MessagesRepo, type AppendInput } from './messages-repo.ts';
import { prng } from '../domain/prng.ts';

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

const TOPICS: ReadonlyArray<readonly [string, string]> = [
  ['请问最近新发的那只债券基金适合我吗？', '您好，这只是中短债基金，风险等级 R2，和您的风险承受能力匹配。我把产品说明书发您，您先看看费率和赎回规则。'],
  ['今天大盘跌得厉害，我手里的白酒股要不要减仓？', '理解您的担心。短期波动主要受资金面影响，公司基本面没有大变化，不建议在恐慌时集中卖出，可以结合仓位分批调整，我们约个时间详细聊。'],
  ['港股通怎么开通？需要什么条件？', '港股通要求开通前20个交易日证券账户日均资产不低于50万元，并通过知识测评。符合条件的话在App“业务办理”里就能申请，我可以陪您一步步操作。'],
  ['我的账户显示有一笔资金冻结，是什么原因？', '我查了一下，是您申购新股中签后预留的缴款资金，今天收市后会自动扣款，没用到的部分会解冻。'],
  ['可转债打新有什么风险？', '可转债上市首日也可能跌破面值；中签后放弃缴款，12个月内累计3次会被暂停申购资格。建议量力申购。'],
  ['上次的分红到账了吗？怎么没看到？', '派息到账日是下周一，届时会直接进入您的资金账户，红利税按持有期限计算。'],
  ['想把一部分闲钱放进国债逆回购，怎么操作？', '交易日 15:30 前在App“国债逆回购”里选期限就可以，1天期适合短期闲置资金。我发您一份操作截图。'],
  ['最近有没有研究所关于新能源的报告？', '有的，研究所本周刚发布了新能源车产业链的深度报告，我转到您的收件箱了，重点看第三部分的估值分析。'],
  ['我的融资融券额度能提高吗？', '额度根据您的资产和征信评级确定，我帮您提交额度调整申请，一般两个交易日内会有结果。'],
  ['帮我看看组合里哪个持仓风险比较集中？', '您目前半导体相关持仓占比较高，波动会比较大。可以考虑适当分散到消费和红利类资产，我整理一份调整建议给您。'],
  ['App登录一直提示密码错误，怎么办？', '可能是连续输错被临时锁定了，30分钟后会自动解锁；还不行的话可以在登录页用手机号重置密码。'],
  ['营业部周六有人吗？我想去办理业务。', '周六不办理柜台业务，大部分业务可以在App上办理。需要现场办理的话，工作日 9:00–17:00 都可以，我帮您预约。'],
];
const INSTITUTIONAL: ReadonlyArray<readonly [string, string]> = [
  ['下周我们想参与一只科创板新股的网下询价，贵司能协助吗？', '可以，机构服务组会协助贵司完成网下投资者备案和询价材料，我今天下午把材料清单发给您。'],
  ['请提供上月的交易对账单和佣金明细。', '好的，已通过邮件发送至贵司登记邮箱，请查收。'],
  ['大宗交易的通道本周能安排吗？', '可以安排，请把标的、数量和意向价格区间发我，我和交易部确认后回复您。'],
];
const NUDGES = ['在吗？', '麻烦尽快回复一下，谢谢。', '另外想再问一下手续费的情况。'];
const THANKS = ['好的，明白了，谢谢！', '收到，辛苦了。', '好的，我再考虑一下。'];
const CLOSINGS = ['不客气，有问题随时联系我。', '好的，有新情况我第一时间告诉您。', '应该的，祝您投资顺利！'];


interface Line {
  sender: string;
  text: string;
  at: Date;
}

interface Pair {
  brokerId: string;
  clientId: string;
  /** No chat before this (the account's opening). */
  since: Date;
  exchanges: number;
  topics: ReadonlyArray<readonly [string, string]>;
  /** The client's question waiting now, this long (none: everything is answered). */
  waitingFor?: number;
}

/** Shanghai wall time `daysAgo` days before `now`'s date, moved to the next weekday if needed. */
function localTime(now: Date, daysAgo: number, hour: number, minute: number): Date {
  const p = localParts(now, MARKET_TZ);
  let d = addDays(p.year, p.month, p.day, -daysAgo);
  while (d.weekday === 0 || d.weekday === 6) d = addDays(d.year, d.month, d.day, 1);
  return zonedToInstant(d.year, d.month, d.day, hour, minute, MARKET_TZ);
}

/** How long the broker takes to answer: mostly minutes, some hours, some the next trading day (null). */
function pickWait(r: () => number): number | null {
  const x = r();
  if (x < 0.35) return (1 + Math.floor(r() * 4)) * MIN;
  if (x < 0.6) return (5 + Math.floor(r() * 15)) * MIN;
  if (x < 0.75) return (20 + Math.floor(r() * 40)) * MIN;
  if (x < 0.9) return (60 + Math.floor(r() * 120)) * MIN;
  return null;
}

/** One conversation's lines, oldest first, all before `now`. */
function conversationLines(p: Pair, r: () => number, now: Date): Line[] {
  const lines: Line[] = [];
  const cutoff = now.getTime() - (p.waitingFor ? p.waitingFor + 3 * HOUR : 30 * MIN);
  const firstDay = Math.min(27, Math.floor((now.getTime() - p.since.getTime()) / DAY) - 1);
  if (firstDay < 1) return lines;
  // Exchanges on spread-out days of the window, oldest first.
  const step = firstDay / p.exchanges;
  for (let i = 0; i < p.exchanges; i++) {
    const daysAgo = Math.max(1, Math.round(firstDay - i * step - r() * Math.max(0, step - 1)));
    const wait = pickWait(r);
    // Next-day answers are to evening questions; the others come in market hours.
    let asked = wait === null ? localTime(now, daysAgo, 17 + Math.floor(r() * 4), Math.floor(r() * 60)) : localTime(now, daysAgo, 9 + Math.floor(r() * 6), Math.floor(r() * 60));
    const last = lines[lines.length - 1];
    if (last && asked.getTime() <= last.at.getTime() + HOUR) asked = new Date(last.at.getTime() + 2 * HOUR);
    const [q, a] = p.topics[Math.floor(r() * p.topics.length)];
    const out: Line[] = [{ sender: p.clientId, text: q, at: asked }];
    let t = asked.getTime();
    if (r() < 0.3) out.push({ sender: p.clientId, text: NUDGES[Math.floor(r() * NUDGES.length)], at: new Date((t += (1 + Math.floor(r() * 3)) * MIN)) });
    const answered = wait === null ? nextSessionOpen(new Date(asked.getTime() + HOUR)).getTime() + (5 + Math.floor(r() * 25)) * MIN : asked.getTime() + wait;
    t = Math.max(answered, t + MIN);
    out.push({ sender: p.brokerId, text: a, at: new Date(t) });
    if (r() < 0.6) {
      out.push({ sender: p.clientId, text: THANKS[Math.floor(r() * THANKS.length)], at: new Date((t += (2 + Math.floor(r() * 10)) * MIN)) });
      out.push({ sender: p.brokerId, text: CLOSINGS[Math.floor(r() * CLOSINGS.length)], at: new Date((t += (1 + Math.floor(r() * 6)) * MIN)) });
    }
    if (t >= cutoff) break;
    lines.push(...out);
  }
  if (p.waitingFor) {
    const asked = now.getTime() - p.waitingFor;
    lines.push({ sender: p.clientId, text: '您好，我想咨询一下定投指数基金，每月投多少合适？', at: new Date(asked) });
    lines.push({ sender: p.clientId, text: NUDGES[1], at: new Date(asked + 4 * MIN) });
  }
  return lines;
}

export async function seedHistoryConversations(db: Db, now: Date): Promise<void> {
  const people = await rows<{ id: string; login: string; created_at: Date | string; broker: string | null }>(
    db,
    sql`select u.id::text, u.login, u.created_at, b.login as broker from users u
          left join broker_clients bc on bc.client_id = u.id and bc.relation = 'primary' left join users b on b.id = bc.broker_id
        where u.login in ('broker1', 'broker2', 'broker3', 'client2', 'client3', 'inst1') or b.login = 'broker3'
        order by u.login`,
  );
  const id = new Map(people.map((p) => [p.login, p.id]));
  const [broker1, broker2, broker3] = ['broker1', 'broker2', 'broker3'].map((l) => id.get(l));
  if (!broker1 || !broker2 || !broker3) return;
  const pairs: Pair[] = [];
  const longAgo = new Date(now.getTime() - 60 * DAY);
  // broker1's history is with client2 only: client1's conversation and client3's (transferred in the
  // suites, its history asserted) stay as the first demo part made them.
  for (const [login, n] of [['client2', 7]] as const) {
    const c = id.get(login);
    if (c) pairs.push({ brokerId: broker1, clientId: c, since: longAgo, exchanges: n, topics: TOPICS });
  }
  const inst = id.get('inst1');
  if (inst) pairs.push({ brokerId: broker2, clientId: inst, since: longAgo, exchanges: 3, topics: INSTITUTIONAL });
  const book = people.filter((p) => p.broker === 'broker3');
  book.forEach((c, i) => {
    // Accounts opened this week: nobody has talked to them yet (the book's coverage is below 100%).
    if (now.getTime() - new Date(c.created_at).getTime() < 7 * DAY) return;
    // Two of the book wait now: one for 40 minutes, one for two and a half hours.
    const waitingFor = c.login === 'client13' ? 40 * MIN : c.login === 'client17' ? 150 * MIN : undefined;
    pairs.push({ brokerId: broker3, clientId: c.id, since: new Date(c.created_at), exchanges: 2 + (i % 3), topics: TOPICS, waitingFor });
  });

  const convs = new ConversationsRepo(db);
  const messages = new MessagesRepo(db, new ArchiveRepo(db));
  const r = prng(20260511);
  const all: Array<Line & { conversationId: string }> = [];
  const opened: string[] = [];
  for (const p of pairs) {
    const lines = conversationLines(p, r, now);
    if (!lines.length) continue;
    const { conversation } = await convs.openBrokerClient(p.brokerId, p.clientId, p.clientId);
    opened.push(conversation.id);
    for (const l of lines) all.push({ ...l, conversationId: conversation.id });
  }
  // In time order across conversations (the archive reads as it happened); a channel's lines keep their order.
  all.sort((a, b) => a.at.getTime() - b.at.getTime());
  const inputs: AppendInput[] = all.map((l) => ({
    channel: convChannel(l.conversationId),
    family: 'conv',
    kind: 'chat',
    senderId: l.sender,
    payload: { text: l.text },
    conversationId: l.conversationId,
    subjects: [],
    at: l.at,
    inTx: (tx, pub) => convs.recordMessage(tx, pub),
  }));
  // All at once: the log's group commit writes them in a few transactions of up to 64.
  const pubs = await Promise.all(inputs.map((input) => messages.append(input)));
  await messages.relayed(pubs.map(({ pub }) => ({ channel: pub.channel, offset: pub.offset })));
  if (!opened.length) return;
  const list = sql.join(opened.map((c) => sql`${c}::uuid`), sql`, `);
  // A conversation dates from its first message; its client has read everything (the demo's unread is the broker's).
  await db.execute(sql`update conversations c set created_at = (select min(m.created_at) from messages m where m.channel = 'conv.' || c.id::text)
    where c.id in (${list})`);
  await db.execute(sql`update conversation_reads rd set read_offset = ch.last_offset, delivered_offset = ch.last_offset, unread = 0, updated_at = now()
    from conversations c join channels ch on ch.name = 'conv.' || c.id::text
    where c.id in (${list}) and rd.conversation_id = c.id and rd.user_id = c.client_id`);
}
