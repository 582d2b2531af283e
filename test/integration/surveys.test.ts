/**
 * Satisfaction surveys (满意度调查) against real Postgres and Redis: sent when a broker marks a
 * conversation resolved and when a conversation goes quiet after the broker side's last chat (once per
 * offset and per 7 days, across sweeps), answered once by that client only — two concurrent answers,
 * one wins — and bad input with its codes.
 */
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../src/auth/password.ts';
import { rows, type Db } from '../../src/store/db.ts';
import { DEMO_PASSWORD, startServicesApp, type TestApp } from '../helpers/app.ts';
import { dbOf } from '../helpers/advisory.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

describe('satisfaction surveys (Postgres + Redis)', () => {
  let t: TestApp;
  let db: Db;
  const tok: Record<string, string> = {};
  const ids: Record<string, string> = {};
  const q = <T = Record<string, unknown>>(s: ReturnType<typeof sql>) => rows<T>(db, s);
  const req = (login: string, method: string, path: string, json?: unknown) => t.request(method, path, { token: tok[login], json });
  const surveysOf = (conversationId: string) =>
    q<{ id: string; trigger: string; at_offset: number; broker_id: string; team_id: string | null; branch_id: string | null; message_id: string | null; sent_at: string }>(
      sql`select id::text, trigger, at_offset, broker_id::text, team_id::text, branch_id::text, message_id::text, sent_at from surveys where conversation_id = ${conversationId} order by sent_at`,
    );
  const open = async (broker: string, clientId: string) => (await req(broker, 'POST', '/api/conversations', { type: 'broker_client', clientId })).body.conversation.id as string;
  const say = async (login: string, conv: string, text: string) => {
    const r = await req(login, 'POST', `/api/conversations/${conv}/messages`, { kind: 'chat', payload: { text } });
    expect(r.status, r.text).toBe(201);
  };
  const sweep = (at: Date) => t.app.qiao.sweeper!.runOnce(at);

  beforeAll(async () => {
    t = await startServicesApp({ QIAO_SERVICE_SWEEP_MS: '3600000', QIAO_SERVICE_SURVEY_QUIET_H: '24' });
    db = dbOf(t);
    // Clients of broker1 of their own (the demo's have seeded surveys).
    const hash = await hashPassword(DEMO_PASSWORD);
    const [b1] = await q<{ id: string; firm_id: string; branch_id: string }>(sql`select id::text, firm_id::text, branch_id::text from users where login = 'broker1'`);
    for (const [login, name] of [['svA', '钱女士'], ['svB', '郑先生'], ['svC', '冯阿姨']]) {
      const [c] = await q<{ id: string }>(
        sql`insert into users (firm_id, login, password_hash, display_name, role, branch_id, tier, risk_level)
            values (${b1.firm_id}, ${login}, ${hash}, ${name}, 'client', ${b1.branch_id}, 'general', 'C3') returning id::text`,
      );
      await q(sql`insert into broker_clients (broker_id, client_id, relation) values (${b1.id}, ${c.id}, 'primary')`);
    }
    for (const l of ['broker1', 'broker2', 'manager1', 'client1', 'svA', 'svA', 'svB', 'svC', 'compliance1']) {
      const lg = await t.login(l);
      tok[l] = lg.token;
      ids[l] = lg.user.id;
    }
  }, 60_000);
  afterAll(async () => {
    await t?.close();
  });

  describe('resolved', () => {
    let conv: string;
    let surveyId: string;

    it('a broker with write access marks the conversation resolved; the client gets one survey', async () => {
      conv = await open('broker1', ids.svA);
      await say('svA', conv, '请问新股申购额度怎么算？');
      await say('broker1', conv, '按您前20个交易日的日均持有市值计算，我把规则发您。');
      const r = await req('broker1', 'POST', `/api/conversations/${conv}/resolve`);
      expect(r.status, r.text).toBe(200);
      expect(r.body.surveyId).toMatch(/^[0-9a-f-]{36}$/);
      surveyId = r.body.surveyId;
      const [c] = await q<{ resolved_at: string | null }>(sql`select resolved_at from conversations where id = ${conv}`);
      expect(c.resolved_at).not.toBeNull();
      const [s] = await surveysOf(conv);
      const [b] = await q<{ team_id: string; branch_id: string }>(sql`select team_id::text, branch_id::text from users where id = ${ids.broker1}`);
      expect(s).toMatchObject({ id: surveyId, trigger: 'resolved', broker_id: ids.broker1, team_id: b.team_id, branch_id: b.branch_id });
      expect(s.at_offset).toBeGreaterThan(0);
      // The inbox notice is the survey's message, stored with it.
      const [m] = await q<{ id: string; kind: string; payload: Record<string, unknown> }>(sql`select id::text, kind, payload from messages where channel = ${`inbox.${ids.svA}`} and kind = 'survey'`);
      expect(m.payload).toEqual({ surveyId, brokerName: '王经纪', conversationId: conv });
      expect(s.message_id).toBe(m.id);
      const mine = await req('svA', 'GET', '/api/surveys/mine');
      expect(mine.body.surveys).toEqual([expect.objectContaining({ id: surveyId, brokerName: '王经纪', trigger: 'resolved', score: null, answeredAt: null })]);
      // Resolving again (same offset, within 7 days): no second survey.
      const again = await req('broker1', 'POST', `/api/conversations/${conv}/resolve`);
      expect(again.status).toBe(200);
      expect(again.body.surveyId).toBeNull();
      expect(await surveysOf(conv)).toHaveLength(1);
    });

    it('refuses others with stable codes', async () => {
      const cases: Array<[string, string, string]> = [
        ['svA', conv, 'QIAO_FORBIDDEN'],
        ['client1', conv, 'QIAO_FORBIDDEN'],
        ['manager1', conv, 'QIAO_FORBIDDEN'],
        ['broker2', conv, 'QIAO_FORBIDDEN'],
        ['compliance1', conv, 'QIAO_FORBIDDEN'],
        ['broker1', '00000000-0000-4000-8000-000000000000', 'QIAO_CONVERSATION_NOT_FOUND'],
        ['broker1', 'not-a-uuid', 'QIAO_BAD_REQUEST'],
      ];
      for (const [l, c, code] of cases) expect((await req(l, 'POST', `/api/conversations/${c}/resolve`)).body.error.code, `${l} ${c}`).toBe(code);
      const bm = (await req('broker1', 'POST', '/api/conversations', { type: 'broker_manager' })).body.conversation.id;
      expect((await req('broker1', 'POST', `/api/conversations/${bm}/resolve`)).body.error.code).toBe('QIAO_CONVERSATION_INVALID');
      expect((await req('broker1', 'POST', `/api/conversations/${conv}/resolve`, { x: 1 })).body.error.code).toBe('QIAO_BAD_REQUEST');
    });

    it('is answered by that client only, once — of two concurrent answers exactly one wins', async () => {
      const answer = (l: string, id: string, body: unknown) => req(l, 'POST', `/api/surveys/${id}/answer`, body);
      expect((await answer('svB', surveyId, { score: 5 })).body.error.code).toBe('QIAO_SURVEY_FORBIDDEN');
      expect((await answer('client1', surveyId, { score: 5 })).body.error.code).toBe('QIAO_SURVEY_FORBIDDEN');
      expect((await answer('broker1', surveyId, { score: 5 })).body.error.code).toBe('QIAO_SURVEY_FORBIDDEN');
      expect((await answer('svA', '00000000-0000-4000-8000-000000000000', { score: 5 })).body.error.code).toBe('QIAO_SURVEY_NOT_FOUND');
      for (const bad of [{ score: 0 }, { score: 6 }, { score: 4.5 }, { score: '5' }, {}, { score: 5, comment: 'x'.repeat(501) }, { score: 5, extra: 1 }]) {
        expect((await answer('svA', surveyId, bad)).body.error.code, JSON.stringify(bad).slice(0, 60)).toBe('QIAO_BAD_REQUEST');
      }
      expect((await answer('svA', surveyId, { score: 5, comment: 'a\u0000' })).body.error.code).toBe('QIAO_BAD_REQUEST');
      const [a, b] = await Promise.all([answer('svA', surveyId, { score: 5, comment: '回复及时，很专业' }), answer('svA', surveyId, { score: 1, comment: '第二次' })]);
      expect([a.status, b.status].sort()).toEqual([200, 409]);
      const loser = a.status === 409 ? a : b;
      const winner = a.status === 200 ? a : b;
      expect(loser.body.error.code).toBe('QIAO_SURVEY_ANSWERED');
      const [row] = await q<{ score: number; comment: string; answered_at: string | null }>(sql`select score, comment, answered_at from surveys where id = ${surveyId}`);
      expect(row.score).toBe(winner.body.survey.score);
      expect(row.answered_at).not.toBeNull();
      expect((await answer('svA', surveyId, { score: 3 })).body.error.code).toBe('QIAO_SURVEY_ANSWERED');
      const recs = await q<{ retention_class: string }>(sql`select retention_class from archive_records where kind = 'survey.answered' and body->>'surveyId' = ${surveyId}`);
      expect(recs.map((r) => r.retention_class)).toEqual(['client-communications']);
      const mine = (await req('svA', 'GET', '/api/surveys/mine')).body.surveys;
      expect(mine[0]).toMatchObject({ id: surveyId, score: row.score, comment: row.comment });
      expect((await req('broker1', 'GET', '/api/surveys/mine')).body.error.code).toBe('QIAO_FORBIDDEN');
    });
  });

  describe('quiet', () => {
    it('surveys a conversation quiet for the set time after the broker side’s last chat, once per 7 days', async () => {
      const conv = await open('broker1', ids.svB);
      await say('svB', conv, '请问港股通怎么开通？');
      await say('broker1', conv, '周先生您好，需要满足资产和风险测评要求，我把材料发给您。');
      const now = Date.now();
      // Not quiet long enough yet.
      await sweep(new Date(now + 23 * HOUR));
      expect(await surveysOf(conv)).toHaveLength(0);
      await Promise.all([sweep(new Date(now + 25 * HOUR)), sweep(new Date(now + 25 * HOUR))]);
      await sweep(new Date(now + 26 * HOUR));
      const [s, ...more] = await surveysOf(conv);
      expect(more).toHaveLength(0);
      expect(s).toMatchObject({ trigger: 'quiet', broker_id: ids.broker1 });
      const inbox = await q(sql`select id from messages where channel = ${`inbox.${ids.svB}`} and kind = 'survey'`);
      expect(inbox).toHaveLength(1);

      // A new exchange two days later: quiet again, but within 7 days of the last survey.
      await say('broker1', conv, '材料已发送，请查收。');
      await sweep(new Date(now + 3 * DAY));
      expect(await surveysOf(conv)).toHaveLength(1);
      // After 7 days a new offset may be surveyed again.
      await sweep(new Date(now + 25 * HOUR + 7 * DAY + HOUR));
      const after = await surveysOf(conv);
      expect(after).toHaveLength(2);
      expect(after[1].at_offset).toBeGreaterThan(after[0].at_offset);
    });

    it('does not survey while the client waits for an answer, nor long-dead conversations', async () => {
      const conv = await open('broker1', ids.svC);
      await say('broker1', conv, '孙阿姨您好，本月理财产品到期提醒。');
      await say('svC', conv, '好的，到期后资金会自动回到账户吗？');
      await sweep(new Date(Date.now() + 30 * HOUR));
      expect(await surveysOf(conv)).toHaveLength(0);
      await say('broker1', conv, '是的，到期后第二个交易日到账。');
      // Quiet for more than two weeks beyond the quiet time: too old to ask about.
      await sweep(new Date(Date.now() + 24 * HOUR + 15 * DAY));
      expect(await surveysOf(conv)).toHaveLength(0);
      await sweep(new Date(Date.now() + 30 * HOUR));
      expect(await surveysOf(conv)).toHaveLength(1);
    });
  });
});
