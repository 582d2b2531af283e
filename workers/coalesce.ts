/**
 * Coalesces concurrent single-key requests into one batched call: every `get` made in the same
 * event-loop turn (up to `max`) is answered by one `run(keys)`.
 *
 * With `maxInFlight`, at most that many `run`s are outstanding; requests made meanwhile wait for one
 * to finish and then go together. Under load that turns many small statements into a few big ones (the
 * push worker: each statement also costs Postgres CPU on the same machine); when idle it adds nothing,
 * since the first request of a quiet moment finds no run in flight.
 */
export class Coalescer<K, V> {
  private pending: Array<{ key: K; resolve: (v: V | undefined) => void; reject: (e: unknown) => void }> = [];
  private scheduled = false;
  private inFlight = 0;

  constructor(
    private readonly run: (keys: K[]) => Promise<Map<K, V> | void>,
    private readonly max = 256,
    private readonly maxInFlight = Infinity,
  ) {}

  get(key: K): Promise<V | undefined> {
    return new Promise((resolve, reject) => {
      this.pending.push({ key, resolve, reject });
      if (this.pending.length >= this.max && this.inFlight < this.maxInFlight) this.flush();
      else if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    // Busy: the run that finishes next flushes what has gathered by then.
    if (this.inFlight >= this.maxInFlight) return;
    const batch = this.pending.splice(0, this.max);
    if (!batch.length) return;
    this.inFlight++;
    if (this.pending.length && !this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
    const settle = () => {
      this.inFlight--;
      if (this.pending.length && !this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    };
    this.run(batch.map((b) => b.key)).then(
      (m) => {
        settle();
        for (const b of batch) b.resolve(m ? m.get(b.key) : undefined);
      },
      (e) => {
        settle();
        for (const b of batch) b.reject(e);
      },
    );
  }
}
