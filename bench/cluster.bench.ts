/**
 * Redis Cluster benchmark (issue 13): the same load on three hub nodes over a local Redis Cluster
 * (3 masters + 3 replicas, sharded pub/sub) and over one private Redis (classic pub/sub), in one run.
 *
 *   npm run bench:cluster
 *   npx tsx bench/cluster.bench.ts --rate 200 --seconds 10 --subscribers 60 --pubsub-messages 20000 --repeat 2
 *
 * Part 1, end to end: a throw-away PostgreSQL database per setup, three `src/main.ts start` nodes,
 * `--subscribers` raw-WebSocket clients spread over the nodes and over the research channels (each client
 * one channel), research notes by research1 over REST at `--rate` per second (open loop, at most
 * `--inflight` requests pending) round-robin over the nodes and channels, `--warmup` s unmeasured then
 * `--seconds` s measured. Reports deliveries/s (deliveries of the notes published in the window ÷ the time
 * from the window's start to the last of them), REST
 * publish latency p50/p99, delivery latency p50/p99 (receive time − the publication's `time`), and
 * Redis CPU per publication: INFO cpu (used_cpu_sys + used_cpu_user) summed over every Redis process of
 * the setup (all six cluster nodes, replicas included), after − before the window, ÷ publications. That
 * CPU includes everything the hubs do in Redis per note (bus script, fanout job, presence), not only pub/sub;
 * "net of idle" subtracts what the Redis processes burn idle with the hubs connected (measured for 3 s
 * before publishing: cluster-bus gossip, cron, replication pings), which is larger on six servers.
 *
 * Part 2, pub/sub alone: one publisher and three subscriber connections (one per "hub"), 24 channels,
 * `--pubsub-messages` messages of 300 bytes with 200 in flight; Redis CPU per message over all nodes,
 * for PUBLISH on one Redis, PUBLISH on the cluster (broadcast over the cluster bus to every node) and
 * SPUBLISH on the cluster (only the owning shard and its replica).
 *
 * The machine is shared: the figures are indicative. Output: markdown on stdout, progress on stderr, the
 * record in bench/results/cluster-<time>.json (gitignored).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { Cluster, Redis } from 'ioredis';
import { LatencyHistogram, type LatencySummary } from './lib/message.ts';
import { REPO_ROOT } from './lib/proc.ts';
import { startOwnRedis } from '../test/helpers/own-services.ts';
import { TestClient, createTestDatabase, login, startHubNode, uniqueRedisPrefix, type HubNode } from '../test/helpers/process.ts';
import { startRedisCluster } from '../test/helpers/redis-cluster.ts';

const log = (line: string) => process.stderr.write(`[bench:cluster] ${line}\n`);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, Math.max(0, ms)));
const f = (n: number | undefined, d = 1) => (n === undefined || !Number.isFinite(n) ? '-' : n.toFixed(d));

const CHANNELS = ['research.macro', 'research.strategy', 'research.morning-brief', 'research.fixed-income'];
const JWT_SECRET = 'bench-cluster-secret-0123456789abcdef0123';
const IDLE_MS = 3000;
const DRAIN_MS = 20_000;

interface Options {
  rate: number;
  seconds: number;
  warmup: number;
  subscribers: number;
  inflight: number;
  pubsubMessages: number;
  /** End-to-end runs per setup, alternating which goes first (machine drift hits both alike). */
  repeat: number;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { rate: 200, seconds: 10, warmup: 2, subscribers: 60, inflight: 50, pubsubMessages: 20_000, repeat: 1 };
  const keys: Record<string, keyof Options> = {
    '--rate': 'rate',
    '--seconds': 'seconds',
    '--warmup': 'warmup',
    '--subscribers': 'subscribers',
    '--inflight': 'inflight',
    '--pubsub-messages': 'pubsubMessages',
    '--repeat': 'repeat',
  };
  for (let i = 0; i < argv.length; i += 2) {
    const k = keys[argv[i]];
    const v = Number(argv[i + 1]);
    if (!k || !Number.isFinite(v) || v <= 0) {
      process.stderr.write(`usage: npx tsx bench/cluster.bench.ts [${Object.keys(keys).join(' N] [')} N]\n`);
      process.exit(2);
    }
    o[k] = v;
  }
  return o;
}

interface RedisSetup {
  kind: 'cluster' | 'single';
  url: string;
  /** used_cpu_sys + used_cpu_user summed over every Redis process, s. */
  cpu(): Promise<number>;
  close(): Promise<void>;
}

async function startSetup(kind: 'cluster' | 'single'): Promise<RedisSetup> {
  if (kind === 'cluster') {
    const c = await startRedisCluster();
    return { kind, url: c.url, cpu: () => c.cpuSeconds(), close: () => c.close() };
  }
  const r = await startOwnRedis();
  const admin = new Redis(r.url);
  return {
    kind,
    url: r.url,
    async cpu() {
      const info = await admin.info('cpu');
      return Number(/used_cpu_sys:([\d.]+)/.exec(info)?.[1]) + Number(/used_cpu_user:([\d.]+)/.exec(info)?.[1]);
    },
    async close() {
      admin.disconnect();
      await r.close();
    },
  };
}

// ---------------------------------------------------------------------------------------------------
// Part 1: three hubs end to end

interface E2eResult {
  setup: string;
  offeredPerS: number;
  published: number;
  refused: number;
  deliveries: number;
  expectedDeliveries: number;
  /** Deliveries of the measured notes ÷ (time from the window's start to the last of them). */
  deliveriesPerS: number;
  publish: LatencySummary;
  delivery: LatencySummary;
  redisCpuMsPerPublication: number;
  /** The same, minus what the Redis processes burn idle with the hubs connected (cluster gossip, cron, health). */
  redisCpuNetMsPerPublication: number;
  redisIdleCpuPct: number;
}

async function endToEnd(kind: 'cluster' | 'single', o: Options): Promise<E2eResult> {
  log(`${kind}: starting Redis, database and three hubs`);
  const redis = await startSetup(kind);
  const db = await createTestDatabase();
  const prefix = uniqueRedisPrefix('bench-cl');
  const hubs: HubNode[] = [];
  const clients: TestClient[] = [];
  try {
    const common = { databaseUrl: db.url, redisUrl: redis.url, redisPrefix: prefix, jwtSecret: JWT_SECRET, env: { QIAO_LOG_LEVEL: 'error' } };
    hubs.push(await startHubNode({ ...common, name: `${kind}-A` }));
    hubs.push(...(await Promise.all(['B', 'C'].map((n) => startHubNode({ ...common, name: `${kind}-${n}`, env: { ...common.env, QIAO_SEED_DEMO: 'false' } })))));
    const research = await login(hubs[0].url, 'research1');
    const client = await login(hubs[1].url, 'client1');

    let measuring = false;
    // Deliveries are counted for the notes published in the measured window (by the number in their
    // title), until all of them arrived or the drain timeout passed.
    const measuredNotes = new Set<number>();
    let deliveries = 0;
    let expected = 0;
    let lastDeliveryAt = 0;
    const delivery = new LatencyHistogram();
    const onRawMsg = (m: { time: string; payload: unknown }) => {
      const note = Number(/^bench (\d+)$/.exec(String((m.payload as { title?: string })?.title))?.[1]);
      if (!measuredNotes.has(note)) return;
      deliveries++;
      lastDeliveryAt = Date.now();
      delivery.record(Date.now() - Date.parse(m.time));
    };
    const subsPerChannel = new Map<string, number>();
    for (let i = 0; i < o.subscribers; i++) {
      const ch = CHANNELS[i % CHANNELS.length];
      subsPerChannel.set(ch, (subsPerChannel.get(ch) ?? 0) + 1);
      const c = new TestClient({ name: `s${i}`, token: client, urls: [hubs[i % 3].url], transport: 'ws', onRawMsg });
      clients.push(c);
      await c.connect();
      await c.subscribe(ch);
    }
    // Idle baseline: Redis CPU with everything connected and subscribed, nothing published.
    const idle0 = await redis.cpu();
    const idleT0 = performance.now();
    await sleep(IDLE_MS);
    const idleRate = ((await redis.cpu()) - idle0) / ((performance.now() - idleT0) / 1000);
    log(`${kind}: ${o.subscribers} subscribers on ${CHANNELS.length} channels over 3 nodes; idle Redis CPU ${f(idleRate * 100)}%; publishing ${o.rate}/s`);

    const publish = new LatencyHistogram();
    let published = 0;
    let refused = 0;
    let inflight = 0;
    let n = 0;
    const t0 = Date.now();
    const tStart = t0 + o.warmup * 1000;
    const tEnd = tStart + o.seconds * 1000;
    let cpu0 = NaN;
    const pending: Promise<void>[] = [];
    const one = async (i: number, measured: boolean) => {
      inflight++;
      const hub = hubs[i % 3];
      const ch = CHANNELS[i % CHANNELS.length];
      const s = performance.now();
      // Registered before the request: sockets get the note before the REST answer arrives.
      if (measured) measuredNotes.add(i);
      try {
        const res = await fetch(`${hub.url}/api/channels/${ch}/publications`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${research}` },
          body: JSON.stringify({ kind: 'note', payload: { title: `bench ${i}`, riskLevel: 'R2', summary: 'x'.repeat(200) } }),
        });
        await res.arrayBuffer();
        if (measured) {
          if (res.status === 201) {
            published++;
            expected += subsPerChannel.get(ch) ?? 0;
            publish.record(performance.now() - s);
          } else {
            refused++;
            measuredNotes.delete(i);
          }
        }
      } catch {
        if (measured) {
          refused++;
          measuredNotes.delete(i);
        }
      } finally {
        inflight--;
      }
    };
    for (;;) {
      const due = t0 + (n * 1000) / o.rate;
      if (due >= tEnd) break;
      await sleep(due - Date.now());
      if (!measuring && Date.now() >= tStart) {
        cpu0 = await redis.cpu();
        measuring = true;
      }
      n++;
      if (inflight >= o.inflight) continue; // open loop: a due tick with too much pending is skipped
      pending.push(one(n, measuring));
    }
    await Promise.all(pending);
    const drainEnd = Date.now() + DRAIN_MS;
    while (deliveries < expected && Date.now() < drainEnd) await sleep(20);
    measuring = false;
    const cpu1 = await redis.cpu();
    const cpuWindowS = (Date.now() - tStart) / 1000;
    const windowS = (Math.max(lastDeliveryAt, tEnd) - tStart) / 1000;
    return {
      setup: kind === 'cluster' ? '3 hubs, Redis Cluster 3+3 (sharded pub/sub)' : '3 hubs, one Redis (classic pub/sub)',
      offeredPerS: o.rate,
      published,
      refused,
      deliveries,
      expectedDeliveries: expected,
      deliveriesPerS: deliveries / windowS,
      publish: publish.summary(),
      delivery: delivery.summary(),
      redisCpuMsPerPublication: ((cpu1 - cpu0) * 1000) / Math.max(1, published),
      redisCpuNetMsPerPublication: ((cpu1 - cpu0 - idleRate * cpuWindowS) * 1000) / Math.max(1, published),
      redisIdleCpuPct: idleRate * 100,
    };
  } finally {
    for (const c of clients) await c.disconnect().catch(() => {});
    await Promise.all(hubs.map((h) => h.stop(3000)));
    await db.drop().catch((e) => log(`could not drop ${db.name}: ${(e as Error).message}`));
    await redis.close();
  }
}

// ---------------------------------------------------------------------------------------------------
// Part 2: pub/sub alone

interface PubSubResult {
  variant: string;
  messages: number;
  received: number;
  msgPerS: number;
  redisCpuUsPerMessage: number;
}

async function pubsubOnly(setup: RedisSetup, sharded: boolean, o: Options): Promise<PubSubResult> {
  const mk = () =>
    setup.kind === 'cluster'
      ? new Cluster([{ host: '127.0.0.1', port: Number(/:(\d+)/.exec(setup.url.replace('redis+cluster://', ''))![1]) }], { shardedSubscribers: true })
      : new Redis(setup.url);
  const channels = Array.from({ length: 24 }, (_, i) => `bench:{ch${i}}:live`);
  const pub = mk();
  const subs = [mk(), mk(), mk()];
  let received = 0;
  for (const s of subs) {
    s.on(sharded ? 'smessage' : 'message', () => received++);
    for (const ch of channels) await (sharded ? (s as Cluster).ssubscribe(ch) : s.subscribe(ch));
  }
  const payload = 'x'.repeat(300);
  const cpu0 = await setup.cpu();
  const t0 = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < o.pubsubMessages) {
      const i = next++;
      const ch = channels[i % channels.length];
      await (sharded ? (pub as Cluster).spublish(ch, payload) : pub.publish(ch, payload));
    }
  };
  await Promise.all(Array.from({ length: 200 }, worker));
  const want = o.pubsubMessages * subs.length;
  const deadline = Date.now() + 10_000;
  while (received < want && Date.now() < deadline) await sleep(10);
  const elapsed = (performance.now() - t0) / 1000;
  const cpu1 = await setup.cpu();
  for (const c of [pub, ...subs]) c.disconnect();
  return {
    variant: `${sharded ? 'SPUBLISH' : 'PUBLISH'} on ${setup.kind === 'cluster' ? 'Redis Cluster 3+3' : 'one Redis'}`,
    messages: o.pubsubMessages,
    received,
    msgPerS: o.pubsubMessages / elapsed,
    redisCpuUsPerMessage: ((cpu1 - cpu0) * 1e6) / o.pubsubMessages,
  };
}

// ---------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const e2e: E2eResult[] = [];
  for (let r = 0; r < o.repeat; r++) {
    const order = r % 2 === 0 ? (['cluster', 'single'] as const) : (['single', 'cluster'] as const);
    for (const kind of order) e2e.push(await endToEnd(kind, o));
  }

  const ps: PubSubResult[] = [];
  for (const kind of ['single', 'cluster'] as const) {
    const setup = await startSetup(kind);
    try {
      ps.push(await pubsubOnly(setup, false, o));
      if (kind === 'cluster') ps.push(await pubsubOnly(setup, true, o));
    } finally {
      await setup.close();
    }
  }

  const out: string[] = [];
  out.push(`## Three hub nodes: Redis Cluster vs one Redis (${o.rate} notes/s offered, ${o.subscribers} subscribers, ${o.seconds} s)`, '');
  out.push('| setup | notes published | refused | delivered / expected | deliveries/s | publish p50 / p99 ms | delivery p50 / p99 ms | Redis CPU ms / publication | same, net of idle | Redis idle CPU % |');
  out.push('|---|---|---|---|---|---|---|---|---|---|');
  for (const r of e2e) {
    out.push(
      `| ${r.setup} | ${r.published} | ${r.refused} | ${r.deliveries} / ${r.expectedDeliveries} | ${f(r.deliveriesPerS, 0)} | ${f(r.publish.p50Ms)} / ${f(r.publish.p99Ms)} | ${f(r.delivery.p50Ms)} / ${f(r.delivery.p99Ms)} | ${f(r.redisCpuMsPerPublication, 3)} | ${f(r.redisCpuNetMsPerPublication, 3)} | ${f(r.redisIdleCpuPct, 1)} |`,
    );
  }
  out.push('', `## Pub/sub alone: 1 publisher, 3 subscribers, 24 channels, ${o.pubsubMessages} messages of 300 bytes`, '');
  out.push('| variant | messages/s | received (of messages × 3) | Redis CPU µs / message, all nodes |');
  out.push('|---|---|---|---|');
  for (const r of ps) out.push(`| ${r.variant} | ${f(r.msgPerS, 0)} | ${r.received} | ${f(r.redisCpuUsPerMessage, 1)} |`);
  process.stdout.write(out.join('\n') + '\n');

  const dir = `${REPO_ROOT}bench/results`;
  mkdirSync(dir, { recursive: true });
  const file = `${dir}/cluster-${new Date().toISOString().replace(/[:.]/g, '-')}.json`;
  writeFileSync(file, JSON.stringify({ options: o, endToEnd: e2e, pubsub: ps }, null, 2));
  log(`record: ${file}`);
}

main().then(
  () => process.exit(0),
  (e) => {
    process.stderr.write(`[bench:cluster] failed: ${(e as Error).stack ?? e}\n`);
    process.exit(1);
  },
);
