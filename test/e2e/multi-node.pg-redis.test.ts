/**
 * Two (then three) hub processes sharing one Postgres database and one Redis prefix, exercised the way
 * production runs them: separate OS processes, REST publishing on one node, sockets on another, a node
 * killed with SIGKILL mid-stream and a node drained with SIGTERM.
 *
 * Clients: the test client of test/helpers/process.ts (raw WebSocket and socket.io; it rotates through
 * the node URLs it is given) and the typed client library src/client/qiao-client.ts, which has one URL
 * and therefore reconnects through a small TCP balancer in front of the nodes where failover matters.
 *
 * Needs Postgres and Redis: skips loudly when they are unreachable, fails under QIAO_REQUIRE_SERVICES=1.
 */
import { io as ioConnect } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import WebSocket from 'ws';
import { QiaoClient, type IoFactory, type MsgPush, type WebSocketCtor } from '../../src/client/qiao-client.ts';
import {
  PG_ADMIN_URL,
  REDIS_URL,
  TcpBalancer,
  TestClient,
  createTestDatabase,
  deleteRedisPrefix,
  login,
  publishMany,
  sequenceReport,
  startHubNode,
  uniqueRedisPrefix,
  type HubNode,
  type Published,
  type TestDatabase,
} from '../helpers/process.ts';
import { gateService, postgresAvailable, redisAvailable } from '../helpers/services.ts';

const pgUp = await gateService('PostgreSQL', PG_ADMIN_URL, postgresAvailable);
const redisUp = await gateService('Redis', REDIS_URL, redisAvailable);

const JWT_SECRET = 'e2e-multi-node-secret-0123456789abcdef';
const DRAIN_TIMEOUT_MS = 5000;

/** The typed client library, recording what its handler receives. */
class LibRecorder {
  readonly client: QiaoClient;
  readonly received = new Map<string, MsgPush[]>();
  readonly nodes: string[] = [];
  readonly disconnects: Array<{ code: number; reason: string }> = [];

  constructor(url: string, token: string, transport: 'websocket' | 'socketio') {
    this.client = new QiaoClient({
      url,
      token,
      transport,
      WebSocket: WebSocket as unknown as WebSocketCtor,
      io: ioConnect as unknown as IoFactory,
      reconnect: { minDelayMs: 50, maxDelayMs: 500 },
    });
    this.client.on('connected', (w) => this.nodes.push(w.node));
    this.client.on('disconnected', (d) => this.disconnects.push({ code: d.code, reason: d.reason }));
    this.client.on('error', () => {});
  }

  async subscribe(channel: string, since?: number): Promise<void> {
    await this.client.subscribe(
      channel,
      (m) => {
        let l = this.received.get(channel);
        if (!l) this.received.set(channel, (l = []));
        l.push(m);
      },
      since === undefined ? {} : { since },
    );
  }

  msgs(channel: string): MsgPush[] {
    return this.received.get(channel) ?? [];
  }

  async waitForOffset(channel: string, offset: number, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while ((this.client.lastOffset(channel) ?? 0) < offset) {
      if (Date.now() > deadline) {
        throw new Error(
          `lib client: ${channel} reached offset ${this.client.lastOffset(channel)} not ${offset} within ${timeoutMs} ms; nodes ${this.nodes.join(',')}; disconnects ${JSON.stringify(this.disconnects)}`,
        );
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

/** The ids of `published` ordered by offset, and a check that the offsets are exactly 1..n. */
function byOffset(published: Published[]): string[] {
  const sorted = [...published].sort((a, b) => a.offset - b.offset);
  expect(sorted.map((p) => p.offset)).toEqual(sorted.map((_, i) => i + 1));
  return sorted.map((p) => p.id);
}

function expectExactly(msgs: MsgPush[], ids: string[], who: string): void {
  const r = sequenceReport(msgs);
  expect(r, who).toEqual({ count: ids.length, contiguous: true, uniqueIds: true, first: 1, last: ids.length });
  expect(msgs.map((m) => m.id), who).toEqual(ids);
}

function expectClean(c: TestClient): void {
  expect({ duplicates: c.duplicates, gaps: c.gaps, gapPushes: c.gapPushes }, c.describe()).toEqual({ duplicates: 0, gaps: [], gapPushes: [] });
}

describe.skipIf(!pgUp || !redisUp)('multi-node hub: two processes over shared Postgres + Redis', () => {
  let db: TestDatabase | undefined;
  const prefix = uniqueRedisPrefix('e2e-mn');
  let A: HubNode | undefined;
  let B: HubNode | undefined;
  let A2: HubNode | undefined;
  let lb: TcpBalancer | undefined;
  let research = '';
  let client = '';
  const testClients: TestClient[] = [];
  const libClients: LibRecorder[] = [];

  const tc = (name: string, urls: string[], transport: 'ws' | 'socketio' = 'ws') => {
    const c = new TestClient({ name, token: client, urls, transport });
    testClients.push(c);
    return c;
  };
  const lib = (url: string, transport: 'websocket' | 'socketio') => {
    const c = new LibRecorder(url, client, transport);
    libClients.push(c);
    return c;
  };

  beforeAll(async () => {
    db = await createTestDatabase();
    // A migrates and seeds; B starts once A is ready (seeding is skipped anyway when a firm exists).
    A = await startHubNode({ name: 'A', databaseUrl: db.url, redisPrefix: prefix, jwtSecret: JWT_SECRET });
    B = await startHubNode({ name: 'B', databaseUrl: db.url, redisPrefix: prefix, jwtSecret: JWT_SECRET, env: { QIAO_SEED_DEMO: 'false' } });
    research = await login(B.url, 'research1');
    client = await login(A.url, 'client1');
  }, 60_000);

  afterAll(async () => {
    for (const c of testClients) await c.disconnect().catch(() => {});
    for (const c of libClients) await c.client.close().catch(() => {});
    await lb?.close().catch(() => {});
    await Promise.all([A, B, A2].map((n) => n?.stop(2000)));
    await db?.drop().catch((e) => console.warn(`could not drop ${db?.name}: ${(e as Error).message}`));
    await deleteRedisPrefix(prefix).catch((e) => console.warn(`could not delete Redis keys under ${prefix}: ${(e as Error).message}`));
  }, 30_000);

  test('/health/ready on each node reports Postgres and Redis ok', async () => {
    for (const [node, name] of [
      [A!, 'A'],
      [B!, 'B'],
    ] as const) {
      const { status, body } = await node.health();
      expect(status, name).toBe(200);
      expect(body).toMatchObject({
        status: 'ready',
        node: name,
        mode: 'services',
        checks: { postgres: { ok: true, kind: 'pg' }, redis: { ok: true, kind: 'redis' } },
      });
    }
  });

  test('(a) cross-node delivery: 200 notes published on B (10 in flight) arrive on A and B in offset order', async () => {
    const ch = 'research.macro';
    const wsA = tc('wsA', [A!.url]);
    const sioA = tc('sioA', [A!.url], 'socketio');
    const wsB = tc('wsB', [B!.url]);
    const libA = lib(A!.url, 'websocket');
    for (const c of [wsA, sioA, wsB]) {
      await c.connect();
      expect(await c.subscribe(ch)).toMatchObject({ channel: ch, topOffset: 0 });
    }
    await libA.client.connect();
    await libA.subscribe(ch);

    const t0 = Date.now();
    const published = await publishMany(B!.url, research, ch, 200, { concurrency: 10 });
    const ids = byOffset(published);
    await Promise.all([...[wsA, sioA, wsB].map((c) => c.waitForOffset(ch, 200, 15_000)), libA.waitForOffset(ch, 200, 15_000)]);
    console.info(`(a) 200 notes published on B and delivered on A and B in ${Date.now() - t0} ms`);

    for (const c of [wsA, sioA, wsB]) {
      expectExactly(c.msgs(ch), ids, c.describe());
      expectClean(c);
    }
    expectExactly(libA.msgs(ch), ids, 'lib client on A');
    expect(wsA.events.find((e) => e.type === 'open')).toMatchObject({ node: 'A' });
    expect(wsB.events.find((e) => e.type === 'open')).toMatchObject({ node: 'B' });
    expect(libA.nodes).toEqual(['A']);
  }, 40_000);

  test('(b) cross-node recovery: offline on A, 50 notes published on A, reconnect to B with the last offset', async () => {
    const ch = 'research.strategy';
    const ws = tc('recover-ws', [A!.url, B!.url]);
    const sio = tc('recover-sio', [A!.url, B!.url], 'socketio');
    const libA = lib(A!.url, 'websocket');
    for (const c of [ws, sio]) {
      await c.connect(A!.url);
      await c.subscribe(ch);
    }
    await libA.client.connect();
    await libA.subscribe(ch);
    const researchA = research; // tokens are valid on every node (shared secret)
    const first = await publishMany(A!.url, researchA, ch, 5, { concurrency: 1 });
    await Promise.all([ws.waitForOffset(ch, 5, 5000), sio.waitForOffset(ch, 5, 5000), libA.waitForOffset(ch, 5, 5000)]);
    for (const c of [ws, sio]) expect(c.lastOffset(ch)).toBe(5);

    for (const c of [ws, sio]) await c.disconnect();
    const libLast = libA.client.lastOffset(ch)!;
    await libA.client.close();
    const missed = await publishMany(A!.url, researchA, ch, 50, { concurrency: 10, firstN: 6 });

    const t0 = Date.now();
    for (const c of [ws, sio]) await c.connect(B!.url);
    // The library: a fresh client on B, resuming from the offset the old one reached.
    const libB = lib(B!.url, 'websocket');
    await libB.client.connect();
    await libB.subscribe(ch, libLast);
    await Promise.all([ws.waitForOffset(ch, 55, 10_000), sio.waitForOffset(ch, 55, 10_000), libB.waitForOffset(ch, 55, 10_000)]);
    console.info(`(b) 50 missed notes recovered on B in ${Date.now() - t0} ms`);

    for (const c of [ws, sio]) {
      const resub = c.events.filter((e) => e.type === 'subscribed').at(-1);
      expect(resub).toMatchObject({ url: B!.url, channel: ch, since: 5, result: { recovered: true } });
    }
    // Then live ones, published on A again (so they cross nodes through Redis).
    const live = await publishMany(A!.url, researchA, ch, 10, { concurrency: 10, firstN: 56 });
    await Promise.all([ws.waitForOffset(ch, 65, 10_000), sio.waitForOffset(ch, 65, 10_000), libB.waitForOffset(ch, 65, 10_000)]);

    const ids = byOffset([...first, ...missed, ...live]);
    for (const c of [ws, sio]) {
      expectExactly(c.msgs(ch), ids, c.describe());
      expectClean(c);
    }
    expectExactly([...libA.msgs(ch), ...libB.msgs(ch)], ids, 'lib clients A then B');
    expect(libB.nodes).toEqual(['B']);
  }, 40_000);

  test('(c) kill -9: node A dies mid-stream; its clients reconnect to B and end with exactly 1..N', async () => {
    const ch = 'research.fixed-income';
    const N = 300;
    lb = await TcpBalancer.start([A!.port, B!.port]);
    const ws = tc('kill-ws', [A!.url, B!.url]);
    const sio = tc('kill-sio', [A!.url, B!.url], 'socketio');
    const libWs = lib(lb.url, 'websocket');
    const libSio = lib(lb.url, 'socketio');
    for (const c of [ws, sio]) {
      await c.connect(A!.url);
      await c.subscribe(ch);
    }
    for (const c of [libWs, libSio]) {
      await c.client.connect();
      await c.subscribe(ch);
      expect(c.nodes).toEqual(['A']);
    }

    let killedAt = 0;
    const t0 = Date.now();
    const published = await publishMany(B!.url, research, ch, N, {
      concurrency: 5,
      ratePerS: 100,
      onPublished: (_p, done) => {
        if (done === 100) {
          killedAt = Date.now();
          A!.kill('SIGKILL');
        }
      },
    });
    expect(await A!.waitExit(5000)).toEqual({ code: null, signal: 'SIGKILL' });
    await Promise.all([...[ws, sio, libWs, libSio].map((c) => c.waitForOffset(ch, N, 20_000))]);
    console.info(`(c) ${N} notes at ~100/s; A killed after ${killedAt - t0} ms; all clients complete ${Date.now() - killedAt} ms after the kill`);

    const ids = byOffset(published);
    for (const c of [ws, sio]) {
      expectExactly(c.msgs(ch), ids, c.describe());
      expectClean(c);
      const opens = c.events.filter((e) => e.type === 'open').map((e) => (e as { node: string }).node);
      expect(opens[0]).toBe('A');
      expect(opens.at(-1)).toBe('B');
      // Resubscribed on B from an offset in the middle of the stream, and recovered fully.
      const resub = c.events.filter((e) => e.type === 'subscribed').at(-1) as { since?: number; result: { recovered?: boolean } };
      expect(resub.since).toBeGreaterThan(0);
      expect(resub.result.recovered).toBe(true);
    }
    for (const [c, who] of [
      [libWs, 'lib ws via balancer'],
      [libSio, 'lib socket.io via balancer'],
    ] as const) {
      expectExactly(c.msgs(ch), ids, who);
      expect(c.nodes[0]).toBe('A');
      expect(c.nodes.at(-1)).toBe('B');
    }
  }, 45_000);

  test('(d) SIGTERM drain: clients get a reconnect push and a close, A exits 0, clients resume on B losing nothing', async () => {
    const ch = 'research.morning-brief';
    const N = 150;
    A2 = await startHubNode({
      name: 'A2',
      databaseUrl: db!.url,
      redisPrefix: prefix,
      jwtSecret: JWT_SECRET,
      env: { QIAO_SEED_DEMO: 'false', QIAO_DRAIN_TIMEOUT_MS: String(DRAIN_TIMEOUT_MS), QIAO_RECONNECT_AFTER_MS: '300' },
    });
    lb ??= await TcpBalancer.start([]);
    lb.setBackends([A2.port, B!.port]);
    const ws = tc('drain-ws', [A2.url, B!.url]);
    const sio = tc('drain-sio', [A2.url, B!.url], 'socketio');
    const libWs = lib(lb.url, 'websocket');
    for (const c of [ws, sio]) {
      await c.connect(A2.url);
      await c.subscribe(ch);
    }
    await libWs.client.connect();
    await libWs.subscribe(ch);
    expect(libWs.nodes).toEqual(['A2']);

    let termAt = 0;
    let exit: Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }> | undefined;
    const published = await publishMany(B!.url, research, ch, N, {
      concurrency: 5,
      ratePerS: 100,
      onPublished: (_p, done) => {
        if (done === 40) {
          // What an orchestrator does: take the node out of the balancer, then SIGTERM it.
          lb!.disable(A2!.port);
          termAt = Date.now();
          A2!.kill('SIGTERM');
          exit = A2!.waitExit(DRAIN_TIMEOUT_MS + 3000).then((e) => ({ ...e, ms: Date.now() - termAt }));
        }
      },
    });
    const exited = await exit!;
    expect(exited.code, A2.output()).toBe(0);
    expect(exited.signal).toBeNull();
    expect(exited.ms).toBeLessThan(DRAIN_TIMEOUT_MS);
    const ids = byOffset(published);
    await Promise.all([...[ws, sio, libWs].map((c) => c.waitForOffset(ch, N, 15_000))]);
    // A draining node keeps serving its sockets until they move (or it closes them); a client closed
    // by it reconnects `afterMs` later, so give the move that long before looking where they are.
    const lastOpen = (c: typeof ws) => c.events.filter((e) => e.type === 'open').at(-1) as { node?: string } | undefined;
    for (let i = 0; i < 100 && [ws, sio].some((c) => lastOpen(c)?.node !== 'B'); i++) await new Promise((r) => setTimeout(r, 50));
    console.info(`(d) A2 drained and exited 0 in ${exited.ms} ms; clients complete on B`);

    for (const c of [ws, sio]) {
      const push = c.events.find((e) => e.type === 'reconnect-push');
      const close = c.events.find((e) => e.type === 'close');
      expect(push, c.describe()).toMatchObject({ url: A2.url, reason: 'node draining' });
      expect(close, c.describe()).toMatchObject({ url: A2.url, code: 4103, reason: 'QIAO_DRAINING' });
      expect(close!.at).toBeGreaterThanOrEqual(push!.at);
      expect(c.events.filter((e) => e.type === 'open').at(-1)).toMatchObject({ node: 'B' });
      expectExactly(c.msgs(ch), ids, c.describe());
      expectClean(c);
    }
    expectExactly(libWs.msgs(ch), ids, 'lib ws via balancer');
    expect(libWs.nodes.at(-1)).toBe('B');
  }, 45_000);
});
