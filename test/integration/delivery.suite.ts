/**
 * Delivery end to end, run against an embedded hub (MemoryQueue + PGlite, workers in-process) and
 * against real Postgres + Redis (BullMQ, workers in-process): publish over REST → fanout → inbox items,
 * delivery rows, email through a local smtp-server sink, parsed with mailparser. Each test uses its own
 * channel and recipients, and filters mail by the X-Qiao-Message-Id header.
 */
import { randomUUID } from 'node:crypto';
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isInSession, nextSessionOpen } from '../../src/domain/trading-sessions.ts';
import { localParts } from '../../src/domain/zoned-time.ts';
import { QUEUES } from '../../src/queue/jobs.ts';
import { deliveries, inboxItems, pushSubscriptions, users } from '../../src/store/schema/index.ts';
import type { TestApp } from '../helpers/app.ts';
import { SmtpSink } from '../helpers/smtp-sink.ts';

type Login = { token: string; user: { id: string; login: string } };

/** Settings every run uses: fast retries and escalation after 1 s. */
export const DELIVERY_TEST_ENV = {
  QIAO_ESCALATION_PUSH_AFTER_S: '1',
  QIAO_ESCALATION_EMAIL_AFTER_S: '1',
  QIAO_EMAIL_BACKOFF_MS: '100',
  QIAO_EMAIL_ATTEMPTS: '3',
  QIAO_SWEEP_INTERVAL_MS: '600000',
};

async function until<T>(fn: () => Promise<T | undefined | false | null> | T | undefined | false | null, what: string, timeoutMs = 15_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v as T;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const hm = (minutes: number) => {
  const m = ((minutes % 1440) + 1440) % 1440;
  return `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;
};

export function deliverySuite(label: string, start: (env: Record<string, string>) => Promise<TestApp>): void {
  describe(`delivery (${label})`, () => {
    let t: TestApp;
    let sink: SmtpSink;
    const u: Record<string, Login> = {};
    const db = () => t.app.qiao.db.db;

    beforeAll(async () => {
      sink = await SmtpSink.start();
      t = await start({ ...DELIVERY_TEST_ENV, QIAO_SMTP_URL: sink.url });
      for (const l of ['client1', 'client2', 'inst1', 'research1', 'broker1', 'broker2', 'manager1', 'compliance1', 'admin']) u[l] = await t.login(l);
    });
    afterAll(async () => {
      await t?.close();
      await sink?.stop();
    });

    const tok = (l: string) => u[l].token;
    const subscribe = async (login: string, channel: string, prefs?: object) => {
      const r = await t.request('PUT', `/api/subscriptions/${channel}`, { token: tok(login), json: prefs ? { prefs } : null });
      expect(r.status, r.text).toBeLessThan(300);
    };
    const setPrefs = async (login: string, categories: object) => {
      const r = await t.request('PUT', '/api/preferences', { token: tok(login), json: { categories } });
      expect(r.status, r.text).toBe(200);
      return r.body;
    };
    const publish = async (channel: string, payload: object, opts: { login?: string; kind?: string; key?: string } = {}) => {
      const r = await t.request('POST', `/api/channels/${channel}/publications`, {
        token: tok(opts.login ?? 'research1'),
        json: { kind: opts.kind ?? 'note', payload },
        headers: opts.key ? { 'idempotency-key': opts.key } : {},
      });
      expect(r.status, r.text).toBeLessThan(300);
      return r.body as { id: string; duplicate: boolean };
    };
    const note = (title: string) => ({ title, summary: `摘要：${title}`, tickers: ['600519.SH'], riskLevel: 'R3' });
    const rows = (messageId: string) => db().select().from(deliveries).where(eq(deliveries.messageId, messageId));
    const row = async (messageId: string, login: string, transport: 'inbox' | 'email' | 'push') =>
      (await rows(messageId)).find((r) => r.userId === u[login].user.id && r.transport === transport);
    const setUser = (login: string, set: Partial<typeof users.$inferInsert>) => db().update(users).set(set).where(eq(users.id, u[login].user.id));
    const sweepAt = async (at: Date) => {
      const id = `test-sweep-${randomUUID()}`;
      await t.app.qiao.queue.add(QUEUES.digest, 'sweep', { at: at.toISOString() }, { jobId: id, attempts: 1 });
      await until(async () => (await t.app.qiao.queue.pendingCount(QUEUES.digest)) === 0, 'the sweep');
    };

    it('fans a research note out to inbox and email, in each recipient’s language, with both bodies', async () => {
      await setUser('inst1', { locale: 'en' });
      for (const l of ['client1', 'inst1']) {
        await subscribe(l, 'research.strategy');
        await setPrefs(l, { research: { transports: { email: true } } });
      }
      const { id } = await publish('research.strategy', note('贵州茅台 <三季报> 点评 & 展望'));
      await sink.waitFor(() => sink.about(id).length === 2, 15_000, 'two mails');
      const byTo = new Map<string, Awaited<ReturnType<typeof sink.parse>>>();
      for (const m of sink.about(id)) byTo.set(m.to[0], await sink.parse(m));

      const zh = byTo.get('client1@qiao.example')!;
      expect(zh.subject).toBe('[研究报告] 贵州茅台 <三季报> 点评 & 展望');
      expect(zh.headers.get('content-language')).toBe('zh-CN');
      expect(zh.text).toContain('刘女士，您好');
      expect(zh.text).toContain('摘要：贵州茅台 <三季报> 点评 & 展望');
      expect(zh.text).toContain('风险等级: R3 中风险');
      expect(zh.html).toContain('贵州茅台 &lt;三季报&gt; 点评 &amp; 展望');
      expect(zh.html).not.toContain('<三季报>');
      expect(zh.html).toContain('投资有风险');
      // Deep links into the web client: the message in the inbox, and the notification settings in the footer.
      expect(zh.text).toContain(`/inbox/${id}`);
      expect(zh.html).toContain(`/inbox/${id}"`);
      expect(zh.html).toMatch(/<a href="[^"]*\/settings\/notifications"[^>]*>通知设置<\/a>/);
      expect((zh.to as { value: Array<{ address: string }> }).value[0].address).toBe('client1@qiao.example');
      expect(zh.messageId).toMatch(/^<delivery-[0-9a-f-]{36}@qiao\.mail>$/);

      const en = byTo.get('inst1@qiao.example')!;
      expect(en.subject).toBe('[Research] 贵州茅台 <三季报> 点评 & 展望');
      expect(en.headers.get('content-language')).toBe('en');
      expect(en.text).toContain('Dear 华夏资产管理有限公司,');
      expect(en.text).toContain('Risk level: R3 medium');
      expect(en.html).toContain('Investing involves risk');

      const inbox = await t.request('GET', '/api/inbox?state=unread', { token: tok('client1') });
      expect(inbox.body.items.some((i: { messageId: string }) => i.messageId === id)).toBe(true);
      const r = await rows(id);
      expect(r.filter((x) => x.transport === 'email').map((x) => x.status)).toEqual(['sent', 'sent']);
      expect(r.filter((x) => x.transport === 'inbox').map((x) => x.status)).toEqual(['delivered', 'delivered']);
      // Push is not among their chosen transports: no row at all (a transport not chosen is not a delivery).
      expect(r.filter((x) => x.transport === 'push')).toEqual([]);
      await setUser('inst1', { locale: 'zh-CN' });
    });

    it('a retried publish (same Idempotency-Key) is fanned out once', async () => {
      await subscribe('client1', 'research.fixed-income');
      const key = `retry-${randomUUID()}`;
      const a = await publish('research.fixed-income', note('国债收益率周报'), { key });
      const b = await publish('research.fixed-income', note('国债收益率周报'), { key });
      expect(b).toMatchObject({ id: a.id, duplicate: true });
      await sink.waitFor(() => sink.about(a.id).length >= 1, 15_000);
      await new Promise((r) => setTimeout(r, 500));
      expect(sink.about(a.id)).toHaveLength(1);
      const items = await db().select().from(inboxItems).where(eq(inboxItems.messageId, a.id));
      expect(items).toHaveLength(1);
      // One row per transport the recipient chose (inbox and email; not push or SMS), written once.
      expect((await rows(a.id)).map((x) => x.transport).sort()).toEqual(['email', 'inbox']);
    });

    it('re-checks entitlement at fanout: a client whose tier dropped gets nothing', async () => {
      await subscribe('client2', 'research.quant');
      await subscribe('inst1', 'research.quant');
      await setUser('client2', { tier: 'general' });
      try {
        const { id } = await publish('research.quant', note('量化因子月报'));
        await until(async () => (await db().select().from(inboxItems).where(eq(inboxItems.messageId, id))).length > 0, 'inst1 inbox item');
        await new Promise((r) => setTimeout(r, 300));
        const items = await db().select().from(inboxItems).where(eq(inboxItems.messageId, id));
        expect(items.map((i) => i.userId)).toEqual([u.inst1.user.id]);
        expect((await rows(id)).some((r) => r.userId === u.client2.user.id)).toBe(false);
      } finally {
        await setUser('client2', { tier: 'hnw' });
      }
    });

    it('inbox: list, read and archive with server-side counts; unknown items are 404', async () => {
      await subscribe('client2', 'research.macro');
      const a = await publish('research.macro', note('宏观周报 A'));
      const b = await publish('research.macro', note('宏观周报 B'));
      await until(async () => (await db().select().from(inboxItems).where(and(eq(inboxItems.userId, u.client2.user.id), eq(inboxItems.messageId, b.id)))).length, 'inbox items');
      const before = (await t.request('GET', '/api/inbox/counts', { token: tok('client2') })).body;
      const list = await t.request('GET', '/api/inbox?limit=10', { token: tok('client2') });
      expect(list.status).toBe(200);
      expect(list.body.items[0].publication.payload.title).toBe('宏观周报 B');
      const read = await t.request('POST', `/api/inbox/${a.id}/read`, { token: tok('client2') });
      expect(read.status).toBe(200);
      expect(read.body.state).toBe('read');
      expect(read.body.counts).toMatchObject({ unread: before.unread - 1, read: before.read + 1 });
      const arch = await t.request('POST', `/api/inbox/${b.id}/archive`, { token: tok('client2') });
      expect(arch.body.counts).toMatchObject({ unread: before.unread - 2, archived: before.archived + 1 });
      expect((await row(a.id, 'client2', 'inbox'))?.status).toBe('read');
      const archived = await t.request('GET', '/api/inbox?state=archived', { token: tok('client2') });
      expect(archived.body.items.map((i: { messageId: string }) => i.messageId)).toContain(b.id);
      // Reading an archived item keeps it archived.
      expect((await t.request('POST', `/api/inbox/${b.id}/read`, { token: tok('client2') })).body.state).toBe('archived');
      expect((await t.request('POST', `/api/inbox/${randomUUID()}/read`, { token: tok('client2') })).body.error.code).toBe('QIAO_NOT_FOUND');
      expect((await t.request('POST', `/api/inbox/${a.id}/read`, { token: tok('inst1') })).status).toBe(404);
      expect((await t.request('POST', '/api/inbox/not-a-uuid/read', { token: tok('client2') })).status).toBe(400);
      expect((await t.request('GET', '/api/inbox/counts')).status).toBe(401);
    });

    it('shows delivery statuses to the sender, compliance and admin only', async () => {
      await subscribe('client1', 'research.sector.consumer');
      const { id } = await publish('research.sector.consumer', note('白酒行业深度'));
      await until(async () => (await rows(id)).some((x) => x.transport === 'inbox'), 'inbox row');
      const r = await t.request('GET', `/api/deliveries?messageId=${id}`, { token: tok('research1') });
      expect(r.status).toBe(200);
      expect(r.body.deliveries.find((d: { login: string; transport: string }) => d.login === 'client1' && d.transport === 'inbox')).toMatchObject({ status: 'delivered' });
      expect(r.body.summary.inbox.delivered).toBeGreaterThanOrEqual(1);
      expect((await t.request('GET', `/api/deliveries?messageId=${id}`, { token: tok('admin') })).status).toBe(200);
      expect((await t.request('GET', `/api/deliveries?messageId=${id}`, { token: tok('compliance1') })).status).toBe(200);
      const no = await t.request('GET', `/api/deliveries?messageId=${id}`, { token: tok('client1') });
      expect(no.status).toBe(403);
      expect(no.body.error.code).toBe('QIAO_FORBIDDEN');
      expect((await t.request('GET', `/api/deliveries?messageId=${randomUUID()}`, { token: tok('admin') })).status).toBe(404);
    });

    it('bad input is unrecoverable: dead-lettered at once with its reason; admin lists and replays', async () => {
      await setUser('broker1', { email: 'broker1-at-nowhere' });
      await subscribe('broker1', 'research.sector.finance');
      await setPrefs('broker1', { research: { transports: { email: true } } });
      const { id } = await publish('research.sector.finance', note('银行业季度观察'));
      const emailRow = await until(async () => {
        const r = await row(id, 'broker1', 'email');
        return r?.status === 'failed' ? r : undefined;
      }, 'failed row');
      expect(emailRow).toMatchObject({ reason: 'no-email', attempts: 1 });
      const dl = await until(async () => {
        const r = await t.request('GET', '/api/admin/dead-letters?queue=email', { token: tok('admin') });
        return r.body.deadLetters.find((x: { data: { deliveryId: string } }) => x.data.deliveryId === emailRow.id);
      }, 'dead letter');
      expect(dl).toMatchObject({ reason: 'recipient email address is not valid', attempts: 1 });
      const forbidden = await t.request('GET', '/api/admin/dead-letters?queue=email', { token: tok('broker1') });
      expect(forbidden.status).toBe(403);
      expect(forbidden.body.error.code).toBe('QIAO_FORBIDDEN');
      expect((await t.request('POST', `/api/admin/dead-letters/email/${encodeURIComponent(dl.id)}/replay`, { token: tok('research1') })).body.error.code).toBe('QIAO_FORBIDDEN');

      await setUser('broker1', { email: 'broker1@qiao.example' });
      const replay = await t.request('POST', `/api/admin/dead-letters/email/${encodeURIComponent(dl.id)}/replay`, { token: tok('admin') });
      expect(replay.status, replay.text).toBe(202);
      await sink.waitFor(() => sink.about(id).some((m) => m.to.includes('broker1@qiao.example')), 15_000, 'replayed mail');
      expect(await until(async () => (await row(id, 'broker1', 'email'))?.status === 'sent', 'sent after replay')).toBe(true);
      expect((await t.request('POST', `/api/admin/dead-letters/email/${encodeURIComponent(dl.id)}/replay`, { token: tok('admin') })).status).toBe(404);
    });

    it('a 5xx from the mail server is permanent: failed at once, not retried', async () => {
      sink.rejectRecipients = /^manager1-reject@/;
      await setUser('manager1', { email: 'manager1-reject@qiao.example' });
      try {
        await subscribe('manager1', 'research.sector.energy');
        await setPrefs('manager1', { research: { transports: { email: true } } });
        const { id } = await publish('research.sector.energy', note('新能源装机跟踪'));
        const r = await until(async () => {
          const x = await row(id, 'manager1', 'email');
          return x?.status === 'failed' ? x : undefined;
        }, 'rejected row');
        expect(r).toMatchObject({ reason: 'rejected', attempts: 1 });
        expect(r.lastError).toMatch(/550|refused|unavailable/i);
      } finally {
        sink.rejectRecipients = null;
        await setUser('manager1', { email: 'manager1@qiao.example' });
      }
    });

    it('quiet hours hold email until they end; the sweep releases it (shifted clock)', async () => {
      const now = localParts(new Date(), 'Asia/Shanghai');
      const m = now.hour * 60 + now.minute;
      await subscribe('compliance1', 'research.morning-brief');
      await setPrefs('compliance1', { research: { transports: { email: true }, quietStart: hm(m - 60), quietEnd: hm(m + 60) } });
      const { id } = await publish('research.morning-brief', note('晨会纪要'));
      const held = await until(async () => {
        const r = await row(id, 'compliance1', 'email');
        return r?.status === 'held' ? r : undefined;
      }, 'held row');
      expect(held.reason).toBe('quiet-hours');
      const due = held.dueAt!.getTime();
      expect(due - Date.now()).toBeGreaterThan(58 * 60_000);
      expect(due - Date.now()).toBeLessThan(61 * 60_000);
      expect((await row(id, 'compliance1', 'inbox'))?.status).toBe('delivered');
      // Before it is due nothing moves; at the end of quiet hours it goes.
      await sweepAt(new Date(due - 60_000));
      expect((await row(id, 'compliance1', 'email'))?.status).toBe('held');
      await sweepAt(new Date(due + 1000));
      await sink.waitFor(() => sink.about(id).length === 1, 15_000, 'released mail');
      expect(await until(async () => (await row(id, 'compliance1', 'email'))?.status === 'sent', 'sent')).toBe(true);
    });

    it('research only during trading hours: held until the session opens, then sent', async () => {
      await subscribe('broker2', 'research.sector.healthcare');
      await setPrefs('broker2', { research: { transports: { email: true }, tradingHoursOnly: true } });
      const before = new Date();
      const { id } = await publish('research.sector.healthcare', note('创新药出海'));
      const r = await until(async () => {
        const x = await row(id, 'broker2', 'email');
        return x && x.status !== 'queued' && x.status !== 'sending' ? x : undefined;
      }, 'routed row');
      if (isInSession(before) && isInSession(new Date())) {
        expect(r.status).toBe('sent');
      } else {
        expect(r).toMatchObject({ status: 'held', reason: 'trading-hours' });
        expect(r.dueAt!.getTime()).toBe(nextSessionOpen(new Date(r.createdAt)).getTime());
        await sweepAt(r.dueAt!);
        await sink.waitFor(() => sink.about(id).length === 1, 15_000, 'mail at the session open');
      }
    });

    it('digests: held items go out as one email listing them all', async () => {
      await subscribe('admin', 'research.sector.tech');
      await setPrefs('admin', { research: { transports: { email: true }, digest: 'daily', digestAt: '18:00' } });
      const a = await publish('research.sector.tech', note('半导体周报'));
      const b = await publish('research.sector.tech', note('AI 算力产业链'));
      const rowsHeld = await until(async () => {
        const ra = await row(a.id, 'admin', 'email');
        const rb = await row(b.id, 'admin', 'email');
        return ra?.status === 'held' && rb?.status === 'held' ? [ra, rb] : undefined;
      }, 'held digest rows');
      expect(rowsHeld.map((r) => r.reason)).toEqual(['digest', 'digest']);
      const due = rowsHeld[0].dueAt!;
      expect(localParts(due, 'Asia/Shanghai')).toMatchObject({ hour: 18, minute: 0 });
      const n = sink.received.length;
      await sweepAt(new Date(due.getTime() + 1000));
      await sink.waitFor(() => sink.received.slice(n).some((m) => m.to.includes('admin@qiao.example')), 15_000, 'digest mail');
      const digest = sink.received.slice(n).filter((m) => m.to.includes('admin@qiao.example'));
      expect(digest).toHaveLength(1);
      const parsed = await sink.parse(digest[0]);
      expect(parsed.subject).toMatch(/\[桥\] 消息摘要（\d+ 条）/);
      expect(parsed.text).toContain('半导体周报');
      expect(parsed.text).toContain('AI 算力产业链');
      expect(parsed.html).toContain('AI 算力产业链');
      expect(digest[0].deliveryId.split(' ')).toEqual(expect.arrayContaining(rowsHeld.map((r) => r.id)));
      expect((await row(a.id, 'admin', 'email'))?.status).toBe('sent');
      expect((await row(b.id, 'admin', 'email'))?.status).toBe('sent');
      await setPrefs('admin', { research: null });
    });

    it('critical notices bypass mute and quiet hours', async () => {
      const m = localParts(new Date(), 'Asia/Shanghai');
      const now = m.hour * 60 + m.minute;
      await setPrefs('client1', { '*': { muted: true, quietStart: hm(now - 30), quietEnd: hm(now + 30) }, inbox: { muted: true, quietStart: hm(now - 30), quietEnd: hm(now + 30) } });
      try {
        const { id } = await publish(`inbox.${u.client1.user.id}`, { title: '维持担保比例低于 130%，请及时补仓', body: '您的信用账户维持担保比例已低于警戒线。', topic: 'margin' }, { login: 'admin', kind: 'notice' });
        await sink.waitFor(() => sink.about(id).length === 1, 15_000, 'margin call mail');
        const parsed = await sink.parse(sink.about(id)[0]);
        expect(parsed.subject).toBe('【重要】[通知] 维持担保比例低于 130%，请及时补仓');
        expect(parsed.text).toContain('请尽快阅读并确认此通知');
        expect((await row(id, 'client1', 'inbox'))?.status).toBe('delivered');
        // A normal notice in the same window is muted.
        const quiet = await publish(`inbox.${u.client1.user.id}`, { title: '新功能上线' }, { login: 'admin', kind: 'notice' });
        const r = await until(async () => row(quiet.id, 'client1', 'email'), 'muted row');
        expect(r).toMatchObject({ status: 'suppressed', reason: 'mute' });
      } finally {
        await setPrefs('client1', { '*': null, inbox: null });
      }
    });

    it('escalation: an unread must-acknowledge notice is emailed after N seconds; a read one is not', async () => {
      // Email and push are off for inbox notices: only escalation can send them.
      await setPrefs('client2', { inbox: { transports: { email: false, push: false } } });
      await db().insert(pushSubscriptions).values({ userId: u.client2.user.id, endpoint: `https://push.example/${randomUUID()}`, p256dh: 'k', auth: 'a' });
      const unread = await publish(`inbox.${u.client2.user.id}`, { title: '请确认新版客户协议', requireAck: true }, { login: 'admin', kind: 'notice' });
      const read = await publish(`inbox.${u.client2.user.id}`, { title: '请确认风险揭示书', requireAck: true }, { login: 'admin', kind: 'notice' });
      await until(async () => (await row(read.id, 'client2', 'inbox'))?.status === 'delivered', 'inbox row');
      expect((await t.request('POST', `/api/inbox/${read.id}/read`, { token: tok('client2') })).status).toBe(200);

      // Step 0 (after 1 s): push queued for the unread one; step 1 (after 1 s more): email.
      await sink.waitFor(() => sink.about(unread.id).length === 1, 15_000, 'escalation email');
      const e = await until(async () => {
        const r = await row(unread.id, 'client2', 'email');
        return r?.status === 'sent' ? r : undefined;
      }, 'escalated email row');
      expect(e.reason).toBe('escalation');
      // The push step wrote a push row where the fanout wrote none (push was not chosen); what the
      // push worker then does with the fake subscription is its business.
      const pushRow = await row(unread.id, 'client2', 'push');
      expect(pushRow).toBeDefined();
      expect(pushRow?.status).not.toBe('suppressed');
      // The read one: nothing escalated, also after both steps would have run.
      await new Promise((r) => setTimeout(r, 2500));
      expect(sink.about(read.id)).toHaveLength(0);
      // Not chosen and never escalated: no email or push row.
      expect(await row(read.id, 'client2', 'email')).toBeUndefined();
      expect(await row(read.id, 'client2', 'push')).toBeUndefined();
      expect(await row(read.id, 'client2', 'inbox')).toMatchObject({ status: 'read' });
      await setPrefs('client2', { inbox: null });
      await db().delete(pushSubscriptions).where(eq(pushSubscriptions.userId, u.client2.user.id));
    });

    it('preferences: SMS is off by default everywhere; sms in a category’s transports is stored and returned', async () => {
      const before = (await t.request('GET', '/api/preferences', { token: tok('broker2') })).body;
      for (const [category, e] of Object.entries(before.effective as Record<string, { transports: { sms: boolean } }>)) expect(e.transports.sms, category).toBe(false);
      const put = await setPrefs('broker2', { alerts: { transports: { sms: true } } });
      expect(put.effective.alerts.transports).toMatchObject({ sms: true, push: true });
      const got = (await t.request('GET', '/api/preferences', { token: tok('broker2') })).body;
      expect(got.categories.find((c: { category: string }) => c.category === 'alerts').transports).toEqual({ sms: true });
      expect(got.effective.alerts.transports.sms).toBe(true);
      // Only that category: the others keep SMS off.
      expect(got.effective.research.transports.sms).toBe(false);
      expect(got.effective.inbox.transports.sms).toBe(false);
      const bad = await t.request('PUT', '/api/preferences', { token: tok('broker2'), json: { categories: { alerts: { transports: { sms: 'yes' } } } } });
      expect(bad.status).toBe(400);
      expect(bad.body.error.code).toBe('QIAO_BAD_REQUEST');
      await setPrefs('broker2', { alerts: null });
      expect((await t.request('GET', '/api/preferences', { token: tok('broker2') })).body.effective.alerts.transports.sms).toBe(false);
    });

    it('preferences: validated, stored per category, with the effective result', async () => {
      const bad = async (categories: object) => (await t.request('PUT', '/api/preferences', { token: tok('research1'), json: { categories } })).status;
      expect(await bad({ research: { timeZone: 'Mars/Olympus' } })).toBe(400);
      expect(await bad({ research: { quietStart: '22:00' } })).toBe(400);
      expect(await bad({ research: { quietStart: '25:00', quietEnd: '07:00' } })).toBe(400);
      expect(await bad({ nonsense: {} })).toBe(400);
      expect(await bad({ research: { digest: 'weekly' } })).toBe(400);
      const ok = await setPrefs('research1', { '*': { quietStart: '22:00', quietEnd: '07:00' }, alerts: { transports: { email: true }, timeZone: 'Europe/London' } });
      expect(ok.categories.map((c: { category: string }) => c.category)).toEqual(expect.arrayContaining(['*', 'alerts']));
      expect(ok.effective.alerts).toMatchObject({ transports: { email: true, push: true }, timeZone: 'Europe/London', quietStart: '22:00', quietEnd: '07:00' });
      expect(ok.effective.research).toMatchObject({ transports: { email: false }, timeZone: 'Asia/Shanghai', quietStart: '22:00' });
      const got = await t.request('GET', '/api/preferences', { token: tok('research1') });
      expect(got.body.effective).toEqual(ok.effective);
      await setPrefs('research1', { '*': null, alerts: null });
      const left = (await t.request('GET', '/api/preferences', { token: tok('research1') })).body.categories.map((c: { category: string }) => c.category);
      expect(left).not.toContain('*');
      expect(left).not.toContain('alerts');
    });
  });
}
