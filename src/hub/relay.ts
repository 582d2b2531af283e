/**
 * The relay: hands committed publications to the bus and the fanout queue, in offset order per channel.
 *
 * Guarantees (the argument is in docs/protocol.md, "Stored before seen"):
 * 1. Only committed publications are relayed: `relay` is called after the commit, and the sweeper
 *    reads committed outbox rows joined to their messages.
 * 2. Per channel, the bus receives offsets contiguously and each once: publishes use the bus's
 *    contiguous mode. When the bus is behind (a relay elsewhere has not run yet, or died), the relay
 *    first hands it the missing publications from the store — they are committed, because a channel's
 *    offsets commit in order (src/store/messages-repo.ts). When the bus is ahead, the publication is
 *    already there.
 * 3. A relay that fails (Redis down, node killed after the commit) leaves the outbox row; every node
 *    sweeps rows older than `staleAfterMs` and relays them. Relaying twice is harmless: the bus refuses
 *    what it has, and fanout jobs are keyed by message id.
 * 4. `relay` never throws: the publication is committed, so the publisher is acknowledged whatever
 *    the relay's fate.
 */
import type { FastifyBaseLogger } from 'fastify';
import { resolveChannel } from '../../channels/catalogue.ts';
import type { Bus, ChannelOptions, Publication } from '../bus/bus.ts';
import type { Metrics } from '../metrics.ts';
import { QUEUES, jobIds, type FanoutJob } from '../queue/jobs.ts';
import type { BulkJob, JobQueue } from '../queue/queue.ts';
import type { MessagesRepo } from '../store/messages-repo.ts';

export interface RelayDeps {
  bus: Bus;
  messages: MessagesRepo;
  /** Where fanout jobs go (absent: live delivery only, e.g. in unit tests). */
  queue?: JobQueue;
  metrics: Metrics;
  logger: FastifyBaseLogger;
  /** How often the sweeper looks for unfinished relays, ms (0: no sweeper). */
  sweepIntervalMs?: number;
  /** Outbox rows older than this are taken to be left by a failed relay, ms. */
  staleAfterMs?: number;
}

/** Most publications handed over in one catch-up read from the store. */
const FILL_BATCH = 500;
/** Outbox deletes are batched: at most this many keys, or after this many ms. */
const DELETE_BATCH = 500;
const DELETE_AFTER_MS = 20;
/** Rows one sweep takes. */
const SWEEP_LIMIT = 1000;

const DEFAULT_OPTIONS: ChannelOptions = { historySize: 100, historyTtlMs: 3_600_000 };

/** The bus options a channel's family declares (history size and TTL). */
export function channelOptions(channel: string): ChannelOptions {
  try {
    const f = resolveChannel(channel).family;
    return { historySize: f.historySize, historyTtlMs: f.historyTtlMs };
  } catch {
    // A channel whose family no longer exists (old data): still relayed, with default history.
    return DEFAULT_OPTIONS;
  }
}

/** A publication's fanout job: keyed by message id, so relaying it twice queues it once. */
function fanoutJob(pub: Publication, family: string): BulkJob<FanoutJob> {
  return {
    name: 'fanout',
    data: { messageId: pub.id, channel: pub.channel, family, offset: pub.offset, kind: pub.kind },
    opts: { jobId: jobIds.fanout(pub.id) },
  };
}

export class Relay {
  /** Per channel, the tail of this node's relays: one channel's relays run one after another. */
  private readonly chains = new Map<string, Promise<unknown>>();
  private deletes: Array<{ channel: string; offset: number }> = [];
  private deleteTimer: NodeJS.Timeout | null = null;
  private deleting: Promise<void> = Promise.resolve();
  private sweepTimer: NodeJS.Timeout | null = null;
  private sweeping = false;
  private closed = false;

  constructor(private readonly d: RelayDeps) {}

  /** Starts the sweeper (every node runs one; they may overlap, which is harmless). */
  start(): void {
    const every = this.d.sweepIntervalMs ?? 1000;
    if (every <= 0 || this.sweepTimer) return;
    this.sweepTimer = setInterval(() => void this.sweep(), every);
    this.sweepTimer.unref();
  }

  /**
   * Relays one committed publication: onto the bus (after anything the bus is missing before it),
   * then its fanout job; then the outbox row goes. Resolves true when all of it succeeded, false when
   * something is left for the sweeper. Never rejects.
   */
  async relay(pub: Publication, family: string, outcome: 'ok' | 'swept' = 'ok'): Promise<boolean> {
    try {
      const filled = await this.inChannelOrder(pub.channel, () => this.toBus(pub));
      const job = fanoutJob(pub, family);
      await this.d.queue?.add<FanoutJob>(QUEUES.fanout, job.name, job.data, job.opts);
      this.d.metrics.relay.inc({ outcome: filled ? 'filled' : outcome });
      this.markDone(pub);
      return true;
    } catch (err) {
      this.d.metrics.relay.inc({ outcome: 'failed' });
      this.d.logger.warn({ err, channel: pub.channel, offset: pub.offset }, 'relay failed; the sweeper will retry this committed publication');
      return false;
    }
  }

  /**
   * Relays publications committed together (an ingest batch), with the guarantees of `relay` for each:
   * all of them onto the bus first (each channel in offset order), then their fanout jobs in one
   * `addBulk`. The jobs wait for the next timer turn, so the live deliveries these bus publishes start
   * on this node (run from setImmediate) go first: live delivery is the latency that counts, and the
   * jobs' work would otherwise sit in front of it. Resolves true/false per publication; never rejects.
   */
  async relayMany(items: ReadonlyArray<{ pub: Publication; family: string }>): Promise<boolean[]> {
    const onBus = await Promise.all(
      items.map(({ pub }) =>
        this.inChannelOrder(pub.channel, () => this.toBus(pub)).then(
          (filled) => ({ ok: true, filled }),
          (err: unknown) => {
            this.d.logger.warn({ err, channel: pub.channel, offset: pub.offset }, 'relay failed; the sweeper will retry this committed publication');
            return { ok: false, filled: false };
          },
        ),
      ),
    );
    const ready = items.filter((_, i) => onBus[i].ok);
    let queued = true;
    if (this.d.queue && ready.length > 0) {
      await new Promise((resolve) => setTimeout(resolve, 0));
      try {
        await this.d.queue.addBulk<FanoutJob>(
          QUEUES.fanout,
          ready.map(({ pub, family }) => fanoutJob(pub, family)),
        );
      } catch (err) {
        queued = false;
        this.d.logger.warn({ err, count: ready.length }, 'relay: adding fanout jobs failed; the sweeper will retry these committed publications');
      }
    }
    return items.map(({ pub }, i) => {
      const ok = onBus[i].ok && queued;
      this.d.metrics.relay.inc({ outcome: ok ? (onBus[i].filled ? 'filled' : 'ok') : 'failed' });
      if (ok) this.markDone(pub);
      return ok;
    });
  }

  /** Runs `fn` after this node's earlier relays of the same channel (so they reach the bus in commit order). */
  private inChannelOrder<T>(channel: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.chains.get(channel) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    const tail = run.catch(() => undefined);
    this.chains.set(channel, tail);
    void tail.then(() => {
      if (this.chains.get(channel) === tail) this.chains.delete(channel);
    });
    return run;
  }

  /** Puts `pub` on the bus, handing over first what the bus is missing before it; true when it had to. */
  private async toBus(pub: Publication): Promise<boolean> {
    const opts = { ...channelOptions(pub.channel), contiguous: true };
    let filled = false;
    // Each round either succeeds or moves the bus's top up; the bound only guards against a bug.
    for (let round = 0; round < 1000; round++) {
      const r = await this.d.bus.publish(pub, opts);
      if (r.accepted || r.topOffset >= pub.offset) return filled;
      filled = true;
      const missing = await this.d.messages.since(pub.channel, r.topOffset, Math.min(FILL_BATCH, pub.offset - r.topOffset - 1));
      if (missing.length === 0 || missing[0].offset !== r.topOffset + 1) {
        // The store itself has no row right after the bus's top (history purged by retention): the
        // next stored publication goes in without the contiguity check.
        await this.d.bus.publish(missing[0] ?? pub, { ...opts, contiguous: false });
        continue;
      }
      for (const m of missing) {
        const rm = await this.d.bus.publish(m, opts);
        if (!rm.accepted && rm.topOffset < m.offset) break; // moved elsewhere meanwhile: start over
      }
    }
    throw new Error(`relay: the bus did not take offset ${pub.offset} of ${pub.channel}`);
  }

  private markDone(pub: Publication): void {
    this.deletes.push({ channel: pub.channel, offset: pub.offset });
    if (this.deletes.length >= DELETE_BATCH) this.flushDeletes();
    else this.deleteTimer ??= setTimeout(() => this.flushDeletes(), DELETE_AFTER_MS);
  }

  private flushDeletes(): Promise<void> {
    if (this.deleteTimer) clearTimeout(this.deleteTimer);
    this.deleteTimer = null;
    const keys = this.deletes.splice(0);
    if (keys.length === 0) return this.deleting;
    this.deleting = this.deleting.then(() =>
      this.d.messages.relayed(keys).catch((err) => {
        // The rows stay; the sweeper relays them again (harmless) and deletes them then.
        this.d.logger.warn({ err, count: keys.length }, 'relay: removing finished outbox rows failed');
      }),
    );
    return this.deleting;
  }

  /** Relays what failed relays (or dead nodes) left behind. One sweep at a time per node. */
  async sweep(): Promise<number> {
    if (this.sweeping || this.closed) return 0;
    this.sweeping = true;
    try {
      const rows = await this.d.messages.unrelayed(this.d.staleAfterMs ?? 3000, SWEEP_LIMIT);
      let done = 0;
      for (const { pub, family } of rows) {
        if (this.closed) break;
        if (await this.relay(pub, family, 'swept')) done++;
      }
      if (rows.length > 0) this.d.logger.info({ found: rows.length, relayed: done }, 'relay sweeper relayed committed publications left behind');
      return done;
    } catch (err) {
      this.d.logger.warn({ err }, 'relay sweep failed (store unavailable?); next sweep retries');
      return 0;
    } finally {
      this.sweeping = false;
    }
  }

  /** Stops the sweeper and waits for this node's relays in flight and the pending outbox deletes. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = null;
    await Promise.allSettled([...this.chains.values()]);
    await this.flushDeletes();
  }
}
