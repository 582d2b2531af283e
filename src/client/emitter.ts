/**
 * A tiny typed event emitter that works the same in the browser and in Node (no `events` import).
 * `on` returns an unsubscribe function. A listener that throws does not stop the other listeners:
 * the error is handed to `listenerFailed` (by default rethrown asynchronously, so it is not lost).
 */
export type EventMap = { [event: string]: unknown };
export type Listener<T> = (arg: T) => void;

export class TypedEmitter<E extends EventMap> {
  private readonly listeners: { [K in keyof E]?: Set<Listener<E[K]>> } = {};

  on<K extends keyof E>(event: K, fn: Listener<E[K]>): () => void {
    let set = this.listeners[event];
    if (!set) {
      set = new Set();
      this.listeners[event] = set;
    }
    set.add(fn);
    return () => this.off(event, fn);
  }

  once<K extends keyof E>(event: K, fn: Listener<E[K]>): () => void {
    const off = this.on(event, (arg) => {
      off();
      fn(arg);
    });
    return off;
  }

  off<K extends keyof E>(event: K, fn: Listener<E[K]>): void {
    this.listeners[event]?.delete(fn);
  }

  listenerCount<K extends keyof E>(event: K): number {
    return this.listeners[event]?.size ?? 0;
  }

  protected emit<K extends keyof E>(event: K, arg: E[K]): void {
    const set = this.listeners[event];
    if (!set) return;
    for (const fn of [...set]) {
      try {
        fn(arg);
      } catch (err) {
        this.listenerFailed(err, event);
      }
    }
  }

  /** A listener threw. Subclasses may report it differently. */
  protected listenerFailed(err: unknown, _event: keyof E): void {
    queueMicrotask(() => {
      throw err;
    });
  }
}
