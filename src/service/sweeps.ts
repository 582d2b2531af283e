/**
 * Periodic service sweeps (issue 11): automatic reminders, follow-up scheduling and escalation,
 * satisfaction surveys after a quiet conversation, complaint deadlines. They run on every hub node
 * (they publish through the node's Publisher, so their notices are stored before they are seen);
 * each sweep must be safe to run on several nodes at once and after a restart — it claims its rows
 * (`FOR UPDATE SKIP LOCKED`, a unique `dedup_key`, a conditional UPDATE), so every effect happens once.
 */
import type { FastifyBaseLogger } from 'fastify';

export interface ServiceSweep {
  /** For logs and metrics. */
  readonly name: string;
  /** Does the work due at `now`; returns how many things it did (for logs and tests). */
  run(now: Date): Promise<number>;
}

export interface SweepRunnerOptions {
  intervalMs: number;
  logger: FastifyBaseLogger;
  sweeps: readonly ServiceSweep[];
}

export class SweepRunner {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private closed = false;

  constructor(private readonly o: SweepRunnerOptions) {}

  start(): void {
    // 0: no periodic sweeps on this node (tests call runOnce with the time they need).
    if (this.timer || this.closed || this.o.intervalMs <= 0) return;
    // Jittered first run, so nodes started together do not sweep in lockstep.
    const tick = () => {
      this.timer = setTimeout(() => {
        void this.runOnce().finally(() => {
          if (!this.closed) tick();
        });
      }, this.o.intervalMs * (0.75 + Math.random() * 0.5));
      this.timer.unref();
    };
    tick();
  }

  /** Runs every sweep once, in order; a failing sweep is logged and the others still run. */
  async runOnce(now: Date = new Date()): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    const work = (async () => {
      for (const s of this.o.sweeps) {
        if (this.closed) break;
        try {
          out[s.name] = await s.run(now);
        } catch (err) {
          this.o.logger.warn({ err, sweep: s.name }, 'service sweep failed (retried next interval)');
          out[s.name] = -1;
        }
      }
    })();
    this.running = work;
    await work;
    this.running = null;
    return out;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }
}
