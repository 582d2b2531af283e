/**
 * A REST publisher that behaves like a real one under faults: research notes at a steady rate with a
 * bounded number in flight, spread over several hub nodes, each note with its own Idempotency-Key; a
 * note that is refused with a 5xx, or not answered (connection refused or reset, timeout), is retried
 * with the SAME key on the next node after a short backoff, until it is acknowledged or its retry
 * deadline passes. Every attempt is recorded (node, time, HTTP status and error code, or the network
 * error), so a suite can check what was acknowledged and how every refusal was worded.
 */
import { randomBytes } from 'node:crypto';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export interface PublisherNode {
  name: string;
  url: string;
}

export interface Attempt {
  note: number;
  key: string;
  node: string;
  startedAt: number;
  endedAt: number;
  /** HTTP status, when there was an answer. */
  status?: number;
  /** `error.code` of a refusal (or `<unparsable>` when the body was not our error shape). */
  code?: string;
  /** When there was no HTTP answer: the cause (ECONNREFUSED, ECONNRESET, UND_ERR_SOCKET, TimeoutError…). */
  netError?: string;
  /** 201 (new) or 200 (same key seen before: the first publication). */
  ok: boolean;
  duplicate?: boolean;
  id?: string;
  offset?: number;
}

export interface NoteOutcome {
  note: number;
  key: string;
  attempts: Attempt[];
  acked?: { id: string; offset: number; node: string; at: number; duplicate: boolean };
  /** Why the publisher stopped trying (not acknowledged). */
  gaveUp?: string;
}

export interface RetryingPublisherOptions {
  nodes: PublisherNode[];
  token: string;
  channel: string;
  /** Starts per second (the first attempt of each note). */
  ratePerS: number;
  /** Notes in flight at most (retries included): a real publisher's bounded queue. */
  concurrency?: number;
  /** Per-request timeout, ms. */
  requestTimeoutMs?: number;
  /** Stop retrying a note this long after its first attempt, ms. */
  retryDeadlineMs?: number;
  /** First retry delay, doubled per retry up to `maxBackoffMs`. */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** Tag in note titles and keys (default: random). */
  tag?: string;
}

/** Publishes until `stop()` is called or `durationMs` passes (whichever first); then finishes the notes in flight. */
export class RetryingPublisher {
  readonly notes: NoteOutcome[] = [];
  readonly attempts: Attempt[] = [];
  private stopped = false;
  private readonly tag: string;
  private readonly o: Required<Omit<RetryingPublisherOptions, 'tag'>>;
  /** Nodes given a rest after a failure: url → time until which they are skipped for first attempts. */
  private readonly resting = new Map<string, number>();

  constructor(opts: RetryingPublisherOptions) {
    this.o = {
      concurrency: 20,
      requestTimeoutMs: 5000,
      retryDeadlineMs: 30_000,
      backoffMs: 100,
      maxBackoffMs: 1000,
      ...opts,
    };
    this.tag = opts.tag ?? randomBytes(4).toString('hex');
  }

  stop(): void {
    this.stopped = true;
  }

  /**
   * Runs the publishing phase: notes are started at `ratePerS` (late ones as soon as a slot is free)
   * until `durationMs` has passed by the wall clock; the notes then in flight keep retrying for at most
   * `graceMs` more, after which they are given up. Resolves when every note is acknowledged or given up.
   */
  async run(durationMs: number, graceMs = 15_000): Promise<void> {
    const interval = 1000 / this.o.ratePerS;
    const t0 = Date.now();
    const end = t0 + durationMs;
    this.hardStop = end + graceMs;
    let next = 0;
    const worker = async () => {
      for (;;) {
        const i = next++;
        const due = t0 + i * interval;
        if (this.stopped || due >= end) return;
        const wait = due - Date.now();
        if (wait > 0) await sleep(wait);
        if (this.stopped || Date.now() >= end) return;
        await this.publishOne(i + 1);
      }
    };
    await Promise.all(Array.from({ length: this.o.concurrency }, worker));
  }

  /** No retry starts after this time (set by `run`). */
  private hardStop = Infinity;

  acked(): Array<{ note: number; id: string; offset: number }> {
    return this.notes.filter((n) => n.acked).map((n) => ({ note: n.note, id: n.acked!.id, offset: n.acked!.offset }));
  }

  /** Every attempt that was not acknowledged: refusals with a status, and network failures. */
  failures(): Attempt[] {
    return this.attempts.filter((a) => !a.ok);
  }

  summary(): string {
    const by = new Map<string, number>();
    for (const a of this.attempts) {
      const k = a.ok ? `${a.status}${a.duplicate ? ' duplicate' : ''}` : a.status ? `${a.status} ${a.code}` : `net ${a.netError}`;
      by.set(k, (by.get(k) ?? 0) + 1);
    }
    const acked = this.notes.filter((n) => n.acked).length;
    const retried = this.notes.filter((n) => n.attempts.length > 1).length;
    return `${this.notes.length} notes, ${acked} acknowledged, ${this.notes.length - acked} not (gave up), ${retried} retried; attempts: ${[...by].map(([k, v]) => `${k}×${v}`).join(', ')}`;
  }

  private pickNode(note: number, attempt: number): PublisherNode {
    const nodes = this.o.nodes;
    const now = Date.now();
    for (let k = 0; k < nodes.length; k++) {
      const n = nodes[(note + attempt + k) % nodes.length];
      if ((this.resting.get(n.url) ?? 0) <= now) return n;
    }
    return nodes[(note + attempt) % nodes.length];
  }

  private async publishOne(n: number): Promise<void> {
    const key = `fault-${this.tag}-${n}`;
    const outcome: NoteOutcome = { note: n, key, attempts: [] };
    this.notes.push(outcome);
    const body = JSON.stringify({ kind: 'note', payload: { title: `fault note ${this.tag} #${n}`, riskLevel: 'R2', summary: `n=${n}` } });
    const first = Date.now();
    for (let attempt = 0; ; attempt++) {
      const node = this.pickNode(n, attempt);
      const a: Attempt = { note: n, key, node: node.name, startedAt: Date.now(), endedAt: 0, ok: false };
      try {
        const res = await fetch(`${node.url}/api/channels/${encodeURIComponent(this.o.channel)}/publications`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${this.o.token}`, 'idempotency-key': key },
          body,
          signal: AbortSignal.timeout(this.o.requestTimeoutMs),
        });
        a.status = res.status;
        const text = await res.text();
        let json: Record<string, unknown> | null = null;
        try {
          json = JSON.parse(text);
        } catch {
          /* not JSON */
        }
        if (res.status === 201 || res.status === 200) {
          a.ok = true;
          a.id = String(json?.id);
          a.offset = Number(json?.offset);
          a.duplicate = json?.duplicate === true || res.status === 200;
        } else {
          const err = json?.error as { code?: string } | undefined;
          a.code = typeof err?.code === 'string' ? err.code : `<unparsable: ${text.slice(0, 60)}>`;
        }
      } catch (e) {
        const err = e as Error & { cause?: { code?: string; name?: string; message?: string } };
        a.netError = err.name === 'TimeoutError' ? 'TimeoutError' : (err.cause?.code ?? err.cause?.name ?? err.message);
      }
      a.endedAt = Date.now();
      outcome.attempts.push(a);
      this.attempts.push(a);
      if (a.ok) {
        outcome.acked = { id: a.id!, offset: a.offset!, node: node.name, at: a.endedAt, duplicate: a.duplicate === true };
        return;
      }
      const retriable = a.status === undefined || a.status >= 500;
      if (!retriable) {
        outcome.gaveUp = `HTTP ${a.status} ${a.code}`;
        return;
      }
      // No answer at all: let that node rest a moment, as a client library with health tracking would.
      if (a.status === undefined || a.code === 'QIAO_DRAINING') this.resting.set(node.url, Date.now() + 1000);
      const delay = Math.min(this.o.maxBackoffMs, this.o.backoffMs * 2 ** attempt);
      const last = a.status ? `HTTP ${a.status} ${a.code}` : a.netError;
      if (Date.now() + delay - first > this.o.retryDeadlineMs) {
        outcome.gaveUp = `retry deadline (${outcome.attempts.length} attempts; last: ${last})`;
        return;
      }
      if (this.stopped || Date.now() + delay > this.hardStop) {
        outcome.gaveUp = `publishing phase over (${outcome.attempts.length} attempts; last: ${last})`;
        return;
      }
      await sleep(delay * (0.75 + Math.random() * 0.5));
    }
  }
}
