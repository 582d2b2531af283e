/**
 * Fanout load generator: one process (pinned to CPU 1 by the orchestrator) that opens the publisher and
 * N subscriber connections of one target, runs the phases, and reports over node IPC (see lib/ipc.ts).
 * Started by bench/fanout.bench.ts; not meant to be run by hand.
 *
 * Publishing discipline
 * ---------------------
 * saturated: closed loop with an END-TO-END window. A publication is "in flight" from the publish call
 *   until (1) the server acked it (publish() resolved) AND (2) every live subscriber received it. The
 *   publisher keeps at most `window` publications in flight (default 4) and publishes the next one as
 *   soon as one completes. Why not just "wait for the ack": the baselines ack once the messages are
 *   *queued* on 10k sockets (ws/net buffer without limit), so an ack-paced publisher would pile up
 *   unbounded user-space buffers whenever subscribers drain slower than the server queues, and latency
 *   would grow without bound over the run. The end-to-end window keeps every buffer bounded (≤ window
 *   messages per socket), keeps the server busy (window > 1 lets the next broadcast overlap the delivery
 *   of the previous one), and measures the sustainable rate of the whole path. The latency of this phase
 *   is therefore "latency at saturation with `window` broadcasts queued", not an idle-path latency.
 * fixed: open loop, a publication every 1000/rate ms on an absolute schedule (no drift), not waiting for
 *   acks; if more than FIXED_MAX_INFLIGHT are in flight a tick is skipped (and counted), which bounds it.
 *
 * Measurement: deliveries/s = deliveries received inside the window ÷ window length (warm-up excluded).
 * Latency = receive wall clock − payload.ts, over every delivery of every publication made inside the
 * window, including those that arrive during the drain (so the tail is not cut off at the window end).
 */
import { performance } from 'node:perf_hooks';
import type {
  ConnectRequest,
  ConnectResult,
  InitRequest,
  LoadgenMessage,
  PhaseRequest,
  PhaseResult,
  Request,
} from './lib/ipc.ts';
import { LatencyHistogram, makeMessage, wallNow } from './lib/message.ts';
import type { BenchTarget, LoadContext, SubscriberHandle } from './lib/types.ts';
import { findTarget } from './targets.ts';

const MAX_SEQ = 1_000_000; // hard bound on publications per run (all loops are bounded by it and by time)
const FIXED_MAX_INFLIGHT = 256;
const DRAIN_QUIET_MS = 2000;
const F_ACKED = 1;
const F_ALL_DELIVERED = 2;
const F_DONE = 4;
const F_IN_WINDOW = 8;
const F_ERROR = 16;

function send(m: LoadgenMessage): void {
  process.send?.(m);
}
function log(line: string): void {
  process.stderr.write(`[loadgen] ${line}\n`);
}

// ---------------------------------------------------------------------------------------------------
// State

let target: BenchTarget | undefined;
let ctx: LoadContext | undefined;
const subscribers: Array<SubscriberHandle | undefined> = [];
let connected = 0;
let lost = 0;
let acceptingLosses = true;
const lostSamples: string[] = [];
const anomalies = new Map<string, { count: number; sample?: string }>();

const delivered = new Uint32Array(MAX_SEQ + 1);
const expected = new Uint32Array(MAX_SEQ + 1);
const flags = new Uint8Array(MAX_SEQ + 1);
const pubTime = new Float64Array(MAX_SEQ + 1);
/** Receive time of the latest delivery of each publication (→ completion time = lastRecv − pubTime). */
const lastRecv = new Float64Array(MAX_SEQ + 1);
let nextSeq = 1;
let oldestPending = 1;
let inflight = 0;
let unknownSeqDeliveries = 0;
let extraDeliveries = 0;
let totalDeliveries = 0;

// Per-phase measurement state (reset by runPhase)
let winStart = Infinity;
let winEnd = -Infinity;
let windowDeliveries = 0;
let hist = new LatencyHistogram();
let ackHist = new LatencyHistogram();
let slotWaiter: (() => void) | null = null;

function liveSubscribers(): number {
  return connected - lost;
}

function markDone(seq: number): void {
  if (flags[seq] & F_DONE) return;
  flags[seq] |= F_DONE;
  inflight--;
  while (oldestPending < nextSeq && flags[oldestPending] & F_DONE) oldestPending++;
  const w = slotWaiter;
  slotWaiter = null;
  w?.();
}

function onDelivery(seq: number, ts: number): void {
  const now = wallNow();
  totalDeliveries++;
  if (now >= winStart && now < winEnd) windowDeliveries++;
  if (!(seq > 0 && seq < nextSeq)) {
    unknownSeqDeliveries++;
    return;
  }
  const d = ++delivered[seq];
  lastRecv[seq] = now;
  const f = flags[seq];
  if (f & F_IN_WINDOW) hist.record(now - ts);
  if (d === expected[seq]) {
    flags[seq] = f | F_ALL_DELIVERED;
    if (f & F_ACKED) markDone(seq);
  } else if (d > expected[seq]) extraDeliveries++;
}

function onAnomaly(kind: string, detail?: string): void {
  const a = anomalies.get(kind);
  if (a) a.count++;
  else anomalies.set(kind, { count: 1, sample: detail });
}

function onSubscriberLost(i: number, reason: string): void {
  if (!acceptingLosses) return;
  lost++;
  if (lostSamples.length < 10) lostSamples.push(`#${i}: ${reason}`);
}

// ---------------------------------------------------------------------------------------------------
// Commands

async function init(req: InitRequest): Promise<unknown> {
  target = findTarget(req.targetKey);
  ctx = {
    host: '127.0.0.1',
    port: req.port,
    info: req.info,
    subscribers: req.subscribers,
    onDelivery,
    onSubscriberLost,
    onAnomaly,
    state: {},
  };
  await target.setup?.(ctx);
  return { target: target.name, pid: process.pid };
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string, onLate: (v: T) => void): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  let timedOut = false;
  return Promise.race([
    p.then(
      (v) => {
        if (timedOut) onLate(v);
        return v;
      },
      (e) => {
        throw e;
      },
    ),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => {
        timedOut = true;
        reject(new Error(`${what}: timeout after ${ms} ms`));
      }, ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

async function connectAll(req: ConnectRequest): Promise<ConnectResult> {
  if (!target || !ctx) throw new Error('not initialised');
  const t = target;
  const c = ctx;
  const n = c.subscribers;
  const t0 = performance.now();
  const deadline = t0 + req.deadlineMs;
  let next = 0;
  let failed = 0;
  let retries = 0;
  const errorSamples: string[] = [];
  let lastReport = 0;

  async function worker(): Promise<void> {
    while (next < n && performance.now() < deadline) {
      const i = next++;
      for (let attempt = 1; attempt <= req.attempts; attempt++) {
        try {
          subscribers[i] = await withTimeout(t.connectSubscriber(i, c), 30_000, `subscriber ${i}`, (h) => h.close());
          connected++;
          break;
        } catch (e) {
          if (errorSamples.length < 10) errorSamples.push(`#${i} attempt ${attempt}: ${(e as Error)?.message ?? e}`);
          if (attempt === req.attempts || performance.now() >= deadline) {
            failed++;
            break;
          }
          retries++;
          await new Promise((r) => setTimeout(r, 100 * attempt + Math.random() * 100));
        }
      }
      if (connected - lastReport >= 2000) {
        lastReport = connected;
        log(`${connected}/${n} subscribers connected (${Math.round(performance.now() - t0)} ms)`);
      }
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, Math.min(req.concurrency, n)) }, worker));
  failed += Math.max(0, n - next); // never attempted (deadline)
  const ms = Math.round(performance.now() - t0);
  log(`${connected}/${n} subscribers connected in ${ms} ms (${failed} failed, ${retries} retries)`);
  return { requested: n, connected, failed, retries, ms, errorSamples };
}

// ---------------------------------------------------------------------------------------------------
// Phases

let publishErrors = 0;
const publishErrorSamples: string[] = [];

function publishOne(): void {
  const t = target!;
  const seq = nextSeq++;
  const ts = wallNow();
  pubTime[seq] = ts;
  expected[seq] = liveSubscribers();
  let f = 0;
  if (ts >= winStart && ts < winEnd) f |= F_IN_WINDOW;
  if (expected[seq] === 0) f |= F_ALL_DELIVERED;
  flags[seq] = f;
  inflight++;
  const inWindow = (f & F_IN_WINDOW) !== 0;
  t.publish(makeMessage(seq, ts), ctx!).then(
    () => {
      if (inWindow) ackHist.record(wallNow() - ts);
      flags[seq] |= F_ACKED;
      if (flags[seq] & F_ALL_DELIVERED) markDone(seq);
    },
    (e) => {
      publishErrors++;
      if (publishErrorSamples.length < 10) publishErrorSamples.push(String((e as Error)?.message ?? e));
      flags[seq] |= F_ACKED | F_ERROR;
      markDone(seq);
    },
  );
}

/** Write off publications older than stallMs. Returns how many. */
function reapStalled(stallMs: number): number {
  const cutoff = wallNow() - stallMs;
  let n = 0;
  for (let s = oldestPending; s < nextSeq && pubTime[s] < cutoff; s++) {
    if (!(flags[s] & F_DONE)) {
      markDone(s);
      n++;
    }
  }
  return n;
}

/** In-window publications (from firstSeq) not yet received by every subscriber expected, publish errors excluded. */
function incompleteInWindow(firstSeq: number): number {
  let n = 0;
  for (let s = firstSeq; s < nextSeq; s++) {
    const f = flags[s];
    if (f & F_IN_WINDOW && !(f & F_ERROR) && delivered[s] < expected[s]) n++;
  }
  return n;
}

/** Resolves when a publication completes, or after `ms`. */
function waitSlot(ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      if (slotWaiter === done) slotWaiter = null;
      resolve();
    }, ms);
    const done = () => {
      clearTimeout(timer);
      resolve();
    };
    slotWaiter = done;
  });
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, Math.max(0, ms)));

async function runPhase(req: PhaseRequest): Promise<PhaseResult> {
  if (!target || !ctx) throw new Error('not initialised');
  // reset per-phase measurement
  hist = new LatencyHistogram();
  ackHist = new LatencyHistogram();
  windowDeliveries = 0;
  publishErrors = 0;
  publishErrorSamples.length = 0;
  let stalled = 0;
  let skipped = 0;
  const firstSeq = nextSeq;

  const t0 = wallNow();
  winStart = t0 + req.warmupS * 1000;
  winEnd = winStart + req.seconds * 1000;
  send({ type: 'window', phase: req.phase, start: winStart, end: winEnd });
  let eluStart: ReturnType<typeof performance.eventLoopUtilization> | undefined;
  let eluWindow = NaN;
  const eluTimers = [
    setTimeout(() => (eluStart = performance.eventLoopUtilization()), winStart - t0),
    setTimeout(() => {
      if (eluStart) eluWindow = performance.eventLoopUtilization(eluStart).utilization;
    }, winEnd - t0),
  ];

  if (req.phase === 'saturated') {
    const window = Math.max(1, req.window);
    while (wallNow() < winEnd && nextSeq < MAX_SEQ) {
      if (inflight >= window) {
        await waitSlot(50);
        stalled += reapStalled(req.stallMs);
        continue;
      }
      publishOne();
      // Let I/O run between publications even when slots are free (publish() may complete synchronously
      // from our point of view, e.g. ws.send just buffers).
      if (inflight >= window) continue;
      await new Promise<void>((r) => setImmediate(r));
    }
  } else {
    const period = 1000 / req.rate;
    const ticks = Math.ceil((req.warmupS + req.seconds) * req.rate);
    for (let k = 0; k < ticks && nextSeq < MAX_SEQ; k++) {
      // Ticks sit half a period off the window edges, so timer jitter cannot move one across an edge.
      const due = t0 + (k + 0.5) * period;
      if (due >= winEnd) break;
      await sleep(due - wallNow());
      stalled += reapStalled(req.stallMs);
      if (inflight >= FIXED_MAX_INFLIGHT) {
        skipped++;
        continue;
      }
      publishOne();
    }
    await sleep(winEnd - wallNow());
  }

  if (eluStart && Number.isNaN(eluWindow)) eluWindow = performance.eventLoopUtilization(eluStart).utilization;
  // Drain: wait for the in-window publications to complete (bounded).
  // Ends when every publication is complete, when no delivery arrived for DRAIN_QUIET_MS (whatever is
  // missing then is not coming), or after drainS.
  const drainUntil = wallNow() + req.drainS * 1000;
  let lastCount = totalDeliveries;
  let lastProgress = wallNow();
  while (
    incompleteInWindow(firstSeq) > 0 &&
    wallNow() < drainUntil &&
    wallNow() - lastProgress < DRAIN_QUIET_MS
  ) {
    await waitSlot(50);
    if (totalDeliveries !== lastCount) {
      lastCount = totalDeliveries;
      lastProgress = wallNow();
    }
  }
  for (const tm of eluTimers) clearTimeout(tm);
  const incompleteAtEnd = incompleteInWindow(firstSeq);
  // Write off the rest so the next phase starts clean.
  for (let s = oldestPending; s < nextSeq; s++) if (!(flags[s] & F_DONE)) markDone(s);

  let published = 0;
  let exp = 0;
  let rec = 0;
  for (let s = firstSeq; s < nextSeq; s++) {
    if (flags[s] & F_IN_WINDOW && !(flags[s] & F_ERROR)) {
      published++;
      exp += expected[s];
      rec += Math.min(delivered[s], expected[s]);
    }
  }
  // Completion time (publish → last delivery) of the first and last quarter of the in-window publications:
  // if the last quarter is much slower than the first, a backlog built up (the rate was not sustained).
  const completions: number[] = [];
  for (let s = firstSeq; s < nextSeq; s++) {
    if (flags[s] & F_IN_WINDOW && !(flags[s] & F_ERROR) && delivered[s] > 0) completions.push(lastRecv[s] - pubTime[s]);
  }
  const q = Math.max(1, Math.floor(completions.length / 4));
  const med = (xs: number[]) => (xs.length ? [...xs].sort((a, b) => a - b)[xs.length >> 1] : NaN);
  const windowS = (winEnd - winStart) / 1000;
  const result: PhaseResult = {
    phase: req.phase,
    windowStart: winStart,
    windowEnd: winEnd,
    windowDeliveries,
    deliveriesPerS: windowDeliveries / windowS,
    published,
    publishesPerS: published / windowS,
    expectedDeliveries: exp,
    receivedDeliveries: rec,
    lossPct: exp ? (100 * (exp - rec)) / exp : 0,
    latency: hist.summary(),
    publishErrors,
    publishErrorSamples: [...publishErrorSamples],
    stalled,
    skipped,
    incompleteAtEnd,
    liveSubscribers: liveSubscribers(),
    loadgenElu: eluWindow,
    ackLatency: ackHist.summary(),
    completionMsFirstQuarter: med(completions.slice(0, q)),
    completionMsLastQuarter: med(completions.slice(-q)),
  };
  winStart = Infinity;
  winEnd = -Infinity;
  return result;
}

// ---------------------------------------------------------------------------------------------------
// IPC loop

async function handle(req: Request): Promise<unknown> {
  switch (req.type) {
    case 'init':
      return init(req);
    case 'connect':
      return connectAll(req);
    case 'phase': {
      const r = await runPhase(req);
      log(
        `${req.phase}: ${Math.round(r.deliveriesPerS)} deliveries/s, ${r.publishesPerS.toFixed(1)} pubs/s, ` +
          `p50 ${r.latency.p50Ms.toFixed(2)} ms, p99 ${r.latency.p99Ms.toFixed(2)} ms, loss ${r.lossPct.toFixed(3)}%`,
      );
      return r;
    }
    case 'shutdown': {
      acceptingLosses = false;
      try {
        if (target && ctx) await target.teardown?.(ctx);
      } catch {
        /* ignore */
      }
      return {
        totalDeliveries,
        unknownSeqDeliveries,
        extraDeliveries,
        lost,
        lostSamples,
        anomalies: Object.fromEntries(anomalies),
      };
    }
  }
}

process.on('message', (raw) => {
  const req = raw as Request;
  handle(req).then(
    (result) => {
      send({ type: 'reply', rid: req.rid, ok: true, result });
    },
    (e) => send({ type: 'reply', rid: req.rid, ok: false, error: String((e as Error)?.stack ?? e) }),
  );
});
// The orchestrator went away: do not linger with 10k sockets open.
process.on('disconnect', () => process.exit(0));
// A clean exit on SIGTERM, so a --cpu-prof profile (BENCH_LOADGEN_PROF) gets written.
process.on('SIGTERM', () => process.exit(0));
process.on('uncaughtException', (e) => {
  log(`uncaught: ${e?.stack ?? e}`);
  process.exit(1);
});
// After 'shutdown' the orchestrator stops the server first (so TIME_WAIT lands on the server side), then
// SIGTERMs us.
export {};
