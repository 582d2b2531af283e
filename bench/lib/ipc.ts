/** Messages between the orchestrator (fanout.bench.ts) and the load generator (loadgen.ts), over node IPC. */
import type { LatencySummary } from './message.ts';

export type PhaseName = 'saturated' | 'fixed';

export interface InitRequest {
  type: 'init';
  targetKey: string;
  port: number;
  info: Record<string, unknown>;
  subscribers: number;
}
export interface ConnectRequest {
  type: 'connect';
  /** Subscriber connects in flight at once (the "batch"). */
  concurrency: number;
  /** Attempts per subscriber (first try included). */
  attempts: number;
  /** Give up connecting after this long overall. */
  deadlineMs: number;
}
export interface PhaseRequest {
  type: 'phase';
  phase: PhaseName;
  /** Measurement window, s. */
  seconds: number;
  /** Publishing before the window opens, s (not measured). */
  warmupS: number;
  /**
   * After the window: wait up to this long for in-window publications to be fully delivered, s (the wait
   * also ends after 2 s without any delivery).
   */
  drainS: number;
  /** saturated: max publications in flight (published, not yet acked AND delivered to every live subscriber). */
  window: number;
  /** fixed: broadcasts per second. */
  rate: number;
  /**
   * A publication still incomplete after this long no longer holds a window slot (counted as stalled;
   * its late deliveries still count), ms.
   */
  stallMs: number;
}
export interface ShutdownRequest {
  type: 'shutdown';
}
export type Request = (InitRequest | ConnectRequest | PhaseRequest | ShutdownRequest) & { rid: number };

export interface ConnectResult {
  requested: number;
  connected: number;
  failed: number;
  retries: number;
  ms: number;
  errorSamples: string[];
}

export interface PhaseResult {
  phase: PhaseName;
  /** Actual window bounds (wall clock ms). */
  windowStart: number;
  windowEnd: number;
  /** Deliveries received inside the window (any publication). */
  windowDeliveries: number;
  deliveriesPerS: number;
  /** Publications made inside the window and accepted (publish errors excluded). */
  published: number;
  publishesPerS: number;
  /** For publications made inside the window: deliveries expected (live subscribers at publish time) and received. */
  expectedDeliveries: number;
  receivedDeliveries: number;
  /** 1 - received/expected, % ("undelivered": not received by the end of the drain). */
  lossPct: number;
  /** Latency of every delivery of every in-window publication (received within the window or the drain). */
  latency: LatencySummary;
  publishErrors: number;
  publishErrorSamples: string[];
  /** Publications written off after stallMs. */
  stalled: number;
  /** fixed: ticks skipped because too many publications were in flight. */
  skipped: number;
  /** Drain did not finish: publications still incomplete at the end. */
  incompleteAtEnd: number;
  liveSubscribers: number;
  /** Load generator event-loop utilisation inside the window (0..1). */
  loadgenElu: number;
  /** Ack latency of publish() (publish call → resolve), for in-window publications. */
  ackLatency: LatencySummary;
  /**
   * Median completion time (publish → last subscriber received it), ms, over the first and the last
   * quarter of the in-window publications. last ≫ first means a backlog grew: the rate was not sustained.
   */
  completionMsFirstQuarter: number;
  completionMsLastQuarter: number;
}

export type LoadgenMessage =
  | { type: 'reply'; rid: number; ok: true; result?: unknown }
  | { type: 'reply'; rid: number; ok: false; error: string }
  | { type: 'window'; phase: PhaseName; start: number; end: number }
  | { type: 'log'; line: string };
