/**
 * Live figures: the server sends a `waiting` signal (docs/protocol.md) to a broker, its manager and its
 * branch head when one of the broker's clients starts or stops waiting for a first answer. When it is
 * about a broker in view, the figures are fetched again — debounced, so a burst of chats is one load.
 * After a reconnect they are fetched again too, since signals sent meanwhile are not replayed.
 */
import { useEffect, useRef } from 'preact/hooks';
import { conn, live } from '../../app/session.ts';

const DEBOUNCE_MS = 400;

export function useWaitingRefresh(brokerIds: readonly string[], reload: () => void): void {
  const state = conn.value;
  const ids = useRef(new Set<string>());
  ids.current = new Set(brokerIds);
  const reloadRef = useRef(reload);
  reloadRef.current = reload;
  const wasConnected = useRef(false);

  useEffect(() => {
    const c = live.client;
    if (state !== 'connected' || !c) return;
    if (wasConnected.current) reloadRef.current();
    wasConnected.current = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const off = c.on('signal', (s) => {
      if (s.kind !== 'waiting') return;
      const brokerId = (s.data as { brokerId?: unknown } | undefined)?.brokerId;
      if (typeof brokerId !== 'string' || !ids.current.has(brokerId)) return;
      clearTimeout(timer);
      timer = setTimeout(() => reloadRef.current(), DEBOUNCE_MS);
    });
    return () => {
      off();
      clearTimeout(timer);
    };
  }, [state]);
}
