/**
 * Load generator of the publish benchmark (bench/publish.bench.ts starts it; not meant to be run by
 * hand). One process, talking to the orchestrator over node IPC (lib/publish-ipc.ts):
 *
 *   prepare  log the phase's users in over REST (each on the node it will connect to), open one socket
 *            per user (raw WS or socket.io, as planned), subscribe every socket to its channel(s);
 *   step     publish at an offered aggregate rate for warm-up + window, then drain and settle;
 *   release  close the phase's sockets.
 *
 * Publishing is OPEN LOOP: publication k is due at t0 + k/rate on an absolute schedule and is sent when
 * due whether or not earlier ones were acked (a timer tick sends every publication that has come due, so
 * at 2,000/s they leave in 1 ms bursts of ~2). The only brake: when `maxInflight` publications await their
 * ack, a due tick is skipped and counted, so an overloaded server cannot make the backlog (and the drain)
 * grow without bound. Chat goes round-robin over the conversations, each from the conversation's broker
 * (its socket, `publish` on `conv.<id>`); notes alternate over the note channels and the two nodes, by
 * research1 over REST (`POST /api/channels/:channel/publications`, keep-alive).
 *
 * Every publication carries a marker `b:<step>:<seq>` at the start of its text (chat) or title (note);
 * the receiving side parses it and looks the send time up by seq (one clock: this process's
 * performance.now()). Latencies: ack = send → reply; delivery = send → the receiving client's copy (for
 * chat the client is on the other node than the broker, so every delivery crosses nodes through Redis);
 * echo = send → the broker's own copy (its node). A publication is "in the window" when its scheduled
 * time is; its latencies count even when the ack/delivery arrives during the drain, so the tail is kept.
 */
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Push, Reply } from '../src/gateway/protocol.ts';
import { LatencyHistogram } from './lib/message.ts';
import { type BenchConn, type Transport, openConn } from './lib/publish-conn.ts';
import type {
  LoadKind,
  NodeInfo,
  PrepareRequest,
  PrepareResult,
  PublishBenchRequest,
  PublishLoadgenMessage,
  StepRequest,
  StepResult,
} from './lib/publish-ipc.ts';

const DRAIN_QUIET_MS = 2000;
const SETTLE_MAX_MS = 60_000;
const F_IN_WINDOW = 1;
const F_ACK_OK = 2;
const F_ACK_ERR = 4;
const F_ANSWERED = F_ACK_OK | F_ACK_ERR;

function send(m: PublishLoadgenMessage): void {
  process.send?.(m);
}
function log(line: string): void {
  process.stderr.write(`[loadgen] ${line}\n`);
}
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, Math.max(0, ms)));

// ---------------------------------------------------------------------------------------------------
// Phase state

let nodes: NodeInfo[] = [];
let phase: LoadKind | undefined;
let conns: BenchConn[] = [];
/** Chat: per conversation, the broker's and the client's socket. */
let convs: Array<{ channel: string; broker: BenchConn; clientTransport: Transport }> = [];
/** Notes: channels, subscribers per channel, research1's token per node, keep-alive agents per node. */
let noteChannels: string[] = [];
let noteSubs = new Map<string, number>();
let noteTokens: string[] = [];
let agents: http.Agent[] = [];
let rr = 0;
const lostSamples: string[] = [];
let lost = 0;

// ---------------------------------------------------------------------------------------------------
// Step state (reset by runStep)

let stepId = 0;
let cap = 0;
let sendT = new Float64Array(0);
let flags = new Uint8Array(0);
let delivered = new Uint16Array(0);
let pubChannel: string[] = [];
let windowStartT = 0;
let windowEndT = 0;
let inflight = 0;
let acksInWindow = 0;
let deliveriesInWindow = 0;
let windowSent = 0;
let windowSkipped = 0;
let windowAnswered = 0;
let windowAckedOk = 0;
let windowErrors = 0;
let expectedDeliveries = 0;
let receivedDeliveries = 0;
let progress = 0;
let errorsByCode: Record<string, number> = {};
let errorSamples: string[] = [];
let otherPushes: Record<string, number> = {};
let anomalies: Record<string, number> = {};
let hAck = new LatencyHistogram();
let hDelivery = new LatencyHistogram();
let hByTransport: Record<Transport, LatencyHistogram> = { ws: new LatencyHistogram(), io: new LatencyHistogram() };
let hEcho = new LatencyHistogram();
let hLag = new LatencyHistogram();

const bump = (o: Record<string, number>, k: string) => (o[k] = (o[k] ?? 0) + 1);

/** Parses the `b:<step>:<seq>` marker at the start of a text; null when absent. */
function marker(text: unknown): { step: number; seq: number } | null {
  if (typeof text !== 'string' || text.charCodeAt(0) !== 98 /* b */ || text.charCodeAt(1) !== 58 /* : */) return null;
  const c2 = text.indexOf(':', 2);
  let end = text.indexOf(' ', c2);
  if (end === -1) end = text.length;
  const step = Number(text.slice(2, c2));
  const seq = Number(text.slice(c2 + 1, end));
  return Number.isInteger(step) && Number.isInteger(seq) ? { step, seq } : null;
}

function onAnswer(sid: number, seq: number, ok: boolean, code?: string, message?: string): void {
  if (sid !== stepId) return; // a straggler of an earlier step (its settle timed out)
  const t = performance.now();
  inflight--;
  progress++;
  if (seq >= cap || flags[seq] & F_ANSWERED) return;
  const inWin = (flags[seq] & F_IN_WINDOW) !== 0;
  if (ok) {
    flags[seq] |= F_ACK_OK;
    if (t >= windowStartT && t < windowEndT) acksInWindow++;
    if (inWin) {
      windowAckedOk++;
      expectedDeliveries += receiversOf(seq);
      hAck.record(t - sendT[seq]);
    }
  } else {
    flags[seq] |= F_ACK_ERR;
    if (inWin) {
      windowErrors++;
      bump(errorsByCode, code ?? 'UNKNOWN');
      if (errorSamples.length < 10) errorSamples.push(`${code}: ${message ?? ''}`.slice(0, 300));
    }
  }
  if (inWin) windowAnswered++;
}

function receiversOf(seq: number): number {
  return phase === 'notes' ? (noteSubs.get(pubChannel[seq]) ?? 0) : 1;
}

/** A delivery of publication `seq` to a receiving socket (chat client, note subscriber). */
function onDelivery(seq: number, channel: string, transport: Transport): void {
  const t = performance.now();
  if (seq >= cap || sendT[seq] === 0) {
    bump(anomalies, 'unknown-seq');
    return;
  }
  if (pubChannel[seq] !== channel) {
    bump(anomalies, 'wrong-channel');
    return;
  }
  progress++;
  if (phase !== 'notes' && delivered[seq] > 0) {
    bump(anomalies, 'duplicate');
    return;
  }
  if (delivered[seq] < 65535) delivered[seq]++;
  if (t >= windowStartT && t < windowEndT) deliveriesInWindow++;
  if (flags[seq] & F_IN_WINDOW) {
    receivedDeliveries++;
    const ms = t - sendT[seq];
    hDelivery.record(ms);
    hByTransport[transport].record(ms);
  }
}

function receiverPush(transport: Transport, role: 'receiver' | 'broker') {
  return (p: Push) => {
    if (p.t === 'msg') {
      const payload = p.payload as { text?: unknown; title?: unknown } | null;
      const m = marker(phase === 'notes' ? payload?.title : payload?.text);
      if (!m) {
        bump(anomalies, 'msg-without-marker');
        return;
      }
      if (m.step !== stepId) {
        bump(anomalies, 'late-from-earlier-step');
        return;
      }
      if (role === 'receiver') onDelivery(m.seq, p.channel, transport);
      else if (m.seq < cap && flags[m.seq] & F_IN_WINDOW && pubChannel[m.seq] === p.channel) hEcho.record(performance.now() - sendT[m.seq]);
      return;
    }
    bump(otherPushes, p.t === 'signal' ? `signal:${p.kind}` : p.t);
  };
}

// ---------------------------------------------------------------------------------------------------
// Prepare / release

async function pool<T>(items: T[], n: number, fn: (x: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= items.length) return;
      await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(n, items.length)) }, worker));
}

async function login(node: number, user: string, password: string): Promise<string> {
  let lastErr = '';
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const r = await fetch(`http://127.0.0.1:${nodes[node].port}/api/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ login: user, password }),
      });
      if (r.ok) return ((await r.json()) as { token: string }).token;
      lastErr = `HTTP ${r.status} ${(await r.text()).slice(0, 200)}`;
      if (r.status < 500) break;
    } catch (e) {
      lastErr = String((e as Error).message ?? e);
    }
    await sleep(200 * (attempt + 1));
  }
  throw new Error(`login ${user}: ${lastErr}`);
}

async function subscribe(c: BenchConn, channel: string): Promise<void> {
  const r: Reply = await c.command({ op: 'subscribe', channel });
  if (!r.ok) throw new Error(`subscribe ${channel}: ${r.error.code} ${r.error.message}`);
}

function watchLoss(c: BenchConn, who: string): void {
  c.onLost = (reason) => {
    lost++;
    bump(anomalies, 'connection-lost');
    if (lostSamples.length < 10) lostSamples.push(`${who}: ${reason}`);
  };
}

async function prepare(req: PrepareRequest): Promise<PrepareResult> {
  phase = req.phase;
  conns = [];
  convs = [];
  noteSubs = new Map();
  noteChannels = [];
  const failures: string[] = [];
  let nFail = 0;
  const fail = (e: unknown) => {
    nFail++;
    if (failures.length < 10) failures.push(String((e as Error)?.message ?? e).slice(0, 300));
  };

  // Users: login → node (a broker serving several clients appears once).
  const users = new Map<string, { node: number; transport: Transport; token?: string; conn?: BenchConn }>();
  const addUser = (login: string, node: number, transport: Transport) => {
    const u = users.get(login);
    if (u && (u.node !== node || u.transport !== transport)) throw new Error(`${login} planned on two sockets`);
    if (!u) users.set(login, { node, transport });
  };
  for (const c of req.conversations ?? []) {
    addUser(c.broker.login, c.broker.node, c.broker.transport);
    addUser(c.client.login, c.client.node, c.client.transport);
  }
  for (const s of req.noteSubscribers ?? []) addUser(s.login, s.node, s.transport);

  const t0 = performance.now();
  await pool([...users], req.concurrency, async ([lg, u]) => {
    try {
      u.token = await login(u.node, lg, req.password);
    } catch (e) {
      fail(e);
    }
  });
  if (req.notePublisher) {
    noteTokens = [];
    for (let n = 0; n < nodes.length; n++) noteTokens.push(await login(n, req.notePublisher, req.notePublisherPassword ?? req.password));
    agents = nodes.map(() => new http.Agent({ keepAlive: true, maxSockets: 256 }));
  }
  const t1 = performance.now();
  await pool([...users], req.concurrency, async ([lg, u]) => {
    if (!u.token) return;
    try {
      u.conn = await openConn(u.transport, nodes[u.node].port, u.token);
      conns.push(u.conn);
      watchLoss(u.conn, lg);
    } catch (e) {
      fail(new Error(`connect ${lg} (${u.transport}, node ${nodes[u.node].name}): ${(e as Error).message}`));
    }
  });
  const t2 = performance.now();

  let subscriptions = 0;
  const subs: Array<{ conn: BenchConn; channel: string; what: string }> = [];
  for (const c of req.conversations ?? []) {
    const b = users.get(c.broker.login)!;
    const cl = users.get(c.client.login)!;
    if (!b.conn || !cl.conn) continue;
    const channel = `conv.${c.id}`;
    b.conn.onPush = receiverPush(c.broker.transport, 'broker');
    cl.conn.onPush = receiverPush(c.client.transport, 'receiver');
    subs.push({ conn: b.conn, channel, what: c.broker.login }, { conn: cl.conn, channel, what: c.client.login });
  }
  for (const s of req.noteSubscribers ?? []) {
    const u = users.get(s.login)!;
    if (!u.conn) continue;
    u.conn.onPush = receiverPush(s.transport, 'receiver');
    subs.push({ conn: u.conn, channel: s.channel, what: s.login });
  }
  const okSubs = new Set<string>();
  await pool(subs, req.concurrency, async (s) => {
    try {
      await subscribe(s.conn, s.channel);
      okSubs.add(`${s.what} ${s.channel}`);
      subscriptions++;
    } catch (e) {
      fail(new Error(`${s.what}: ${(e as Error).message}`));
    }
  });
  const t3 = performance.now();

  for (const c of req.conversations ?? []) {
    const channel = `conv.${c.id}`;
    const b = users.get(c.broker.login)!;
    // Only conversations whose both sides are subscribed take part.
    if (b.conn && okSubs.has(`${c.broker.login} ${channel}`) && okSubs.has(`${c.client.login} ${channel}`)) {
      convs.push({ channel, broker: b.conn, clientTransport: c.client.transport });
    }
  }
  if (req.noteSubscribers) {
    noteChannels = req.noteChannels ?? [];
    for (const s of req.noteSubscribers) {
      if (okSubs.has(`${s.login} ${s.channel}`)) noteSubs.set(s.channel, (noteSubs.get(s.channel) ?? 0) + 1);
    }
  }
  if (phase !== 'notes' && convs.length === 0) throw new Error(`no conversation fully connected: ${failures.join('; ')}`);
  if (phase === 'notes' && subscriptions === 0) throw new Error(`no note subscriber connected: ${failures.join('; ')}`);
  return {
    phase: req.phase,
    users: users.size,
    connections: conns.length,
    subscriptions,
    loginMs: t1 - t0,
    connectMs: t2 - t1,
    subscribeMs: t3 - t2,
    failures: nFail,
    failureSamples: failures,
  };
}

function release(): { lost: number; lostSamples: string[] } {
  for (const c of conns) c.close();
  conns = [];
  convs = [];
  for (const a of agents) a.destroy();
  agents = [];
  return { lost, lostSamples: lostSamples.splice(0) };
}

// ---------------------------------------------------------------------------------------------------
// Publishing

function filler(bytes: number): string {
  const base = ' 您好，这是一条基准测试消息，请勿回复。bench filler text ';
  let s = '';
  while (Buffer.byteLength(s) < bytes) s += base;
  // Trim to at most `bytes` UTF-8 bytes without splitting a character.
  while (Buffer.byteLength(s) > bytes) s = s.slice(0, -1);
  return s;
}
let fillCache = { bytes: -1, text: '' };

function publishChat(seq: number, textBytes: number): void {
  const c = convs[rr++ % convs.length];
  pubChannel[seq] = c.channel;
  if (fillCache.bytes !== textBytes) fillCache = { bytes: textBytes, text: filler(textBytes) };
  const sid = stepId;
  sendT[seq] = performance.now();
  inflight++;
  c.broker.send({ op: 'publish', channel: c.channel, kind: 'chat', payload: { text: `b:${sid}:${seq}${fillCache.text}` } }, (r) =>
    r.ok ? onAnswer(sid, seq, true) : onAnswer(sid, seq, false, r.error.code, r.error.message),
  );
}

function publishNote(seq: number, textBytes: number): void {
  const k = rr++;
  const channel = noteChannels[k % noteChannels.length];
  const node = Math.floor(k / noteChannels.length) % nodes.length;
  pubChannel[seq] = channel;
  if (fillCache.bytes !== textBytes) fillCache = { bytes: textBytes, text: filler(textBytes) };
  const body = JSON.stringify({
    kind: 'note',
    payload: { title: `b:${stepId}:${seq} 基准测试研究简报`, summary: 'bench', riskLevel: 'R1', body: fillCache.text },
  });
  const sid = stepId;
  sendT[seq] = performance.now();
  inflight++;
  let answered = false;
  const answer = (ok: boolean, code?: string, msg?: string) => {
    if (answered) return;
    answered = true;
    onAnswer(sid, seq, ok, code, msg);
  };
  const req = http.request(
    {
      host: '127.0.0.1',
      port: nodes[node].port,
      method: 'POST',
      path: `/api/channels/${encodeURIComponent(channel)}/publications`,
      agent: agents[node],
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), authorization: `Bearer ${noteTokens[node]}` },
    },
    (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => {
        if (res.statusCode === 201) return answer(true);
        let code = `HTTP_${res.statusCode}`;
        let msg = '';
        try {
          const j = JSON.parse(Buffer.concat(chunks).toString()) as { code?: string; message?: string; error?: { code?: string; message?: string } };
          code = j.code ?? j.error?.code ?? code;
          msg = j.message ?? j.error?.message ?? '';
        } catch {
          /* not JSON */
        }
        answer(false, code, msg);
      });
      res.on('error', (e) => answer(false, 'BENCH_HTTP_ERROR', e.message));
    },
  );
  req.on('error', (e) => answer(false, `BENCH_NET_${(e as NodeJS.ErrnoException).code ?? 'ERROR'}`, e.message));
  req.end(body);
}

async function runStep(req: StepRequest): Promise<StepResult> {
  stepId++;
  const total = Math.max(1, Math.round(req.rate * (req.warmupS + req.seconds)));
  cap = total + 1;
  sendT = new Float64Array(cap);
  flags = new Uint8Array(cap);
  delivered = new Uint16Array(cap);
  pubChannel = new Array<string>(cap);
  inflight = 0;
  acksInWindow = deliveriesInWindow = windowSent = windowSkipped = windowAnswered = windowAckedOk = windowErrors = 0;
  expectedDeliveries = receivedDeliveries = progress = 0;
  errorsByCode = {};
  errorSamples = [];
  otherPushes = {};
  anomalies = {};
  hAck = new LatencyHistogram();
  hDelivery = new LatencyHistogram();
  hByTransport = { ws: new LatencyHistogram(), io: new LatencyHistogram() };
  hEcho = new LatencyHistogram();
  hLag = new LatencyHistogram();
  const publish = phase === 'notes' ? publishNote : publishChat;
  const interval = 1000 / req.rate;

  const t0 = performance.now() + 200; // a moment for the orchestrator to arm its CPU samplers
  windowStartT = t0 + req.warmupS * 1000;
  windowEndT = windowStartT + req.seconds * 1000;
  send({ type: 'window', start: performance.timeOrigin + windowStartT, end: performance.timeOrigin + windowEndT });
  let elu0: ReturnType<typeof performance.eventLoopUtilization> | undefined;
  let elu = NaN;
  const eluTimers = [
    setTimeout(() => (elu0 = performance.eventLoopUtilization()), windowStartT - performance.now()),
    setTimeout(() => {
      if (elu0) elu = performance.eventLoopUtilization(elu0).utilization;
    }, windowEndT - performance.now()),
  ];

  // Open loop on an absolute schedule: publication k is due at t0 + k·interval (k = 1..total).
  await new Promise<void>((resolve) => {
    let k = 1;
    const tick = () => {
      const now = performance.now();
      for (; k <= total; k++) {
        const due = t0 + (k - 1) * interval;
        if (due > now) break;
        const inWin = due >= windowStartT && due < windowEndT;
        if (inflight >= req.maxInflight) {
          if (inWin) windowSkipped++;
          continue;
        }
        if (inWin) {
          flags[k] |= F_IN_WINDOW;
          windowSent++;
        }
        hLag.record(now - due);
        publish(k, req.textBytes);
      }
      if (k > total) return resolve();
      setTimeout(tick, Math.max(0, t0 + (k - 1) * interval - performance.now()));
    };
    setTimeout(tick, Math.max(0, t0 - performance.now()));
  });
  await sleep(windowEndT - performance.now());

  // Drain: until every in-window publication is answered and delivered, DRAIN_QUIET_MS pass without
  // progress, or drainS is up.
  const d0 = performance.now();
  let lastProgress = progress;
  let quietSince = d0;
  while (performance.now() - d0 < req.drainS * 1000) {
    if (windowAnswered >= windowSent && receivedDeliveries >= expectedDeliveries) break;
    await sleep(20);
    if (progress !== lastProgress) {
      lastProgress = progress;
      quietSince = performance.now();
    } else if (performance.now() - quietSince > DRAIN_QUIET_MS) break;
  }
  const drainMs = performance.now() - d0;
  // Settle: wait for every outstanding reply so the server is idle before the next step.
  const s0 = performance.now();
  while (inflight > 0 && performance.now() - s0 < SETTLE_MAX_MS) await sleep(20);
  const settleMs = performance.now() - s0;
  for (const t of eluTimers) clearTimeout(t);
  const unanswered = windowSent - windowAnswered;
  if (unanswered > 0) errorsByCode.BENCH_NO_ANSWER = unanswered;
  if (inflight > 0) bump(anomalies, `still-in-flight-after-settle:${inflight}`);

  const byT: Record<string, ReturnType<LatencyHistogram['summary']>> = {};
  for (const tr of ['ws', 'io'] as const) if (hByTransport[tr].count) byT[tr] = hByTransport[tr].summary();
  return {
    phase: phase!,
    rate: req.rate,
    windowS: req.seconds,
    windowStart: performance.timeOrigin + windowStartT,
    windowEnd: performance.timeOrigin + windowEndT,
    sent: windowSent,
    skipped: windowSkipped,
    ackedPerS: acksInWindow / req.seconds,
    deliveredPerS: deliveriesInWindow / req.seconds,
    windowAckedOk,
    windowErrors,
    windowUnanswered: unanswered,
    errorsByCode,
    errorSamples,
    expectedDeliveries,
    receivedDeliveries,
    undeliveredPct: expectedDeliveries ? Math.max(0, 100 * (1 - receivedDeliveries / expectedDeliveries)) : 0,
    ack: hAck.summary(),
    delivery: hDelivery.summary(),
    deliveryByTransport: byT,
    echo: phase === 'notes' ? undefined : hEcho.summary(),
    sendLagP99Ms: hLag.quantile(0.99),
    sendLagMaxMs: hLag.count ? hLag.max : NaN,
    loadgenElu: elu,
    otherPushes,
    anomalies,
    drainMs,
    settleMs,
  };
}

// ---------------------------------------------------------------------------------------------------
// IPC

process.on('message', (raw) => {
  const req = raw as PublishBenchRequest;
  const reply = (p: Promise<unknown>) =>
    p.then(
      (result) => send({ type: 'reply', rid: req.rid, ok: true, result }),
      (e) => {
        log(`${req.type} failed: ${(e as Error)?.stack ?? e}`);
        send({ type: 'reply', rid: req.rid, ok: false, error: String((e as Error)?.message ?? e) });
      },
    );
  switch (req.type) {
    case 'init':
      nodes = req.nodes;
      void reply(Promise.resolve({ pid: process.pid }));
      break;
    case 'prepare':
      void reply(prepare(req));
      break;
    case 'step':
      void reply(runStep(req));
      break;
    case 'release':
      void reply(Promise.resolve(release()));
      break;
    case 'shutdown':
      void reply(Promise.resolve(release())).then(() => setTimeout(() => process.exit(0), 100));
      break;
  }
});
process.on('disconnect', () => process.exit(0));
log(`ready (pid ${process.pid})`);
