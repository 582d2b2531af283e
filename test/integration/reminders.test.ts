/**
 * Work reminders (工作提醒) through the real API of an embedded hub: creating (targets, due time,
 * Idempotency-Key), someone else's reminder, snooze / done / dismiss and closed reminders, the archive;
 * the sweep's automatic reminders (risk expiry 30 days ahead and on the day, a waiting client, a task
 * and a follow-up due within 24 hours), each made once; firing into the owner's inbox once, and by
 * email to an owner who is offline (SMTP sink), in Chinese and English, never critical.
 */
import { and, eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assessmentExpiresOn } from '../../src/domain/suitability.ts';
import { archiveRecords, followups, inboxItems, messages, reminders, taskAssignments, tasks, users } from '../../src/store/schema/index.ts';
import type { PublicUser } from '../../src/store/users-repo.ts';
import { dbOf } from '../helpers/advisory.ts';
import { startEmbeddedApp, type TestApp } from '../helpers/app.ts';
import { SmtpSink } from '../helpers/smtp-sink.ts';
import { renderMessageEmail } from '../../workers/templates/render.ts';
import { pushMessageFor } from '../../workers/push.worker.ts';

type Login = { token: string; user: PublicUser };
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const shDate = (t: number) => new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Shanghai' }).format(new Date(t));

async function until<T>(fn: () => Promise<T | undefined | false | null>, what: string, timeoutMs = 15_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v as T;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('work reminders (embedded hub)', () => {
  let t: TestApp;
  let sink: SmtpSink;
  const u: Record<string, Login> = {};
  const tok = (l: string) => u[l].token;
  const id = (l: string) => u[l].user.id;
  let conv1: string;

  beforeAll(async () => {
    sink = await SmtpSink.start();
    t = await startEmbeddedApp({ QIAO_SMTP_URL: sink.url, QIAO_SERVICE_SWEEP_MS: '3600000', QIAO_EMAIL_BACKOFF_MS: '100' });
    for (const l of ['broker1', 'broker2', 'manager1', 'client1', 'research1']) u[l] = await t.login(l);
    const convs = await t.request('GET', '/api/conversations', { token: tok('broker1') });
    conv1 = convs.body.conversations.find((c: { type: string; client?: { id: string } }) => c.type === 'broker_client' && c.client?.id === id('client1')).id;
  });
  afterAll(async () => {
    await t?.close();
    await sink?.stop();
  });

  const create = (login: string, body: unknown, headers: Record<string, string> = {}) => t.request('POST', '/api/reminders', { token: tok(login), json: body, headers });
  const act = (login: string, rid: string, action: string, body: unknown = {}) => t.request('POST', `/api/reminders/${rid}/${action}`, { token: tok(login), json: body });
  const list = (login: string, state = 'open') => t.request('GET', `/api/reminders?state=${state}`, { token: tok(login) });
  const row = async (rid: string) => (await dbOf(t).select().from(reminders).where(eq(reminders.id, rid)))[0];
  const inHours = (h: number) => new Date(Date.now() + h * HOUR).toISOString();
  const code = (r: { status: number; body: any }) => [r.status, r.body?.error?.code];

  it('a broker sets a reminder about their client and conversation; it lists with the client name and is archived', async () => {
    const r = await create('broker1', { title: '致电刘女士', note: '确认风险测评预约时间', dueAt: inHours(20), clientId: id('client1'), conversationId: conv1 });
    expect(r.status, r.text).toBe(201);
    expect(r.body.reminder).toMatchObject({ kind: 'manual', state: 'pending', title: '致电刘女士', client: { id: id('client1'), displayName: '刘女士' }, conversationId: conv1, snoozeCount: 0 });
    const l = await list('broker1');
    expect(l.body.reminders.map((x: { id: string }) => x.id)).toContain(r.body.reminder.id);
    expect(l.body.counts.pending).toBeGreaterThanOrEqual(1);
    const [rec] = await dbOf(t).select().from(archiveRecords).where(and(eq(archiveRecords.kind, 'reminder.created'), sql`${archiveRecords.body} ->> 'reminderId' = ${r.body.reminder.id}`));
    expect(rec).toMatchObject({ retentionClass: 'service-reminders', actorId: id('broker1') });
    // Nobody else sees it.
    expect((await list('broker2')).body.reminders.map((x: { id: string }) => x.id)).not.toContain(r.body.reminder.id);
  });

  it('refuses bad input with stable codes and writes nothing', async () => {
    const before = (await dbOf(t).select({ n: sql<number>`count(*)::int` }).from(reminders))[0].n;
    expect(code(await create('broker1', { title: '过去', dueAt: new Date(Date.now() - 60_000).toISOString() }))).toEqual([400, 'QIAO_REMINDER_IN_PAST']);
    expect(code(await create('broker1', { title: '太远', dueAt: new Date(Date.now() + 367 * DAY).toISOString() }))).toEqual([400, 'QIAO_REMINDER_IN_PAST']);
    // broker2's client, and a conversation broker2 is not in.
    const inst1 = (await dbOf(t).select({ id: users.id }).from(users).where(eq(users.login, 'inst1')))[0].id;
    expect(code(await create('broker1', { title: 'x', dueAt: inHours(1), clientId: inst1 }))).toEqual([422, 'QIAO_REMINDER_TARGET_INVALID']);
    expect(code(await create('broker2', { title: 'x', dueAt: inHours(1), conversationId: conv1 }))).toEqual([422, 'QIAO_REMINDER_TARGET_INVALID']);
    // A manager reads the team's client conversation but does not write in it.
    expect(code(await create('manager1', { title: 'x', dueAt: inHours(1), conversationId: conv1 }))).toEqual([422, 'QIAO_REMINDER_TARGET_INVALID']);
    // A conversation with another client than the one named.
    const client2 = (await dbOf(t).select({ id: users.id }).from(users).where(eq(users.login, 'client2')))[0].id;
    expect(code(await create('broker1', { title: 'x', dueAt: inHours(1), clientId: client2, conversationId: conv1 }))).toEqual([422, 'QIAO_REMINDER_TARGET_INVALID']);
    expect(code(await create('broker1', { title: 'x', dueAt: inHours(1), clientId: 'not-a-uuid' }))).toEqual([400, 'QIAO_BAD_REQUEST']);
    expect(code(await create('broker1', { title: '   ', dueAt: inHours(1) }))).toEqual([400, 'QIAO_BAD_REQUEST']);
    expect(code(await create('broker1', { title: 'x', dueAt: 'tomorrow' }))).toEqual([400, 'QIAO_BAD_REQUEST']);
    expect(code(await create('broker1', { title: 'x', dueAt: inHours(1), extra: 1 }))).toEqual([400, 'QIAO_BAD_REQUEST']);
    expect(code(await create('broker1', { title: 'nul\u0000', dueAt: inHours(1) }))).toEqual([400, 'QIAO_BAD_REQUEST']);
    expect(code(await create('client1', { title: 'x', dueAt: inHours(1) }))).toEqual([403, 'QIAO_FORBIDDEN']);
    expect((await t.request('POST', '/api/reminders', { json: { title: 'x', dueAt: inHours(1) } })).status).toBe(401);
    const after = (await dbOf(t).select({ n: sql<number>`count(*)::int` }).from(reminders))[0].n;
    expect(after).toBe(before);
    // A manager may name a client of a broker of their team.
    expect((await create('manager1', { title: '关注刘女士', dueAt: inHours(2), clientId: id('client1') })).status).toBe(201);
  });

  it('Idempotency-Key: the same body returns the same reminder (even after a snooze); another body is refused', async () => {
    const body = { title: '回电周先生', dueAt: inHours(5) };
    const a = await create('broker1', body, { 'idempotency-key': 'rem-k1' });
    const b = await create('broker1', { ...body, dueAt: new Date(Date.parse(body.dueAt)).toISOString().replace('Z', '+00:00') }, { 'idempotency-key': 'rem-k1' });
    expect([a.status, b.status]).toEqual([201, 200]);
    expect(b.body).toMatchObject({ duplicate: true, reminder: { id: a.body.reminder.id } });
    expect((await act('broker1', a.body.reminder.id, 'snooze', { minutes: 30 })).status).toBe(200);
    expect((await create('broker1', body, { 'idempotency-key': 'rem-k1' })).body.reminder.id).toBe(a.body.reminder.id);
    expect(code(await create('broker1', { ...body, title: '别的' }, { 'idempotency-key': 'rem-k1' }))).toEqual([409, 'QIAO_IDEMPOTENCY_MISMATCH']);
    // Keys are per owner: broker2 may use the same one.
    expect((await create('broker2', body, { 'idempotency-key': 'rem-k1' })).status).toBe(201);
    const concurrent = await Promise.all([1, 2, 3].map(() => create('broker1', { title: '并发', dueAt: body.dueAt }, { 'idempotency-key': 'rem-k2' })));
    expect(new Set(concurrent.map((r) => r.body.reminder.id)).size).toBe(1);
    expect(concurrent.map((r) => r.status).sort()).toEqual([200, 200, 201]);
  });

  it("someone else's reminder is not found; snooze, done and dismiss follow the states", async () => {
    const r = (await create('broker1', { title: '状态', dueAt: inHours(3) })).body.reminder;
    for (const action of ['done', 'dismiss', 'snooze']) {
      expect(code(await act('broker2', r.id, action, action === 'snooze' ? { minutes: 5 } : {}))).toEqual([404, 'QIAO_REMINDER_NOT_FOUND']);
    }
    expect(code(await act('broker1', '00000000-0000-4000-8000-000000000000', 'done'))).toEqual([404, 'QIAO_REMINDER_NOT_FOUND']);
    expect(code(await act('broker1', r.id, 'snooze', { minutes: 0 }))).toEqual([400, 'QIAO_BAD_REQUEST']);
    expect(code(await act('broker1', r.id, 'snooze', {}))).toEqual([400, 'QIAO_BAD_REQUEST']);
    expect(code(await act('broker1', r.id, 'snooze', { until: new Date(Date.now() - 1000).toISOString() }))).toEqual([400, 'QIAO_REMINDER_IN_PAST']);
    const until = inHours(6);
    const s = await act('broker1', r.id, 'snooze', { until });
    expect(s.body).toMatchObject({ changed: true, reminder: { state: 'pending', snoozeCount: 1, dueAt: new Date(until).toISOString() } });
    const d1 = await act('broker1', r.id, 'done');
    expect(d1.body).toMatchObject({ changed: true, reminder: { state: 'done' } });
    // Repeating done answers unchanged; anything else on a closed reminder is refused.
    expect((await act('broker1', r.id, 'done')).body).toMatchObject({ changed: false, reminder: { state: 'done' } });
    expect(code(await act('broker1', r.id, 'dismiss'))).toEqual([409, 'QIAO_REMINDER_CLOSED']);
    expect(code(await act('broker1', r.id, 'snooze', { minutes: 10 }))).toEqual([409, 'QIAO_REMINDER_CLOSED']);
    expect((await list('broker1', 'done')).body.reminders[0]).toMatchObject({ id: r.id, state: 'done' });
    const x = (await create('broker1', { title: '忽略', dueAt: inHours(3) })).body.reminder;
    expect((await act('broker1', x.id, 'dismiss')).body.reminder.state).toBe('dismissed');
    expect((await act('broker1', x.id, 'dismiss')).body.changed).toBe(false);
    expect(code(await act('broker1', x.id, 'done'))).toEqual([409, 'QIAO_REMINDER_CLOSED']);
    const trail = await dbOf(t).select().from(archiveRecords).where(and(eq(archiveRecords.kind, 'reminder.state'), sql`${archiveRecords.body} ->> 'reminderId' = ${r.id}`));
    expect(trail.map((a) => (a.body as { action: string }).action).sort()).toEqual(['done', 'snooze']);
  });

  it('the sweep makes each automatic reminder once, for the right owner, and fires it into the inbox once', async () => {
    const db = dbOf(t);
    const now = Date.now();
    // client2's assessment expires in 10 days, client3's today; inst1 (broker2) far away.
    const client2 = (await db.select({ id: users.id }).from(users).where(eq(users.login, 'client2')))[0].id;
    const client3 = (await db.select({ id: users.id }).from(users).where(eq(users.login, 'client3')))[0].id;
    await db.update(users).set({ riskExpiresOn: shDate(now + 10 * DAY) }).where(eq(users.id, client2));
    // No explicit expiry: assessed two years ago today, by the suitability rule.
    const assessed = new Date(Date.parse(`${shDate(now)}T00:00:00Z`) - 730 * DAY).toISOString().slice(0, 10);
    expect(assessmentExpiresOn(assessed, null)).toBe(shDate(now));
    await db.update(users).set({ riskExpiresOn: null, riskAssessedOn: assessed }).where(eq(users.id, client3));
    // client1 has waited (seeded question) more than 30 minutes at the sweep's time.
    const [task] = await db.insert(tasks).values({ managerId: id('manager1'), title: '季度回访', detail: '', dueAt: new Date(now + 5 * HOUR) }).returning();
    await db.insert(taskAssignments).values({ taskId: task.id, brokerId: id('broker1'), state: 'accepted' });
    const firm = (await db.select({ f: users.firmId }).from(users).where(eq(users.id, id('client1'))))[0].f;
    const [fu] = await db.insert(followups).values({ firmId: firm, clientId: id('client1'), brokerId: id('broker1'), assigneeId: id('manager1'), dueAt: new Date(now + 6 * HOUR) }).returning();

    const at = new Date(now + 2 * HOUR);
    await t.app.qiao.sweeper!.runOnce(at);
    await t.app.qiao.sweeper!.runOnce(new Date(at.getTime() + 60_000));
    const auto = await db.select().from(reminders).where(sql`${reminders.kind} <> 'manual'`);
    const pick = (kind: string, pred: (r: (typeof auto)[number]) => boolean) => auto.filter((r) => r.kind === kind && pred(r));
    expect(pick('risk_expiry', (r) => r.clientId === client2)).toHaveLength(1);
    expect(pick('risk_expiry', (r) => r.clientId === client2)[0]).toMatchObject({ ownerId: id('broker1'), state: 'fired', title: `周先生 的风险测评将于 ${shDate(now + 10 * DAY)} 到期，请提醒客户重新测评` });
    expect(pick('risk_expiry_today', (r) => r.clientId === client3)).toHaveLength(1);
    expect(pick('risk_expiry', (r) => r.clientId === client3)).toHaveLength(0);
    expect(pick('client_waiting', (r) => r.conversationId === conv1)).toHaveLength(1);
    expect(pick('task_due', (r) => r.taskId === task.id)).toMatchObject([{ ownerId: id('broker1'), state: 'fired' }]);
    expect(pick('followup_due', (r) => r.followupId === fu.id)).toMatchObject([{ ownerId: id('manager1'), clientId: id('client1'), state: 'fired' }]);

    // Exactly one inbox message per fired reminder, from the reminder service.
    for (const r of auto.filter((x) => x.state === 'fired' && x.ownerId === id('broker1') && x.createdAt.getTime() >= at.getTime())) {
      const msgs = await db.select().from(messages).where(and(eq(messages.channel, `inbox.${r.ownerId}`), sql`${messages.payload} ->> 'reminderId' = ${r.id}`));
      expect(msgs).toHaveLength(1);
      expect(msgs[0]).toMatchObject({ id: r.messageId, kind: 'reminder', senderId: 'reminders' });
    }
    const waiting = pick('client_waiting', (r) => r.conversationId === conv1)[0];
    const history = await t.request('GET', `/api/channels/inbox.${id('broker1')}/history?limit=100`, { token: tok('broker1') });
    const seen = history.body.publications.find((p: { id: string }) => p.id === waiting.messageId);
    expect(seen).toMatchObject({ kind: 'reminder', payload: { reminderId: waiting.id, kind: 'client_waiting', clientName: '刘女士', conversationId: conv1, url: '/reminders' } });

    // A done task makes no reminder; a later due time of the same wait makes none either.
    const [task2] = await db.insert(tasks).values({ managerId: id('manager1'), title: '已完成任务', detail: '', dueAt: new Date(now + 5 * HOUR) }).returning();
    await db.insert(taskAssignments).values({ taskId: task2.id, brokerId: id('broker1'), state: 'done' });
    await t.app.qiao.sweeper!.runOnce(new Date(at.getTime() + 120_000));
    expect(await db.select().from(reminders).where(eq(reminders.taskId, task2.id))).toHaveLength(0);
    expect(await db.select().from(reminders).where(and(eq(reminders.kind, 'client_waiting'), eq(reminders.conversationId, conv1)))).toHaveLength(1);
  });

  it('a manual reminder fires once at its time, again after a snooze with a new key, and a snooze that wins the race stops the firing', async () => {
    const db = dbOf(t);
    const r = (await create('broker1', { title: '看盘后回电', dueAt: inHours(1) })).body.reminder;
    await t.app.qiao.sweeper!.runOnce(new Date(Date.now() + 30 * 60_000));
    expect((await row(r.id)).state).toBe('pending');
    const when = new Date(Date.now() + 3 * HOUR);
    await Promise.all([t.app.qiao.sweeper!.runOnce(when), t.app.qiao.sweeper!.runOnce(when)]);
    const fired = await row(r.id);
    expect(fired).toMatchObject({ state: 'fired', snoozeCount: 0 });
    const count = async () => (await db.select().from(messages).where(sql`${messages.payload} ->> 'reminderId' = ${r.id}`)).length;
    expect(await count()).toBe(1);
    expect((await list('broker1')).body.counts.fired).toBeGreaterThanOrEqual(1);
    const s = await act('broker1', r.id, 'snooze', { minutes: 15 });
    expect(s.body.reminder).toMatchObject({ state: 'pending', snoozeCount: 1 });
    await t.app.qiao.sweeper!.runOnce(new Date(Date.now() + HOUR));
    expect(await count()).toBe(2);
    const keys = (await db.select({ k: messages.idempotencyKey }).from(messages).where(sql`${messages.payload} ->> 'reminderId' = ${r.id}`)).map((m) => m.k).sort();
    expect(keys).toEqual([`reminder-${r.id}-0`, `reminder-${r.id}-1`]);
    // Done before it is due again: nothing more is sent.
    await act('broker1', r.id, 'snooze', { minutes: 15 });
    await act('broker1', r.id, 'done');
    await t.app.qiao.sweeper!.runOnce(new Date(Date.now() + 2 * HOUR));
    expect(await count()).toBe(2);
  });

  it('an offline owner with email on gets the reminder by email, in their language, not marked important', async () => {
    const db = dbOf(t);
    const r = (await create('broker1', { title: '致电刘女士 <确认>', note: '询问风险测评', dueAt: inHours(1), clientId: id('client1') })).body.reminder;
    await t.app.qiao.sweeper!.runOnce(new Date(Date.now() + 2 * HOUR));
    const messageId = (await row(r.id)).messageId!;
    expect(messageId).toBeTruthy();
    await until(async () => (await db.select().from(inboxItems).where(and(eq(inboxItems.messageId, messageId), eq(inboxItems.userId, id('broker1'))))).length > 0, 'inbox item');
    await sink.waitFor(() => sink.about(messageId).length === 1, 15_000, 'reminder mail');
    const mail = await sink.parse(sink.about(messageId)[0]);
    expect(mail.subject).toBe('[工作提醒] 致电刘女士 <确认>');
    expect(mail.subject).not.toContain('重要');
    expect(mail.text).toContain('客户: 刘女士');
    expect(mail.text).toContain('询问风险测评');
    expect(mail.text).toContain('/reminders');
    expect(mail.html).toContain('致电刘女士 &lt;确认&gt;');

    // The same payloads rendered for an English reader, and as a push notification.
    const auto = { reminderId: r.id, kind: 'risk_expiry', title: '周先生 的风险测评将于 2026-06-01 到期', note: '', dueAt: '2026-05-12T01:00:00.000Z', snoozeCount: 0, clientName: '周先生', expiresOn: '2026-06-01', url: '/reminders' };
    const en = renderMessageEmail({ id: messageId, channel: `inbox.${id('broker1')}`, kind: 'reminder', payload: auto, publishedAt: new Date() }, { lang: 'en', recipientName: 'Wang', timeZone: 'Asia/Shanghai', publicUrl: 'https://q.example' });
    expect(en.subject).toBe("[Reminder] 周先生's risk assessment expires on 2026-06-01: ask them to reassess");
    expect(en.text).toContain('Client: 周先生');
    expect(en.text).toContain('https://q.example/reminders');
    const push = pushMessageFor({ messageId, channel: `inbox.${id('broker1')}`, kind: 'reminder', payload: auto, locale: 'en' });
    expect(push.payload).toMatchObject({ title: "周先生's risk assessment expires on 2026-06-01: ask them to reassess", url: '/reminders' });
    expect(push.payload.body).toContain('Due');
    expect(push.options.urgency).not.toBe('high');
    expect(pushMessageFor({ messageId, channel: `inbox.${id('broker1')}`, kind: 'reminder', payload: auto }).payload.title).toBe(auto.title);
  });

  it('nobody but the service publishes a reminder into an inbox', async () => {
    const r = await t.request('POST', `/api/channels/inbox.${id('broker1')}/publications`, {
      token: tok('broker1'),
      json: { kind: 'reminder', payload: { reminderId: '00000000-0000-4000-8000-000000000000', kind: 'manual', title: 'x', note: '', dueAt: new Date().toISOString(), snoozeCount: 0 } },
    });
    expect(r.status).toBeGreaterThanOrEqual(400);
    expect(r.status).toBeLessThan(500);
  });
});
