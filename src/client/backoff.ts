/** Reconnect delays: exponential growth from `minDelayMs`, capped at `maxDelayMs`, with "equal jitter". */
export interface BackoffOptions {
  minDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { minDelayMs: 500, maxDelayMs: 30_000 };

export class Backoff {
  private attempt = 0;

  constructor(
    private readonly opts: BackoffOptions = DEFAULT_BACKOFF,
    private readonly random: () => number = Math.random,
  ) {}

  /** Delay before the next attempt; each call doubles the base (up to the cap). Half of it is random. */
  next(): number {
    const base = Math.min(this.opts.maxDelayMs, this.opts.minDelayMs * 2 ** Math.min(this.attempt, 30));
    this.attempt++;
    return Math.round(base / 2 + (this.random() * base) / 2);
  }

  /** After a successful connection. */
  reset(): void {
    this.attempt = 0;
  }

  get maxDelay(): number {
    return this.opts.maxDelayMs;
  }

  get attempts(): number {
    return this.attempt;
  }
}
