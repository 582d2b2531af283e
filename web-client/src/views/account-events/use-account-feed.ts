/**
 * A client's account events, newest first: a page from GET /api/clients/:id/account-events, earlier
 * pages on demand, then live — the client from its own `account.<id>` channel (from the newest offset
 * shown), staff by reloading when the `account-unseen` signal says the client has new events (staff
 * do not subscribe to clients' channels).
 */
import { useEffect, useState } from 'preact/hooks';
import type { PublicationFrame } from '../../../../src/gateway/protocol.ts';
import { api, call } from '../../api/api.ts';
import { live } from '../../app/session.ts';
import { onUnseenChange } from './unseen-store.ts';

const PAGE = 50;

export interface Feed {
  events: PublicationFrame[];
  error: unknown;
  loaded: boolean;
  nextBefore: number | null;
  more(): Promise<void>;
}

const newestFirst = (a: PublicationFrame, b: PublicationFrame) => b.offset - a.offset;

function merge(cur: PublicationFrame[], add: PublicationFrame[]): PublicationFrame[] {
  const ids = new Set(cur.map((p) => p.id));
  return [...cur, ...add.filter((p) => !ids.has(p.id))].sort(newestFirst);
}

export function useAccountFeed(clientId: string, mode: 'own' | 'staff', onTop?: (top: number) => void): Feed {
  const [events, setEvents] = useState<PublicationFrame[]>([]);
  const [error, setError] = useState<unknown>(null);
  const [loaded, setLoaded] = useState(false);
  const [nextBefore, setNextBefore] = useState<number | null>(null);

  useEffect(() => {
    let stopped = false;
    const stops: Array<() => void> = [];
    setEvents([]);
    setLoaded(false);
    setError(null);
    let initial = true;
    const loadFirst = async () => {
      const r = await call(api.GET('/api/clients/{id}/account-events', { params: { path: { id: clientId }, query: { limit: PAGE } } }));
      if (stopped) return undefined;
      const got = r.events as PublicationFrame[];
      setEvents((cur) => merge(cur, got));
      // Later reloads bring newer events; the older pages' cursor stays.
      if (initial) setNextBefore(r.nextBefore);
      initial = false;
      setLoaded(true);
      const top = got.length ? got[0].offset : 0;
      onTop?.(top);
      return top;
    };
    void loadFirst()
      .then((top) => {
        if (stopped || top === undefined) return;
        if (mode === 'own') {
          stops.push(
            live.listen(`account.${clientId}`, (m) => {
              setEvents((cur) => merge(cur, [m]));
              onTop?.(m.offset);
            }, top),
          );
        } else {
          stops.push(onUnseenChange((id) => void (id === clientId && loadFirst().catch(setError))));
        }
      })
      .catch((e: unknown) => {
        if (!stopped) {
          setError(e);
          setLoaded(true);
        }
      });
    return () => {
      stopped = true;
      stops.forEach((f) => f());
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [clientId, mode]);

  const more = async () => {
    if (nextBefore === null) return;
    try {
      const r = await call(api.GET('/api/clients/{id}/account-events', { params: { path: { id: clientId }, query: { limit: PAGE, before: nextBefore } } }));
      setEvents((cur) => merge(cur, r.events as PublicationFrame[]));
      setNextBefore(r.nextBefore);
    } catch (e) {
      setError(e);
    }
  };
  return { events, error, loaded, nextBefore, more };
}
