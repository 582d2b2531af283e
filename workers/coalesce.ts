/**
 * Coalesces concurrent single-key requests into one batched call: every `get` made in the same
 * event-loop turn (up to `max`) is answered by one `run(keys)`. Adds no waiting beyond that turn.
 */
export class Coalescer<K, V> {
  private pending: Array<{ key: K; resolve: (v: V | undefined) => void; reject: (e: unknown) => void }> = [];
  private scheduled = false;

  constructor(
    private readonly run: (keys: K[]) => Promise<Map<K, V> | void>,
    private readonly max = 256,
  ) {}

  get(key: K): Promise<V | undefined> {
    return new Promise((resolve, reject) => {
      this.pending.push({ key, resolve, reject });
      if (this.pending.length >= this.max) this.flush();
      else if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const batch = this.pending.splice(0);
    if (!batch.length) return;
    this.run(batch.map((b) => b.key)).then(
      (m) => {
        for (const b of batch) b.resolve(m ? m.get(b.key) : undefined);
      },
      (e) => {
        for (const b of batch) b.reject(e);
      },
    );
  }
}
