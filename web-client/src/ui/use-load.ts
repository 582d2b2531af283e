/**
 * Loads data for a view: `{ data, error, loading, reload, set }`. A newer load wins over an older one
 * still in flight, and nothing is set after the view is gone.
 */
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';

export interface Loaded<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  reload(): void;
  /** Replaces the data, or updates it from the current value. */
  set(v: T | ((cur: T | undefined) => T)): void;
}

export function useLoad<T>(fn: () => Promise<T>, deps: readonly unknown[] = []): Loaded<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(true);
  const seq = useRef(0);
  const alive = useRef(true);
  const run = useCallback(() => {
    const n = ++seq.current;
    setLoading(true);
    fn().then(
      (v) => {
        if (alive.current && n === seq.current) {
          setData(v);
          setError(null);
          setLoading(false);
        }
      },
      (e: unknown) => {
        if (alive.current && n === seq.current) {
          setError(e);
          setLoading(false);
        }
      },
    );
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);
  useEffect(() => {
    alive.current = true;
    run();
    return () => {
      alive.current = false;
    };
  }, [run]);
  return { data, error, loading, reload: run, set: setData };
}
