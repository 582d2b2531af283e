/**
 * SMS end to end on real Postgres + Redis (BullMQ, workers in the hub process): an admin notice to a
 * client's inbox channel → fanout → SMS delivery row → SMS worker → SMPP → a local SMSC
 * (test/helpers/smsc.ts, the `smpp` package's server, which decodes the UCS-2 segments and
 * reassembles them) → delivery receipts back into the row. Clients are created through the admin API
 * with phones as people type them, and never connect a socket (they are offline).
 * Skips loudly without Postgres/Redis; fails instead with QIAO_REQUIRE_SERVICES=1.
 */
import { randomUUID } from 'node:crypto';
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localParts } from '../../src/domain/zoned-time.ts';
import { QUEUES } from '../../src/queue/jobs.ts';
import { DeliveriesRepo } from '../../src/store/deliveries-repo.ts';
import { deliveries, users } from '../../src/store/schema/index.ts';
import { smsTextFor } from '../../workers/sms.worker.ts';
import { segmentCount } from '../../workers/transports/sms-encoding.ts';
import { startServicesApp, TEST_REDIS_URL, type TestApp } from '../helpers/app.ts';
import { TEST_DATABASE_URL } from '../helpers/pg.ts';
import { gateService, postgresAvailable, redisAvailable } from '../helpers/services.ts';
import { FakeSmsc } from '../helpers/smsc.ts';

const pgUp = await gateService('Postgres', TEST_DATABASE_URL, postgresAvailable);
const redisUp = await gateService('Redis', TEST_REDIS_URL, redisAvailable);

const STRONG = 'Granite-Harbour-73!';
const DAILY_CAP = 3;
const TRADING_KEY = 'sms-test-trading-key-0123456789';
const MAX_SEGMENTS = 2;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(fn: () => Promise<T | undefined | false | null>, what: string, timeoutMs = 15_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v as T;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** Minutes after midnight → 'HH:MM' (wrapping). */
const hm = (minutes: number) => {
  const m = ((minutes % 1440) + 1440) % 1440;
  return `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;
};
/** Quiet hours from an hour ago to an hour from now, Shanghai time: "now" is inside them. */
const quietAroundNow = () => {
  const p = localParts(new Date(), 'Asia/Shanghai');
  const m = p.hour * 60 + p.minute;
  return { quietStart: hm(m - 60), quietEnd: hm(m + 60) };
};

let phoneSeq = 0;
/** A distinct mobile number per client, typed the way people type them (11 digits, no +86). */
const nextPhone = () => `1390013${String(1000 + phoneSeq++).padStart(4, '0')}`;

describe.skipIf(!(pgUp && redisUp))('SMS delivery end to end (Postgres + Redis + BullMQ + local SMSC)', () => {
  let t: TestApp;
  let smsc: FakeSmsc;
  let admin: string;
  const db = () => t.app.qiao.db.db;

  beforeAll(async () => {
    smsc = await new FakeSmsc().start();
    t = await startServicesApp({
      QIAO_EMBEDDED_WORKERS: 'true',
      QIAO_SMPP_URL: smsc.url,
      QIAO_SMPP_REBIND_MIN_MS: '50',
      QIAO_SMS_DAILY_CAP: String(DAILY_CAP),
      QIAO_SMS_MAX_SEGMENTS: String(MAX_SEGMENTS),
      QIAO_SMS_BACKOFF_MS: '100',
      QIAO_SMS_ATTEMPTS: '3',
      // Sweeps run when a test asks (with a shifted clock), never on a timer mid-test.
      QIAO_SWEEP_INTERVAL_MS: '600000',
      QIAO_INGEST_SOURCES: `trading:${TRADING_KEY}`,
    });
    admin = (await t.login('admin')).token;
  }, 60_000);

  afterAll(async () => {
    await t?.close();
    await smsc?.stop();
  });

  /** A new client through the admin API; `phone` as typed (or none). Returns the id, stored phone and a token. */
  async function newClient(phone: string | null): Promise<{ id: string; phone: string | null; token: string }> {
    const login = `sms.${randomUUID().slice(0, 8)}`;
    const r = await t.request('POST', '/api/admin/users', {
      token: admin,
      json: { login, password: STRONG, displayName: `短信客户 ${login}`, role: 'client', teamId: null, tier: 'general', riskLevel: 'C3', riskAssessedOn: '2026-01-05', ...(phone ? { phone } : {}) },
    });
    expect(r.status, r.text).toBe(201);
    return { id: r.body.id, phone: r.body.phone, token: (await t.login(login, STRONG)).token };
  }

  async function notice(userId: string, payload: Record<string, unknown>): Promise<string> {
    const r = await t.request('POST', `/api/channels/inbox.${userId}/publications`, { token: admin, json: { kind: 'notice', payload } });
    expect(r.status, r.text).toBe(201);
    return r.body.id;
  }

  const smsRow = async (messageId: string) => (await db().select().from(deliveries).where(and(eq(deliveries.messageId, messageId), eq(deliveries.transport, 'sms'))))[0];
  const row = (messageId: string, transport: 'inbox' | 'sms') =>
    db()
      .select()
      .from(deliveries)
      .where(and(eq(deliveries.messageId, messageId), eq(deliveries.transport, transport)))
      .then((r) => r[0]);
  /** The row once it has left queued/sending (and, for SMS, once a receipt could have moved it). */
  const settledSms = (messageId: string, statuses: string[], what: string) =>
    until(async () => {
      const r = await smsRow(messageId);
      return r && statuses.includes(r.status) ? r : undefined;
    }, what);
  const toSmsc = (phone: string) => smsc.received.filter((m) => m.to === phone.replace(/^\+/, ''));
  const setPrefs = async (token: string, categories: object) => {
    const r = await t.request('PUT', '/api/preferences', { token, json: { categories } });
    expect(r.status, r.text).toBe(200);
    return r.body;
  };
  const sweepAt = async (at: Date) => {
    await t.app.qiao.queue.add(QUEUES.digest, 'sweep', { at: at.toISOString() }, { jobId: `test-sweep-${randomUUID()}`, attempts: 1 });
    await until(async () => (await t.app.qiao.queue.pendingCount(QUEUES.digest)) === 0, 'the sweep');
  };

  it('a margin call ingested from the trading system reaches an offline client by SMS inside quiet hours (account family, critical kind)', async () => {
    const c = await newClient(nextPhone());
    const accountNo = `31${String(Date.now()).slice(-10)}`;
    await db().update(users).set({ accountNo }).where(eq(users.id, c.id));
    await setPrefs(c.token, { '*': quietAroundNow() });
    const event = { id: `mc-${randomUUID()}`, type: 'margin-call', accountNo, time: new Date().toISOString(), amount: 50000, deadline: new Date(Date.now() + 86_400_000).toISOString() };
    const r = await t.request('POST', '/api/ingest/account-events', { json: event, headers: { 'x-api-key': TRADING_KEY } });
    expect(r.status, r.text).toBeLessThan(300);
    const got = await smsc.waitFor(c.phone!);
    expect(got.text).toMatch(/保证金/);
    expect(toSmsc(c.phone!)).toHaveLength(1);
    // An ordinary fill in the same quiet hours sends no SMS (SMS is off by default for the family).
    const fill = { id: `fill-${randomUUID()}`, type: 'order.filled', accountNo, time: new Date().toISOString(), orderId: 'O-1', symbol: '600519.SH', side: 'buy', qty: 100, filledQty: 100, price: 1500 };
    const f = await t.request('POST', '/api/ingest/account-events', { json: fill, headers: { 'x-api-key': TRADING_KEY } });
    expect(f.status, f.text).toBeLessThan(300);
    await sleep(1500);
    expect(toSmsc(c.phone!)).toHaveLength(1);
  });

  it('a critical notice to an offline client inside quiet hours goes by SMS: UCS-2 segments reassemble to the Chinese text; the receipt marks it delivered', async () => {
    const c = await newClient(nextPhone());
    expect(c.phone).toMatch(/^\+86139/);
    await setPrefs(c.token, { '*': quietAroundNow() });
    const payload = {
      title: '追加保证金通知',
      body: '您的信用账户维持担保比例已低于130%，请于今日14:30前补足担保物或了结部分负债，否则我司将按合同约定对您的账户实施强制平仓，由此产生的损失由您承担。',
      topic: 'margin',
    };
    const id = await notice(c.id, payload);
    const expected = smsTextFor({ kind: 'notice', payload }, 'zh-CN');
    expect(expected.startsWith('【桥】【重要】追加保证金通知：您的信用账户')).toBe(true);
    // Long enough for two concatenated parts, within QIAO_SMS_MAX_SEGMENTS.
    expect(segmentCount(expected)).toBe(2);

    const got = await smsc.waitFor(c.phone!);
    expect(got.text).toBe(expected);
    expect(got.segments).toBe(2);
    expect(got.dataCoding).toBe(8);
    const r = await settledSms(id, ['delivered'], 'the receipt moving the row to delivered');
    expect(r.providerIds).toEqual(got.ids);
    expect(r.attempts).toBe(1);
    expect((await row(id, 'inbox'))?.status).toBe('delivered');
    expect(toSmsc(c.phone!)).toHaveLength(1);
  });

  it('a normal notice with SMS on for its category is held in quiet hours, nothing reaches the SMSC, and the sweep at their end sends it', async () => {
    const c = await newClient(nextPhone());
    const quiet = quietAroundNow();
    const prefs = await setPrefs(c.token, { inbox: { transports: { sms: true }, ...quiet } });
    expect(prefs.effective.inbox.transports.sms).toBe(true);
    const id = await notice(c.id, { title: '新股申购提醒', body: '明日可申购：沪市主板新股，申购上限 1.2 万股。' });
    const held = await settledSms(id, ['held'], 'held SMS row');
    expect(held.reason).toBe('quiet-hours');
    const due = held.dueAt!.getTime();
    expect(due - Date.now()).toBeGreaterThan(58 * 60_000);
    expect(due - Date.now()).toBeLessThan(61 * 60_000);
    expect(localParts(held.dueAt!, 'Asia/Shanghai')).toMatchObject({ hour: Number(quiet.quietEnd.slice(0, 2)), minute: Number(quiet.quietEnd.slice(3)) });

    // A minute before the end nothing moves.
    await sweepAt(new Date(due - 60_000));
    await sleep(300);
    expect((await smsRow(id)).status).toBe('held');
    expect(toSmsc(c.phone!)).toHaveLength(0);

    await sweepAt(new Date(due + 1000));
    const got = await smsc.waitFor(c.phone!);
    expect(got.text).toBe('【桥】新股申购提醒：明日可申购：沪市主板新股，申购上限 1.2 万股。');
    expect((await settledSms(id, ['delivered'], 'delivered after release')).providerIds).toEqual(got.ids);
  });

  it('receipts from the SMSC: DELIVRD moves sent → delivered, UNDELIV moves it to failed / undelivered', async () => {
    const ok = await newClient(nextPhone());
    const lost = await newClient(nextPhone());
    smsc.receiptStat.set(lost.phone!.slice(1), 'UNDELIV');
    const a = await notice(ok.id, { title: '账户安全提醒', body: '您的账户在新设备登录。', topic: 'security' });
    const b = await notice(lost.id, { title: '账户安全提醒', body: '您的账户在新设备登录。', topic: 'security' });
    const delivered = await settledSms(a, ['delivered', 'failed'], 'receipt for the delivered SMS');
    expect(delivered.status).toBe('delivered');
    expect(delivered.reason).toBeNull();
    const failed = await settledSms(b, ['delivered', 'failed'], 'receipt for the undelivered SMS');
    expect(failed).toMatchObject({ status: 'failed', reason: 'undelivered' });
    expect(failed.lastError).toMatch(/stat:UNDELIV/);
    // It did reach the SMSC (the handset did not get it): the row keeps the SMSC's id.
    expect(failed.providerIds).toEqual(toSmsc(lost.phone!)[0].ids);
    expect(failed.sentAt).not.toBeNull();
  });

  it(`the daily cap (${DAILY_CAP} per Asia/Shanghai day): of ${DAILY_CAP + 5} critical notices at once, the ones over the cap are suppressed 'daily-cap' and never reach the SMSC`, async () => {
    const c = await newClient(nextPhone());
    const submitsBefore = smsc.submits;
    const ids = await Promise.all(Array.from({ length: DAILY_CAP + 5 }, (_, i) => notice(c.id, { title: `风险提示 ${i + 1}`, body: '您的持仓触及预警线。', severity: 'critical' })));
    const rows = await until(async () => {
      const rs = await Promise.all(ids.map((id) => smsRow(id)));
      return rs.every((r) => r && ['delivered', 'suppressed', 'failed'].includes(r.status)) ? rs : undefined;
    }, 'every SMS row settled');
    const capped = rows.filter((r) => r.status === 'suppressed');
    expect(rows.filter((r) => r.status === 'delivered')).toHaveLength(DAILY_CAP);
    expect(capped).toHaveLength(5);
    for (const r of capped) {
      expect(r.reason).toBe('daily-cap');
      expect(r.lastError).toMatch(/Asia\/Shanghai/);
      expect(r.providerIds ?? []).toEqual([]);
    }
    await sleep(300);
    expect(toSmsc(c.phone!)).toHaveLength(DAILY_CAP);
    expect(smsc.submits - submitsBefore).toBe(DAILY_CAP);
    // The inbox copies are all there: the cap is on SMS only.
    for (const id of ids) expect((await row(id, 'inbox'))?.status).toBe('delivered');
    // A later one the same day is capped too.
    const late = await notice(c.id, { title: '风险提示 晚', body: '您的持仓触及平仓线。', severity: 'critical' });
    expect(await settledSms(late, ['suppressed', 'delivered'], 'the late row')).toMatchObject({ status: 'suppressed', reason: 'daily-cap' });
    expect(toSmsc(c.phone!)).toHaveLength(DAILY_CAP);
  });

  it('the cap ranking is stable: a row sent after a later one was claimed still counts ahead of it (no SMS over the cap)', async () => {
    const c = await newClient(nextPhone());
    const repo = new DeliveriesRepo(db());
    const ago = (s: number) => new Date(Date.now() - s * 1000);
    // r1–r3 claimed first and passed the gate; r4 claimed a second later; r1 accepted by the SMSC after that.
    const rows = await db()
      .insert(deliveries)
      .values([3, 3, 3, 2].map((s) => ({ messageId: randomUUID(), userId: c.id, transport: 'sms' as const, status: 'sending' as const, attempts: 1, updatedAt: ago(s) })))
      .returning({ id: deliveries.id });
    const [r1, r2, , r4] = rows.map((r) => r.id);
    await db().update(deliveries).set({ status: 'sent', sentAt: ago(1), updatedAt: ago(1) }).where(eq(deliveries.id, r1));
    const since = ago(3600);
    expect([...(await repo.smsOverDailyCap([r4], DAILY_CAP, since))]).toEqual([r4]);
    expect([...(await repo.smsOverDailyCap([r2], DAILY_CAP, since))]).toEqual([]);
  });

  it(`a text longer than ${MAX_SEGMENTS} segments fails with QIAO_SMS_TOO_LONG and is dead-lettered; nothing reaches the SMSC; the inbox copy is there`, async () => {
    const c = await newClient(nextPhone());
    const submitsBefore = smsc.submits;
    const body = '根据监管要求，现将您账户的风险状况告知如下。'.repeat(8);
    expect(segmentCount(smsTextFor({ kind: 'notice', payload: { title: '风险告知', body, topic: 'risk' } }, 'zh-CN'))).toBeGreaterThan(MAX_SEGMENTS);
    const id = await notice(c.id, { title: '风险告知', body, topic: 'risk' });
    const r = await settledSms(id, ['failed', 'sent', 'delivered'], 'failed SMS row');
    expect(r).toMatchObject({ status: 'failed', reason: 'QIAO_SMS_TOO_LONG', attempts: 1 });
    expect(r.lastError).toMatch(new RegExp(`QIAO_SMS_MAX_SEGMENTS is ${MAX_SEGMENTS}`));
    const dl = await until(async () => {
      const res = await t.request('GET', '/api/admin/dead-letters?queue=sms', { token: admin });
      expect(res.status, res.text).toBe(200);
      return res.body.deadLetters.find((x: { data: { deliveryId: string } }) => x.data.deliveryId === r.id);
    }, 'the dead letter');
    expect(dl.reason).toMatch(/^QIAO_SMS_TOO_LONG/);
    await sleep(300);
    expect(smsc.submits - submitsBefore).toBe(0);
    expect(toSmsc(c.phone!)).toHaveLength(0);
    expect((await row(id, 'inbox'))?.status).toBe('delivered');
  });

  it('SMS is off by default: a normal notice to a client with a phone gets no SMS row; turning SMS off for the category stops critical ones too', async () => {
    const c = await newClient(nextPhone());
    const prefs = (await t.request('GET', '/api/preferences', { token: c.token })).body;
    for (const [category, d] of Object.entries(prefs.defaults as Record<string, { sms: boolean }>)) expect(d.sms, category).toBe(false);
    expect(prefs.effective.inbox.transports.sms).toBe(false);
    const submitsBefore = smsc.submits;
    const normal = await notice(c.id, { title: '系统升级通知', body: '本周六 22:00 至 24:00 系统升级。' });
    // Not chosen is not a delivery: the fanout writes the inbox row and no SMS row.
    await until(async () => (await row(normal, 'inbox'))?.status === 'delivered', 'the inbox row');
    expect(await smsRow(normal)).toBeUndefined();

    // Critical inbox notices go by SMS although it is off by default (the family's criticalSms)…
    const critical = await notice(c.id, { title: '账户安全提醒', body: '您的密码已被修改。', topic: 'security' });
    expect((await settledSms(critical, ['delivered', 'failed'], 'critical SMS')).status).toBe('delivered');
    // …unless the client turned SMS off for the category explicitly.
    await setPrefs(c.token, { inbox: { transports: { sms: false } } });
    const off = await notice(c.id, { title: '账户安全提醒', body: '您的密码已被修改。', topic: 'security' });
    await until(async () => (await row(off, 'inbox'))?.status === 'delivered', 'the inbox row');
    expect(await smsRow(off)).toBeUndefined();
    await sleep(300);
    expect(smsc.submits - submitsBefore).toBe(1);
  });

  it('a client without a phone: the SMS row is suppressed no-phone at fanout; nothing is queued', async () => {
    const c = await newClient(null);
    expect(c.phone).toBeNull();
    const submitsBefore = smsc.submits;
    const id = await notice(c.id, { title: '追加保证金通知', body: '请补足担保物。', topic: 'margin' });
    const r = await until(async () => smsRow(id), 'the SMS row');
    expect(r).toMatchObject({ status: 'suppressed', reason: 'no-phone', attempts: 0 });
    await sleep(300);
    expect(smsc.submits - submitsBefore).toBe(0);
    expect((await row(id, 'inbox'))?.status).toBe('delivered');
    // A number that got into the table some other way (not through the API) and is not a mobile:
    // the worker refuses it rather than sending to it.
    await db().update(users).set({ phone: '+12025550100' }).where(eq(users.id, c.id));
    const id2 = await notice(c.id, { title: '追加保证金通知', body: '请补足担保物。', topic: 'margin' });
    expect(await settledSms(id2, ['failed', 'sent', 'delivered'], 'refused SMS row')).toMatchObject({ status: 'failed', reason: 'no-phone' });
    expect(smsc.submits - submitsBefore).toBe(0);
  });
});
