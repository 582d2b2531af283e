/**
 * One open conversation: its details and read positions, the newest page of history, older pages on
 * demand, then live messages on `conv.<id>` from the last offset shown (nothing in between is lost).
 * Read receipts go out while the page is visible (over the socket, or REST when it is down); the
 * other side's receipts and "typing…" arrive as signals (conversations-store.ts).
 */
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import type { PublicationFrame } from '../../../../../src/gateway/protocol.ts';
import { api, call } from '../../../api/api.ts';
import { live, user } from '../../../app/session.ts';
import { onConvSignal, setUnread } from './conversations-store.ts';
import type { Conv, ReadState } from './types.ts';

const PAGE = 50;
const TYPING_SHOW_MS = 3000;

export interface Thread {
  conv: Conv | null;
  msgs: PublicationFrame[];
  /** Read offset of each participant. */
  reads: ReadonlyMap<string, number>;
  error: unknown;
  loading: boolean;
  hasOlder: boolean;
  loadingOlder: boolean;
  typing: boolean;
  loadOlder(): void;
}

function merge(cur: PublicationFrame[], add: PublicationFrame[]): PublicationFrame[] {
  const ids = new Set(cur.map((m) => m.id));
  const fresh = add.filter((m) => !ids.has(m.id));
  return fresh.length ? [...cur, ...fresh].sort((a, b) => a.offset - b.offset) : cur;
}

export function useThread(id: string): Thread {
  const [conv, setConv] = useState<Conv | null>(null);
  const [msgs, setMsgs] = useState<PublicationFrame[]>([]);
  const [reads, setReads] = useState<ReadonlyMap<string, number>>(new Map());
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(true);
  const [nextBefore, setNextBefore] = useState<number | null>(null);
  const [loadingOlder, setLoadingOlder] = useState(false);
  const [typingUntil, setTypingUntil] = useState(0);
  const [, tick] = useState(0);
  const top = useRef(0);
  const readSent = useRef(0);

  const markRead = useCallback(
    async (channel: string) => {
      const offset = top.current;
      if (!offset || offset <= readSent.current || document.visibilityState !== 'visible') return;
      readSent.current = offset;
      try {
        const c = live.client;
        const r = c?.state === 'connected' ? await c.receipt(channel, 'read', offset) : await call(api.POST('/api/conversations/{id}/read', { params: { path: { id } }, body: { offset } }));
        if (typeof r.unread === 'number') setUnread(id, r.unread);
      } catch {
        // Not essential: the next message, visit or reconnect reads again.
        readSent.current = 0;
      }
    },
    [id],
  );

  useEffect(() => {
    let stopped = false;
    let stopLive: (() => void) | null = null;
    setConv(null);
    setMsgs([]);
    setReads(new Map());
    setError(null);
    setLoading(true);
    setNextBefore(null);
    setTypingUntil(0);
    top.current = 0;
    readSent.current = 0;
    const me = user.value?.id;
    const channel = `conv.${id}`;

    const onVisible = () => {
      if (document.visibilityState === 'visible') void markRead(channel);
    };
    document.addEventListener('visibilitychange', onVisible);

    const stopSignals = onConvSignal((s) => {
      if (s.channel !== channel || s.from === me) return;
      if (s.kind === 'typing') {
        setTypingUntil(Date.now() + TYPING_SHOW_MS);
        setTimeout(() => tick((n) => n + 1), TYPING_SHOW_MS + 50);
      } else if (s.kind === 'receipt') {
        const read = Number((s.data as { read?: unknown } | undefined)?.read ?? 0);
        setReads((cur) => (read > (cur.get(s.from) ?? 0) ? new Map(cur).set(s.from, read) : cur));
      }
    });

    void Promise.all([
      call(api.GET('/api/conversations/{id}', { params: { path: { id } } })),
      call(api.GET('/api/conversations/{id}/messages', { params: { path: { id }, query: { limit: PAGE } } })),
    ]).then(
      ([detail, page]) => {
        if (stopped) return;
        const c = detail.conversation as Conv;
        const pubs = (page.publications ?? []) as PublicationFrame[];
        setConv(c);
        setReads(new Map(((detail.reads ?? []) as ReadState[]).map((r) => [r.userId, r.readOffset])));
        setMsgs(pubs);
        setNextBefore(page.nextBefore ?? null);
        setLoading(false);
        top.current = pubs.at(-1)?.offset ?? 0;
        void markRead(c.channel);
        stopLive = live.listen(
          c.channel,
          (m) => {
            setMsgs((cur) => merge(cur, [m]));
            if (m.offset > top.current) top.current = m.offset;
            // Someone who writes has read what came before: no typing indicator after their message.
            if (m.sender !== me) setTypingUntil(0);
            void markRead(c.channel);
          },
          top.current,
        );
      },
      (e: unknown) => {
        if (stopped) return;
        setError(e);
        setLoading(false);
      },
    );
    return () => {
      stopped = true;
      stopLive?.();
      stopSignals();
      document.removeEventListener('visibilitychange', onVisible);
    };
  }, [id, markRead]);

  const loadOlder = useCallback(() => {
    if (nextBefore === null || loadingOlder) return;
    setLoadingOlder(true);
    call(api.GET('/api/conversations/{id}/messages', { params: { path: { id }, query: { limit: PAGE, before: nextBefore } } }))
      .then((page) => {
        setMsgs((cur) => merge(cur, (page.publications ?? []) as PublicationFrame[]));
        setNextBefore(page.nextBefore ?? null);
      })
      .catch(setError)
      .finally(() => setLoadingOlder(false));
  }, [id, nextBefore, loadingOlder]);

  return { conv, msgs, reads, error, loading, hasOlder: nextBefore !== null, loadingOlder, typing: typingUntil > Date.now(), loadOlder };
}
