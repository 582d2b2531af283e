/**
 * A tiny typed event emitter that works the same in the browser and in Node (no `events` import).
 * `on` returns an unsubscribe function. A listener that throws does not stop the other listeners:
 * the error is handed to `onListenerError` (the client reports it as an 'error' event).
 */
export type EventMap = { [event: string]: unknown };
export type Listener<T> = (arg: T) => void;

export class TypedEmitter<E extends EventMap> {
  private readonly listeners: { [K in keyof E]?: Set<Listener<E[K]>> } = {};

  constructor(private readonly onListenerError?: (err: unknown, event: keyof E) => void) {}

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
        if (this.onListenerError) this.onListenerError(err, event);
        else queueMicrotask(() => {
          throw err;
        });
      }
    }
  }
}
