/**
 * Scale-out on Redis Cluster (issue 13): three hub processes and two worker processes on a PRIVATE local
 * Redis Cluster (3 masters + 3 replicas, test/helpers/redis-cluster.ts) and the shared PostgreSQL.
 *
 *   (a) a publication on node A reaches subscribers on B and C once, in offset order, and live delivery
 *       runs on sharded pub/sub (the channel is a shard channel on the master owning its slot; no
 *       classic pub/sub channel of this deployment exists);
 *   (b) a queued delivery job (email to the local SMTP sink) is processed by a worker process;
 *   (c) failover: while notes are published at a steady rate over the three nodes, the master owning
 *       the channel's slot is SIGKILLed; its replica takes over. Then: no hub or worker process died;
 *       every acknowledged note reached every client at its acknowledged offset, in order, with no
 *       duplicate in the accepted sequence (recovery from history fills gaps); every refusal during the
 *       outage was 503 QIAO_UNAVAILABLE; no note was given up; and email still flows through the queue.
 *
 * Needs redis-server/redis-cli (≥ 7.0) and PostgreSQL: skips loudly without them, fails under
 * QIAO_REQUIRE_SERVICES=1. Runtime: about 1 minute on an idle 2-core machine.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { MsgPush } from '../../src/gateway/protocol.ts';
import { gateRedisCluster, startRedisCluster, type RedisClusterHandle } from '../helpers/redis-cluster.ts';
import {
  PG_ADMIN_URL,
  TestClient,
  createTestDatabase,
  login,
  publishMany,
  publishNote,
  sequenceReport,
  startHubNode,
  uniqueRedisPrefix,
  type HubNode,
  type TestDatabase,
} from '../helpers/process.ts';
import { RetryingPublisher } from '../helpers/retrying-publisher.ts';
import { gateService, postgresAvailable } from '../helpers/services.ts';
import { SmtpSink } from '../helpers/smtp-sink.ts';
import { startWorkerNode } from '../helpers/worker-process.ts';

const clusterOk = gateRedisCluster('cluster suite (test/e2e/cluster.pg-redis.test.ts)');
const pgUp = await gateService('PostgreSQL', PG_ADMIN_URL, postgresAvailable);

const JWT_SECRET = 'e2e-cluster-secret-0123456789abcdef0123';
const CH = 'research.macro';
const MAIL_CH = 'research.strategy';
const MAIL_TO = 'client2@qiao.example';
const RATE_PER_S = 40;
const PUBLISH_MS = 10_000;
const KILL_AFTER_MS = 3000;
const SHOW = 5;
const MIN_ACKED = 60;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function api(url: string, token: string, method: string, path: string, body?: unknown): Promise<{ status: number; text: string }> {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  return { status: res.status, text: await res.text() };
}

describe.skipIf(!clusterOk || !pgUp)('three hubs and two workers on a Redis Cluster', () => {
  let cluster: RedisClusterHandle;
  let db: TestDatabase | undefined;
  let sink: SmtpSink;
  const prefix = uniqueRedisPrefix('e2e-cl');
  const hubs: HubNode[] = [];
  const workers: HubNode[] = [];
  const clients: TestClient[] = [];
  let research = '';
  let clientToken = '';

  const allProcs = () => [...hubs, ...workers];
  const slotOf = async (key: string) => Number(await cluster.command(cluster.alivePorts()[0], 'CLUSTER', 'KEYSLOT', key));

  beforeAll(async () => {
    cluster = await startRedisCluster();
    db = await createTestDatabase();
    sink = await SmtpSink.start(0);
    const common = { databaseUrl: db.url, redisUrl: cluster.url, redisPrefix: prefix, jwtSecret: JWT_SECRET };
    // A migrates and seeds; B and C start once A is ready.
    hubs.push(await startHubNode({ ...common, name: 'A' }));
    hubs.push(...(await Promise.all(['B', 'C'].map((name) => startHubNode({ ...common, name, env: { QIAO_SEED_DEMO: 'false' } })))));
    const workerEnv = { QIAO_SMTP_URL: sink.url, QIAO_QUEUE_LOCK_MS: '2000', QIAO_DELIVERY_LEASE_MS: '2000', QIAO_EMAIL_BACKOFF_MS: '200', QIAO_SWEEP_INTERVAL_MS: '1000' };
    workers.push(...(await Promise.all(['W1', 'W2'].map((name) => startWorkerNode({ ...common, name, env: workerEnv })))));
    research = await login(hubs[0].url, 'research1');
    clientToken = await login(hubs[1].url, 'client1');
  }, 120_000);

  afterAll(async () => {
    for (const c of clients) await c.disconnect().catch(() => {});
    await Promise.all(allProcs().map((n) => n.stop(2000)));
    await sink?.stop().catch(() => {});
    await cluster?.close();
    await db?.drop().catch((e) => console.warn(`could not drop ${db?.name}: ${(e as Error).message}`));
  }, 30_000);

  const tc = (name: string, urls: string[], transport: 'ws' | 'socketio') => {
    const c = new TestClient({ name, token: clientToken, urls, transport, reconnectDelayMs: 100 });
    clients.push(c);
    return c;
  };

  test('(a) a publication on A reaches subscribers on B and C once, in order, over sharded pub/sub', async () => {
    for (const n of hubs) {
      const { status, body } = await n.health();
      expect({ status, redis: body.checks.redis.ok }, n.name).toEqual({ status: 200, redis: true });
    }
    const subs = [tc('wsB', [hubs[1].url, hubs[2].url], 'ws'), tc('sioC', [hubs[2].url, hubs[1].url], 'socketio'), tc('wsC', [hubs[2].url, hubs[1].url], 'ws')];
    for (const c of subs) {
      await c.connect();
      expect(await c.subscribe(CH)).toMatchObject({ channel: CH, topOffset: 0 });
    }
    const published = await publishMany(hubs[0].url, research, CH, 100, { concurrency: 10 });
    const ids = [...published].sort((a, b) => a.offset - b.offset).map((p) => p.id);
    await Promise.all(subs.map((c) => c.waitForOffset(CH, 100, 20_000)));
    for (const c of subs) {
      expect(sequenceReport(c.msgs(CH)), c.describe()).toEqual({ count: 100, contiguous: true, uniqueIds: true, first: 1, last: 100 });
      expect(c.msgs(CH).map((m) => m.id), c.describe()).toEqual(ids);
      expect({ duplicates: c.duplicates, gaps: c.gaps }, c.describe()).toEqual({ duplicates: 0, gaps: [] });
    }

    // Sharded pub/sub: the live channel is a shard channel on the master owning its slot (the slot of
    // its history keys); no classic channel of this deployment exists on any node.
    const live = `${prefix}{${CH}}:live`;
    const owner = await cluster.masterOfSlot(await slotOf(live));
    expect(await slotOf(`${prefix}{${CH}}:stream`)).toBe(await slotOf(live));
    expect(await cluster.command(owner, 'PUBSUB', 'SHARDCHANNELS', `${prefix}*`)).toContain(live);
    for (const port of cluster.alivePorts()) {
      expect(await cluster.command(port, 'PUBSUB', 'CHANNELS', `${prefix}*`), `classic channels on ${port}`).toEqual([]);
    }
    // The hub subscribed once per process (B and C): two subscriber connections on the shard channel.
    const [, count] = (await cluster.command(owner, 'PUBSUB', 'SHARDNUMSUB', live)) as [string, number];
    expect(count).toBe(2);
    // The REST rate limiter counts in the cluster too (it fails open, so only its keys prove it works).
    let rateKeys = 0;
    for (const port of await cluster.masters()) {
      const [, keys] = (await cluster.command(port, 'SCAN', '0', 'MATCH', `${prefix}rl:*`, 'COUNT', '10000')) as [string, string[]];
      rateKeys += keys.length;
    }
    expect(rateKeys, 'rate-limit keys on the cluster').toBeGreaterThan(0);
  }, 60_000);

  async function mailToClient2(title: string, viaUrl: string): Promise<void> {
    const before = sink.to(MAIL_TO).length;
    const note = await publishNote(viaUrl, research, MAIL_CH, Date.now());
    await sink.waitFor(() => sink.to(MAIL_TO).length > before, 30_000, `email about ${title} to ${MAIL_TO}`);
    expect(sink.to(MAIL_TO).some((m) => m.qiaoMessageId === note.id), `mail about ${note.id}`).toBe(true);
  }

  test('(b) a queued email job is processed by a worker process and reaches the SMTP sink', async () => {
    const client2 = await login(hubs[2].url, 'client2');
    const sub = await api(hubs[2].url, client2, 'PUT', `/api/subscriptions/${MAIL_CH}`, {});
    expect([200, 201], sub.text).toContain(sub.status);
    const prefs = await api(hubs[2].url, client2, 'PUT', '/api/preferences', { categories: { research: { transports: { email: true }, digest: 'immediate' } } });
    expect(prefs.status, prefs.text).toBe(200);
    await mailToClient2('first note', hubs[1].url);
    // Jobs live under the per-queue hash-tag prefix on the cluster.
    expect(await slotOf(`{${prefix}bull:qiao-email}:qiao-email:wait`)).toBe(await slotOf(`{${prefix}bull:qiao-email}:qiao-email:id`));
    for (const n of allProcs()) expect(n.running, n.name).toBe(true);
  }, 60_000);

  test('(c) failover: the master of the channel slot is SIGKILLed while publishing; nothing acknowledged is lost', async () => {
    const urls = hubs.map((h) => h.url);
    const subs = [
      tc('fo-wsA', [urls[0], urls[1], urls[2]], 'ws'),
      tc('fo-sioB', [urls[1], urls[2], urls[0]], 'socketio'),
      tc('fo-wsC', [urls[2], urls[0], urls[1]], 'ws'),
      ...clients.slice(0, 3), // the clients of (a), still subscribed
    ];
    for (const c of subs.slice(0, 3)) {
      await c.connect();
      await c.subscribe(CH);
    }
    const live = `${prefix}{${CH}}:live`;
    const victim = await cluster.masterOfSlot(await slotOf(live));
    const pub = new RetryingPublisher({
      nodes: hubs.map((h) => ({ name: h.name, url: h.url })),
      token: research,
      channel: CH,
      ratePerS: RATE_PER_S,
      concurrency: 10,
      requestTimeoutMs: 15_000,
      retryDeadlineMs: 40_000,
    });
    const t0 = Date.now();
    const running = pub.run(PUBLISH_MS, 30_000);
    await sleep(KILL_AFTER_MS);
    await cluster.killNode(victim);
    const killedAt = Date.now();
    await cluster.waitHealthy(30_000);
    const promoted = await cluster.masterOfSlot(await slotOf(live));
    console.info(`(c) master ${victim} killed at +${killedAt - t0} ms; replica ${promoted} serves the slot after ${Date.now() - killedAt} ms`);
    await running;
    expect(promoted).not.toBe(victim);

    const acked = pub.acked().sort((a, b) => a.offset - b.offset);
    const top = acked.at(-1)?.offset ?? 0;
    console.info(`(c) publisher: ${pub.summary()}`);
    // Publishing went on through the outage (a busy machine acknowledges fewer notes; the floor only
    // makes sure the scenario is not empty).
    expect(acked.length, 'acknowledged notes').toBeGreaterThanOrEqual(MIN_ACKED);
    expect(pub.notes.filter((n) => n.acked && n.acked.at > killedAt).length, 'notes acknowledged after the kill').toBeGreaterThanOrEqual(MIN_ACKED / 3);
    await Promise.allSettled(subs.map((c) => c.waitForOffset(CH, top, 30_000)));

    // (i) no hub or worker process died.
    for (const n of allProcs()) expect.soft(n.running, `${n.name} died:\n${n.output().split('\n').slice(-20).join('\n')}`).toBe(true);
    // (ii) every acknowledged note at every client, at its offset, in order, unique in the accepted sequence.
    for (const c of subs) {
      const msgs: MsgPush[] = c.msgs(CH);
      const at = new Map(msgs.map((m) => [m.offset, m.id]));
      const missing = acked.filter((a) => at.get(a.offset) !== a.id);
      expect.soft(missing.length, `${c.describe()}\nmissing or wrong, e.g. ${JSON.stringify(missing.slice(0, SHOW))}`).toBe(0);
      const offsets = msgs.map((m) => m.offset);
      expect.soft(offsets.every((o, i) => i === 0 || o > offsets[i - 1]), `${c.describe()}: offsets not increasing`).toBe(true);
      expect.soft(new Set(msgs.map((m) => m.id)).size, `${c.describe()}: duplicate ids accepted`).toBe(msgs.length);
    }
    // (iii) every refusal had a stable code; nothing was given up.
    const refusals = pub.failures().map((a) => (a.status ? `${a.status} ${a.code}` : `net ${a.netError}`));
    expect.soft(refusals.filter((r) => r !== '503 QIAO_UNAVAILABLE'), `refusals other than 503 QIAO_UNAVAILABLE`).toEqual([]);
    expect.soft(pub.notes.filter((n) => n.gaveUp).map((n) => `${n.note}: ${n.gaveUp}`)).toEqual([]);
    // The hubs felt the failover: their shard subscriber was lost, and came back before they resynced.
    for (const h of hubs) {
      expect.soft(h.output(), `${h.name} log`).toMatch(/redis subscriber: a shard subscriber was lost/);
      expect.soft(h.output(), `${h.name} log`).toMatch(/redis subscriber: shard subscribers are live again/);
    }
    // (iv) the queue still works after the failover.
    await mailToClient2('after failover', hubs[0].url);
    for (const n of allProcs()) expect(n.running, n.name).toBe(true);
  }, 150_000);
});
