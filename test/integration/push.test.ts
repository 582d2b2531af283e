/**
 * Web push against a real (local) push service: HTTPS with a self-signed certificate, VAPID verified,
 * aes128gcm bodies decrypted with the browser-side keys (test/helpers/push-endpoint.ts).
 *
 * - REST: VAPID key generated once and persisted; subscriptions validated, per user, own-only delete.
 * - Push worker (real WebPushTransport, real HTTPS): payload, TTL/Urgency/Topic, 404/410 deletes the
 *   subscription, 5xx/429 retried, 400 unrecoverable, a job run twice sends once.
 * - End to end: a tick crosses a price alert → inbox alert → fanout → push to the browser.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.ts';
import type { Principal } from '../../src/auth/principal.ts';
import { loadConfig } from '../../src/config/config.ts';
import { priceAlertPayload } from '../../src/domain/alert-engine.ts';
import { QUEUES, jobIds, type DeliveryBatchJob, type DeliveryJob, type PushJob } from '../../src/queue/jobs.ts';
import { MemoryQueue } from '../../src/queue/queue-memory.ts';
import { DeliveriesRepo } from '../../src/store/deliveries-repo.ts';
import { PushRepo } from '../../src/store/push-repo.ts';
import { settings } from '../../src/store/schema/index.ts';
import { startWorkers, type Workers } from '../../workers/index.ts';
import { PushEndpoint, type BrowserSubscription } from '../helpers/push-endpoint.ts';
import { DEMO_PASSWORD, TEST_FEED_KEY, TEST_JWT_SECRET, eventually } from '../helpers/app.ts';

const ENV = {
  QIAO_LOG_LEVEL: 'silent',
  QIAO_JWT_SECRET: TEST_JWT_SECRET,
  QIAO_FEED_API_KEY: TEST_FEED_KEY,
  QIAO_PUSH_ENDPOINT_HOSTS: '127.0.0.1',
  QIAO_TOTP_REQUIRED_ROLES: '',
  // The test starts the workers itself, trusting the local push service's certificate (pushCa).
  QIAO_EMBEDDED_WORKERS: 'false',
};

interface Node {
  app: FastifyInstance;
  queue: MemoryQueue;
  workers: Workers;
  token(login: string): Promise<{ token: string; userId: string }>;
  req(method: string, url: string, opts?: { token?: string; body?: unknown; headers?: Record<string, string> }): Promise<{ status: number; body: any }>;
  close(): Promise<void>;
}

async function startNode(ep: PushEndpoint, queues: Parameters<typeof startWorkers>[1] = {}): Promise<Node> {
  const config = loadConfig({ ...ENV, QIAO_NODE_ID: `push-${randomUUID().slice(0, 6)}` });
  const queue = new MemoryQueue();
  const app = await buildApp(config, { inMemoryDb: true, queue });
  await app.ready();
  const workers = startWorkers({ config, logger: app.log, db: app.qiao.db.db, queue, pushCa: ep.cert.cert }, queues);
  const tokens = new Map<string, { token: string; userId: string }>();
  const req: Node['req'] = async (method, url, opts = {}) => {
    const headers: Record<string, string> = { ...(opts.headers ?? {}) };
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    const r = await app.inject({ method: method as 'GET', url, headers, ...(opts.body !== undefined ? { payload: opts.body as object } : {}) });
    return { status: r.statusCode, body: r.body ? JSON.parse(r.body) : undefined };
  };
  return {
    app,
    queue,
    workers,
    req,
    async token(login) {
      let t = tokens.get(login);
      if (!t) {
        const r = await req('POST', '/api/auth/login', { body: { login, password: DEMO_PASSWORD } });
        if (r.status !== 200) throw new Error(`login ${login}: ${r.status}`);
        t = { token: r.body.token, userId: r.body.user.id };
        tokens.set(login, t);
      }
      return t;
    },
    async close() {
      await workers.close();
      await app.close();
    },
  };
}

const subBody = (s: BrowserSubscription) => ({ endpoint: s.endpoint, expirationTime: null, keys: s.keys });

describe('web push (local HTTPS push service)', () => {
  let ep: PushEndpoint;
  let n: Node;
  let deliveries: DeliveriesRepo;
  let admin: Principal;

  beforeAll(async () => {
    ep = await new PushEndpoint().start();
    // Only the push worker: the tests make the delivery rows themselves, as fanout would.
    n = await startNode(ep, { queues: ['push'], sweep: false });
    deliveries = new DeliveriesRepo(n.app.qiao.db.db);
    const a = await n.token('admin');
    admin = { id: a.userId, role: 'admin', displayName: 'admin' };
  });

  afterAll(async () => {
    await n?.close();
    await ep?.close();
  });

  /** Stores a message for `userId`, makes its push delivery row, enqueues the job; returns the row id. */
  async function pushDelivery(userId: string, kind: 'notice' | 'alert', payload: unknown): Promise<{ deliveryId: string; messageId: string }> {
    const { pub } = await n.app.qiao.publisher.publish(admin, { channel: `inbox.${userId}`, kind, payload }, { trusted: true });
    await deliveries.insertMany([{ messageId: pub.id, userId, transport: 'push', status: 'queued' }]);
    const row = await deliveries.find(pub.id, userId, 'push');
    await n.queue.add<PushJob>(QUEUES.push, 'push', { deliveryId: row!.id }, { jobId: jobIds.push(row!.id), backoffMs: 30 });
    return { deliveryId: row!.id, messageId: pub.id };
  }

  const settledRow = async (id: string) =>
    (await eventually(async () => {
      const r = await deliveries.get(id);
      return r && ['sent', 'suppressed', 'failed'].includes(r.status) ? r : undefined;
    }, 10_000))!;

  it('generates the VAPID key pair once and keeps it in settings', async () => {
    const a = await n.req('GET', '/api/push/vapid-public-key');
    const b = await n.req('GET', '/api/push/vapid-public-key');
    expect(a.status).toBe(200);
    expect(Buffer.from(a.body.publicKey, 'base64url')).toHaveLength(65);
    expect(b.body.publicKey).toBe(a.body.publicKey);
    // A fresh repository (another process) reads the same pair instead of making a new one.
    const again = await new PushRepo(n.app.qiao.db.db).vapidKeys();
    expect(again.publicKey).toBe(a.body.publicKey);
    const rows = await n.app.qiao.db.db.select().from(settings);
    expect(rows.filter((r) => r.key === 'vapid')).toHaveLength(1);
  });

  it('validates subscriptions and keeps them per user; only the owner may delete one', async () => {
    const c1 = await n.token('client1');
    const c2 = await n.token('client2');
    const s = ep.subscription();
    const post = (body: unknown, token = c1.token) => n.req('POST', '/api/push/subscriptions', { token, body });

    expect((await n.req('POST', '/api/push/subscriptions', { body: subBody(s) })).body.error.code).toBe('QIAO_AUTH_REQUIRED');
    const invalid = async (body: unknown) => {
      const r = await post(body);
      expect(r.status).toBe(400);
      return r.body.error.code as string;
    };
    expect(await invalid({ ...subBody(s), endpoint: s.endpoint.replace('https:', 'http:') })).toBe('QIAO_PUSH_SUBSCRIPTION_INVALID');
    expect(await invalid({ ...subBody(s), endpoint: 'https://169.254.169.254/latest/meta-data' })).toBe('QIAO_PUSH_SUBSCRIPTION_INVALID');
    expect(await invalid({ ...subBody(s), keys: { ...s.keys, p256dh: Buffer.alloc(64, 4).toString('base64url') } })).toBe('QIAO_PUSH_SUBSCRIPTION_INVALID');
    expect(await invalid({ ...subBody(s), keys: { ...s.keys, p256dh: Buffer.concat([Buffer.from([4]), Buffer.alloc(64, 7)]).toString('base64url') } })).toBe(
      'QIAO_PUSH_SUBSCRIPTION_INVALID',
    );
    expect(await invalid({ ...subBody(s), keys: { ...s.keys, auth: Buffer.alloc(12).toString('base64url') } })).toMatch(/QIAO_(PUSH_SUBSCRIPTION_INVALID|BAD_REQUEST)/);
    expect(await invalid({ endpoint: s.endpoint })).toBe('QIAO_BAD_REQUEST');
    expect(await invalid({ ...subBody(s), keys: { ...s.keys, auth: 'not base64!!!!!!!' } })).toBe('QIAO_BAD_REQUEST');

    const created = await post({ ...subBody(s), userAgent: 'Mozilla/5.0 test' });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({ created: true });
    expect((await post(subBody(s))).status).toBe(200);
    const mine = await n.req('GET', '/api/push/subscriptions', { token: c1.token });
    expect(mine.body.subscriptions.map((x: { endpoint: string }) => x.endpoint)).toContain(s.endpoint);
    expect((await n.req('GET', '/api/push/subscriptions', { token: c2.token })).body.subscriptions).toEqual([]);

    expect((await n.req('DELETE', '/api/push/subscriptions', { token: c2.token, body: { endpoint: s.endpoint } })).status).toBe(404);
    expect((await n.req('DELETE', '/api/push/subscriptions', { token: c1.token, body: { endpoint: s.endpoint } })).status).toBe(204);
    expect((await n.req('DELETE', '/api/push/subscriptions', { token: c1.token, body: { endpoint: s.endpoint } })).status).toBe(404);
  });

  it('sends a price alert to every device: VAPID-signed, aes128gcm-encrypted, TTL 300, Urgency high, Topic per symbol', async () => {
    const u = await n.token('client2');
    const phone = ep.subscription();
    const laptop = ep.subscription();
    for (const s of [phone, laptop]) expect((await n.req('POST', '/api/push/subscriptions', { token: u.token, body: subBody(s) })).status).toBe(201);
    const payload = priceAlertPayload({ symbol: '600519.SH', direction: 'above', price: 1800, repeat: false }, { symbol: '600519.SH', price: 1801.5 }, '贵州茅台');
    const { deliveryId, messageId } = await pushDelivery(u.userId, 'alert', payload);

    const row = await settledRow(deliveryId);
    expect(row.status).toBe('sent');
    const got = await Promise.all([phone, laptop].map((s) => ep.next((r) => r.subscriptionId === s.id)));
    const vapidKey = (await n.req('GET', '/api/push/vapid-public-key')).body.publicKey;
    for (const r of got) {
      expect(r.json).toMatchObject({ title: '贵州茅台 600519.SH 突破 1800.00', tag: 'alert-600519SH', id: messageId, url: `/inbox/${messageId}` });
      expect(r.json.body).toContain('1801.50');
      expect(r.ttl).toBe(300);
      expect(r.urgency).toBe('high');
      expect(r.topic).toBe('alert-600519SH');
      expect(r.contentEncoding).toBe('aes128gcm');
      expect(r.vapid.k).toBe(vapidKey);
      expect(r.vapid.aud).toBe(ep.origin);
      expect(r.vapid.sub).toBe('mailto:ops@qiao.example');
    }
    const subs = await n.app.qiao.push.listForUser(u.userId);
    expect(subs.every((s) => s.lastSuccessAt instanceof Date)).toBe(true);
    // Clean up for the next tests.
    for (const s of [phone, laptop]) await n.req('DELETE', '/api/push/subscriptions', { token: u.token, body: { endpoint: s.endpoint } });
  });

  it('a notice gets the default TTL and normal urgency, and no topic', async () => {
    const u = await n.token('client3');
    const s = ep.subscription();
    await n.req('POST', '/api/push/subscriptions', { token: u.token, body: subBody(s) });
    const { deliveryId } = await pushDelivery(u.userId, 'notice', { title: '系统维护通知', body: '今晚 22:00 维护', severity: 'info' });
    expect((await settledRow(deliveryId)).status).toBe('sent');
    const r = await ep.next((x) => x.subscriptionId === s.id);
    expect(r).toMatchObject({ ttl: 86_400, urgency: 'normal', topic: undefined });
    expect(r.json).toMatchObject({ title: '系统维护通知', body: '今晚 22:00 维护' });
    await n.req('DELETE', '/api/push/subscriptions', { token: u.token, body: { endpoint: s.endpoint } });
  });

  it('410 from the push service deletes that subscription; with no device left the delivery is suppressed', async () => {
    const u = await n.token('inst1');
    const gone = ep.subscription();
    const alive = ep.subscription();
    for (const s of [gone, alive]) await n.req('POST', '/api/push/subscriptions', { token: u.token, body: subBody(s) });
    ep.respond(gone.id, 410);
    const first = await pushDelivery(u.userId, 'notice', { title: 'one' });
    expect((await settledRow(first.deliveryId)).status).toBe('sent');
    let endpoints = (await n.app.qiao.push.listForUser(u.userId)).map((s) => s.endpoint);
    expect(endpoints).toEqual([alive.endpoint]);

    ep.respond(alive.id, 404);
    const second = await pushDelivery(u.userId, 'notice', { title: 'two' });
    const row = await settledRow(second.deliveryId);
    expect(row).toMatchObject({ status: 'suppressed', reason: 'no-subscription' });
    endpoints = (await n.app.qiao.push.listForUser(u.userId)).map((s) => s.endpoint);
    expect(endpoints).toEqual([]);

    // Nobody subscribed at all: suppressed without a request.
    const before = ep.requests;
    const third = await pushDelivery(u.userId, 'notice', { title: 'three' });
    expect(await settledRow(third.deliveryId)).toMatchObject({ status: 'suppressed', reason: 'no-subscription' });
    expect(ep.requests).toBe(before);
  });

  it('5xx and 429 are retried until the push service accepts; the message arrives once', async () => {
    const u = await n.token('broker1');
    const s = ep.subscription();
    await n.req('POST', '/api/push/subscriptions', { token: u.token, body: subBody(s) });
    ep.respond(s.id, 500, 429);
    const { deliveryId, messageId } = await pushDelivery(u.userId, 'notice', { title: 'retry me' });
    const row = await settledRow(deliveryId);
    expect(row.status).toBe('sent');
    expect(row.attempts).toBe(3);
    expect(ep.received.filter((r) => r.json?.id === messageId)).toHaveLength(1);
  });

  it('400 is unrecoverable: failed "rejected", dead-lettered without retries', async () => {
    const u = await n.token('broker2');
    const s = ep.subscription();
    await n.req('POST', '/api/push/subscriptions', { token: u.token, body: subBody(s) });
    ep.respond(s.id, 400);
    const { deliveryId } = await pushDelivery(u.userId, 'notice', { title: 'bad' });
    const row = await settledRow(deliveryId);
    expect(row).toMatchObject({ status: 'failed', reason: 'rejected', attempts: 1 });
    const dead = await eventually(async () => (await n.queue.deadLetters(QUEUES.push)).find((d) => (d.data as DeliveryJob).deliveryId === deliveryId));
    expect(dead?.attempts).toBe(1);
  });

  it('a row that failed for good is sent again only by the replay of its dead letter, never by a duplicate job', async () => {
    const u = await n.token('client12');
    const s = ep.subscription();
    await n.req('POST', '/api/push/subscriptions', { token: u.token, body: subBody(s) });
    ep.respond(s.id, 400);
    const { deliveryId, messageId } = await pushDelivery(u.userId, 'notice', { title: '仅重放' });
    expect(await settledRow(deliveryId)).toMatchObject({ status: 'failed', reason: 'rejected', attempts: 1 });
    // A duplicate (another job id, e.g. a sweep or a batch holding the same row): not a replay, no send.
    await n.workers.ctx.push.handler({ id: 'dup', name: 'push', data: { deliveryId }, attempt: 1 });
    expect(await deliveries.get(deliveryId)).toMatchObject({ status: 'failed', attempts: 1 });
    expect(ep.received.filter((r) => r.json?.id === messageId)).toHaveLength(0);
    // The operator's replay: sent.
    const dead = await eventually(async () => (await n.queue.deadLetters(QUEUES.push)).find((d) => (d.data as DeliveryJob).deliveryId === deliveryId));
    expect(await n.queue.replay(QUEUES.push, dead!.id)).toBe(true);
    expect(await eventually(async () => (await deliveries.get(deliveryId))?.status === 'sent', 10_000)).toBe(true);
    await eventually(async () => ep.received.some((r) => r.json?.id === messageId));
    expect(ep.received.filter((r) => r.json?.id === messageId)).toHaveLength(1);
  });

  it('a job run again after the row was sent (replay, duplicate) does not push again', async () => {
    const u = await n.token('manager1');
    const s = ep.subscription();
    await n.req('POST', '/api/push/subscriptions', { token: u.token, body: subBody(s) });
    const { deliveryId, messageId } = await pushDelivery(u.userId, 'notice', { title: 'once' });
    expect((await settledRow(deliveryId)).status).toBe('sent');
    await n.queue.add<PushJob>(QUEUES.push, 'push', { deliveryId }, { jobId: `again-${deliveryId}` });
    await n.workers.ctx.push.handler({ id: 'direct', name: 'push', data: { deliveryId }, attempt: 1 });
    await eventually(async () => (await n.queue.pendingCount(QUEUES.push)) === 0);
    expect(ep.received.filter((r) => r.json?.id === messageId)).toHaveLength(1);
    expect((await deliveries.get(deliveryId))?.attempts).toBe(1);
  });

  it('a batch job (a fanout makes them for push): each row once; a row answered 500 goes to a job of its own and is sent; a row answered 400 fails and dead-letters the batch, naming it', async () => {
    const rows: Array<{ id: string; messageId: string; sub: BrowserSubscription }> = [];
    for (const login of ['client1', 'client2', 'client3', 'inst1']) {
      const u = await n.token(login);
      const sub = ep.subscription();
      await n.req('POST', '/api/push/subscriptions', { token: u.token, body: subBody(sub) });
      const { pub } = await n.app.qiao.publisher.publish(admin, { channel: `inbox.${u.userId}`, kind: 'notice', payload: { title: `批量 ${login}` } }, { trusted: true });
      await deliveries.insertMany([{ messageId: pub.id, userId: u.userId, transport: 'push', status: 'queued' }]);
      rows.push({ id: (await deliveries.find(pub.id, u.userId, 'push'))!.id, messageId: pub.id, sub });
    }
    ep.respond(rows[1].sub.id, 500);
    ep.respond(rows[2].sub.id, 400);
    const ids = rows.map((r) => r.id);
    await n.queue.add<PushJob>(QUEUES.push, 'push-batch', { deliveryIds: ids }, { jobId: jobIds.deliveryBatch('push', ids) });
    const settled = await Promise.all(ids.map(settledRow));
    expect(settled.map((r) => r.status)).toEqual(['sent', 'sent', 'failed', 'sent']);
    expect(settled[1].attempts).toBe(2);
    expect(settled[2]).toMatchObject({ reason: 'rejected', attempts: 1 });
    const arrived = (r: (typeof rows)[number]) => ep.received.filter((x) => x.json?.id === r.messageId).length;
    expect([rows[0], rows[1], rows[3]].map(arrived)).toEqual([1, 1, 1]);
    const dead = await eventually(async () => (await n.queue.deadLetters(QUEUES.push)).find((d) => (d.data as DeliveryBatchJob).deliveryIds?.[0] === ids[0]));
    expect(dead?.attempts).toBe(1);
    expect(dead?.reason).toContain(ids[2]);
    expect(dead?.reason).not.toContain(ids[1]);
    // The batch again (a replay, a duplicate): sent rows cannot be claimed again, nothing is pushed twice.
    await n.workers.ctx.push.handler({ id: 'again', name: 'push-batch', data: { deliveryIds: [ids[0], ids[1], ids[3]] }, attempt: 1 });
    expect([rows[0], rows[1], rows[3]].map(arrived)).toEqual([1, 1, 1]);
    expect((await deliveries.get(ids[0]))?.attempts).toBe(1);
  });

  it('refuses a malformed batch job for good: no ids, too many, or an id that is not a uuid', async () => {
    const h = n.workers.ctx.push.handler;
    const job = (deliveryIds: unknown) => ({ id: 'bad', name: 'push-batch', data: { deliveryIds } as never, attempt: 1 });
    await expect(h(job([]))).rejects.toMatchObject({ name: 'UnrecoverableJobError' });
    await expect(h(job(Array.from({ length: 1001 }, () => randomUUID())))).rejects.toThrow(/1–1000 valid deliveryIds/);
    await expect(h(job([randomUUID(), 'not-a-uuid']))).rejects.toThrow(/valid deliveryIds/);
  });
});

describe('price alert → inbox → fanout → web push, end to end', () => {
  let ep: PushEndpoint;
  let n: Node;

  beforeAll(async () => {
    ep = await new PushEndpoint().start();
    n = await startNode(ep, { sweep: false });
  });

  afterAll(async () => {
    await n?.close();
    await ep?.close();
  });

  it('a tick crossing a rule reaches the browser as an encrypted push, and a newer alert shares its Topic', async () => {
    const u = await n.token('client1');
    const s = ep.subscription();
    expect((await n.req('POST', '/api/push/subscriptions', { token: u.token, body: subBody(s) })).status).toBe(201);
    const rule = await n.req('POST', '/api/alert-rules', { token: u.token, body: { symbol: '600519.SH', direction: 'above', price: 1800, repeat: true } });
    expect(rule.status).toBe(201);

    const feed = { 'x-api-key': TEST_FEED_KEY };
    const t1 = await n.req('POST', '/api/ingest/ticks', { headers: feed, body: { ticks: [{ symbol: '600519.SH', price: 1795, name: '贵州茅台' }, { symbol: '600519.SH', price: 1800.2 }] } });
    expect(t1.status).toBe(200);
    expect(t1.body.fired).toBe(1);
    const first = await ep.next((r) => r.subscriptionId === s.id);
    expect(first.json.title).toBe('贵州茅台 600519.SH 突破 1800.00');
    expect(first).toMatchObject({ ttl: 300, urgency: 'high', topic: 'alert-600519SH' });

    // Back below the band (re-arm), then up again: a second alert, same Topic (the push service
    // replaces an undelivered first one with it) and same tag (the browser replaces the shown one).
    await n.req('POST', '/api/ingest/ticks', { headers: feed, body: { ticks: [{ symbol: '600519.SH', price: 1790 }, { symbol: '600519.SH', price: 1812 }] } });
    const second = await ep.next((r) => r.subscriptionId === s.id && r !== first && r.json?.body?.includes('1812.00'));
    expect(second.topic).toBe(first.topic);
    expect(second.json.tag).toBe(first.json.tag);
    expect(ep.errors).toEqual([]);
  });
});
