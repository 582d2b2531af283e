/**
 * The target interface of the fanout benchmark. A target is one server under test plus the client code
 * that talks to it. Every target module is imported by BOTH processes of the bench:
 *
 *   - the orchestrator (bench/fanout.bench.ts) calls `start()` once: it spawns the server (pinned to
 *     CPU 0), and returns its pid (for /proc RSS and CPU readings), its port, a `stop()`, and an optional
 *     JSON-serialisable `info` blob (tokens, channel name, ...) that is forwarded to the load generator;
 *   - the load generator (bench/loadgen.ts, pinned to CPU 1) calls `setup?()`, then
 *     `connectSubscriber(i)` 10,000 times, then `publish(msg)` in the two phases, then `teardown?()`.
 *
 * So `start()` must not rely on state set up by the client hooks and vice versa: the processes share
 * nothing but `ServerHandle.info` (and `LoadContext.state` is per load-generator process).
 */

/** The benchmark message, carried as the publication payload (~200 bytes of JSON, see makeMessage). */
export interface BenchMessage {
  /** Publication sequence number, unique within a load-generator run (starts at 1). */
  seq: number;
  /** Publish time, ms since the epoch with sub-ms precision: performance.timeOrigin + performance.now(). */
  ts: number;
  /** Filler bringing JSON.stringify(msg) to BENCH_MESSAGE_BYTES. */
  pad: string;
}

export interface StartOptions {
  /** CPU list for `taskset -c` (the orchestrator passes "0"). */
  cpu: string;
  /** A free TCP port on 127.0.0.1, picked by the orchestrator; a target may ignore it and use its own. */
  port: number;
  /** Number of subscribers that will connect (for sizing limits, e.g. a per-user connection cap). */
  subscribers: number;
  /** Where the server's stdout/stderr go (a log file under bench/results/). */
  logFile: string;
}

export interface ServerHandle {
  /** Pid of the server process itself (not a wrapper such as `npx`/`tsx` CLI): its VmRSS is measured. */
  pid: number;
  port: number;
  /** Stop the server and everything it spawned (SIGKILL after `graceMs`); must resolve even if the process is already gone. */
  stop(graceMs?: number): Promise<void>;
  /** JSON-serialisable data handed to the load generator as `LoadContext.info` (e.g. JWTs). */
  info?: Record<string, unknown>;
}

/** What the client hooks get, in the load-generator process. */
export interface LoadContext {
  host: '127.0.0.1';
  port: number;
  /** ServerHandle.info from `start()`, as JSON. */
  info: Record<string, unknown>;
  /** Total subscribers the run will open. */
  subscribers: number;
  /**
   * Call once per delivered benchmark message, as soon as it is parsed (the receive time is taken inside).
   * `seq` and `ts` come from the BenchMessage carried in the delivery.
   */
  onDelivery(seq: number, ts: number): void;
  /** Call when a subscriber that had connected (its connectSubscriber resolved) is closed/dropped by the server. */
  onSubscriberLost(i: number, reason: string): void;
  /** Call for anything unexpected that is not a delivery (error frames, gap pushes, ...); counted and sampled. */
  onAnomaly(kind: string, detail?: string): void;
  /** Scratch space for the target's client hooks (e.g. the publisher connection). */
  state: Record<string, unknown>;
}

export interface SubscriberHandle {
  /** Close the connection (at the end of the run). */
  close(): void;
}

export interface BenchTarget {
  /** Short key used with --targets, e.g. "a". */
  key: string;
  /** Display name, e.g. "ws baseline". */
  name: string;
  /** One line for the README/table legend. */
  description?: string;
  /** Orchestrator process: spawn the server (pinned to opts.cpu) and wait until it accepts connections. */
  start(opts: StartOptions): Promise<ServerHandle>;
  /** Load-generator process, once before any subscriber connects (e.g. open the publisher connection). */
  setup?(ctx: LoadContext): Promise<void>;
  /**
   * Load-generator process: open subscriber `i` (0-based) and subscribe it to the benchmark channel.
   * Resolve only when the server has confirmed the subscription (so a publish after all subscribers
   * resolved reaches all of them); reject on failure (the load generator retries).
   */
  connectSubscriber(i: number, ctx: LoadContext): Promise<SubscriberHandle>;
  /**
   * Load-generator process: publish one message; resolve when the server has accepted it (ack/reply).
   * The saturated phase keeps a bounded number of publishes in flight, so resolve only on a real ack.
   */
  publish(msg: BenchMessage, ctx: LoadContext): Promise<void>;
  /** Load-generator process, at the end (close the publisher). Subscribers are closed by the harness. */
  teardown?(ctx: LoadContext): Promise<void>;
}
