/**
 * Messages between the publish-bench orchestrator (bench/publish.bench.ts) and its load generator
 * (bench/publish-loadgen.ts), over node IPC.
 */
import type { LatencySummary } from './message.ts';
import type { Transport } from './publish-conn.ts';

export type PhaseKind = 'fresh' | 'history' | 'notes';
/** What the load generator runs: a measured phase, or the unmeasured chat warm-up of the nodes. */
export type LoadKind = PhaseKind | 'warmup';

export interface NodeInfo {
  name: string;
  port: number;
}

/** One conversation of a phase: who publishes (broker) and who receives (client), on which node and transport. */
export interface ConvPlan {
  id: string;
  broker: { login: string; node: number; transport: Transport };
  client: { login: string; node: number; transport: Transport };
}

/** A research-note subscriber (notes phase). */
export interface NoteSubscriberPlan {
  login: string;
  node: number;
  transport: Transport;
  channel: string;
}

export interface InitRequest {
  type: 'init';
  nodes: NodeInfo[];
}

export interface PrepareRequest {
  type: 'prepare';
  phase: LoadKind;
  password: string;
  /** chat phases */
  conversations?: ConvPlan[];
  /** notes phase */
  noteSubscribers?: NoteSubscriberPlan[];
  noteChannels?: string[];
  notePublisher?: string;
  notePublisherPassword?: string;
  /** Logins / connects in flight. */
  concurrency: number;
}

export interface StepRequest {
  type: 'step';
  /** Offered aggregate rate, publications/s. */
  rate: number;
  seconds: number;
  warmupS: number;
  /** Max wait after the window for its publications to be acked and delivered, s. */
  drainS: number;
  /** Open loop, but at most this many publications awaiting their ack; further ticks are skipped (counted). */
  maxInflight: number;
  /** Bytes of chat text / note body filler (the marker comes first). */
  textBytes: number;
}

export interface ReleaseRequest {
  type: 'release';
}
export interface ShutdownRequest {
  type: 'shutdown';
}

export type PublishBenchRequestBody = InitRequest | PrepareRequest | StepRequest | ReleaseRequest | ShutdownRequest;
export type PublishBenchRequest = PublishBenchRequestBody & { rid: number };

export interface PrepareResult {
  phase: LoadKind;
  users: number;
  connections: number;
  subscriptions: number;
  loginMs: number;
  connectMs: number;
  subscribeMs: number;
  failures: number;
  failureSamples: string[];
}

export interface StepResult {
  phase: LoadKind;
  rate: number;
  windowS: number;
  /** Wall-clock (performance.timeOrigin-based) window bounds, ms. */
  windowStart: number;
  windowEnd: number;
  /** Publications sent inside the window. */
  sent: number;
  /** Ticks inside the window not sent because maxInflight publications were awaiting their ack. */
  skipped: number;
  /** Successful acks received inside the window (any publication) ÷ window: the acknowledged throughput. */
  ackedPerS: number;
  /** Deliveries (to the receiving side) received inside the window ÷ window. */
  deliveredPerS: number;
  /** Of the publications sent inside the window: acked ok, refused (error reply), still unanswered at the end. */
  windowAckedOk: number;
  windowErrors: number;
  windowUnanswered: number;
  /** Refusals and failures by error code (publications sent inside the window). */
  errorsByCode: Record<string, number>;
  errorSamples: string[];
  /** Deliveries expected for the in-window publications that were acked ok, and how many arrived. */
  expectedDeliveries: number;
  receivedDeliveries: number;
  /** 100 · (1 − received/expected). */
  undeliveredPct: number;
  /** publish sent → ack (reply / HTTP response), in-window publications. */
  ack: LatencySummary;
  /** publish sent → delivery at the receiving client (the other node), in-window publications. */
  delivery: LatencySummary;
  /** Delivery latency split by the receiver's transport. */
  deliveryByTransport: Record<string, LatencySummary>;
  /** Chat: publish sent → the broker's own copy (its node), in-window publications. */
  echo?: LatencySummary;
  /** How late the load generator sent relative to the open-loop schedule, ms (p99, max). */
  sendLagP99Ms: number;
  sendLagMaxMs: number;
  /** Load generator event-loop utilisation inside the window (0..1). */
  loadgenElu: number;
  /** Pushes other than deliveries, by type/kind (unread and receipt signals, gaps, …), whole step. */
  otherPushes: Record<string, number>;
  /** Duplicate deliveries and deliveries on the wrong channel (should be 0). */
  anomalies: Record<string, number>;
  drainMs: number;
  /** Time spent after the drain waiting for every outstanding reply (server idle before the next step). */
  settleMs: number;
}

export type PublishLoadgenMessage =
  | { type: 'reply'; rid: number; ok: true; result?: unknown }
  | { type: 'reply'; rid: number; ok: false; error: string }
  | { type: 'window'; start: number; end: number }
  | { type: 'log'; line: string };
