/**
 * The signed-in user's conversations, kept for every view that shows them: the list with unread
 * counts, last message and the other side's presence, and the total unread count of the navigation.
 *
 * Loaded on every (re)connect of the live client, then kept current from its ephemeral signals
 * (src/gateway/protocol.ts SignalPush): `unread` (my count for a conversation changed), `presence`
 * (someone went online/away/offline). `typing` and `receipt` signals are passed on to the open thread
 * through `onConvSignal`. Unread counts are the server's own numbers, never counted here.
 */
import { computed, effect, signal, untracked } from '@preact/signals';
import type { QiaoClient, SignalPush } from '../../../../../src/client/qiao-client.ts';
import { api, call, type Role } from '../../../api/api.ts';
import { conn, live, user } from '../../../app/session.ts';
import type { Conv, Presence } from './types.ts';

export const CONV_ROLES: readonly Role[] = ['client', 'broker', 'manager'];

export const conversations = signal<Conv[]>([]);
export const convsLoaded = signal(false);
export const convsError = signal<unknown>(null);
/** Bumped after each fresh list, so views holding derived data (the workstation) reload with it. */
export const convsVersion = signal(0);
/** Presence pushed since the last load, by user id (the workstation's clients are not all in the list). */
export const presenceOf = signal<ReadonlyMap<string, Presence>>(new Map());

/** Unread messages of the conversations I take part in (supervisors' read-only ones do not count). */
export const totalUnread = computed(() => conversations.value.reduce((n, c) => n + (c.participant ? c.unread : 0), 0));

/** Newest (topOffset, readOffset) applied per conversation: an older `unread` push is ignored. */
const seen = new Map<string, { top: number; read: number }>();
const listeners = new Set<(s: SignalPush) => void>();
let wired: QiaoClient | null = null;
let loadSeq = 0;
let refreshTimer: ReturnType<typeof setTimeout> | undefined;

/** Typing and receipt signals for the open thread; returns the stop. */
export function onConvSignal(fn: (s: SignalPush) => void): () => void {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

export async function refreshConversations(): Promise<void> {
  const n = ++loadSeq;
  try {
    const r = await call(api.GET('/api/conversations', { params: { query: { limit: 200 } } }));
    if (n !== loadSeq || !user.value) return;
    const list = (r.conversations ?? []) as Conv[];
    for (const c of list) seen.set(c.id, { top: c.topOffset, read: c.readOffset });
    conversations.value = list;
    presenceOf.value = new Map();
    convsError.value = null;
    convsLoaded.value = true;
    convsVersion.value++;
  } catch (e) {
    if (n === loadSeq) convsError.value = e;
  }
}

/** A fresh list soon (coalesces bursts of pushes into one request). */
export function refreshSoon(): void {
  if (refreshTimer) return;
  refreshTimer = setTimeout(() => {
    refreshTimer = undefined;
    void refreshConversations();
  }, 150);
}

/** My unread count for one conversation as the server just said (a receipt's answer). */
export function setUnread(id: string, unread: number): void {
  conversations.value = conversations.value.map((c) => (c.id === id && c.unread !== unread ? { ...c, unread } : c));
}

function onSignal(sig: SignalPush): void {
  const data = (sig.data ?? {}) as Record<string, unknown>;
  if (sig.kind === 'unread') {
    const id = String(data.conversationId ?? '');
    const top = Number(data.topOffset ?? 0);
    const read = Number(data.readOffset ?? 0);
    const prev = seen.get(id);
    if (prev && (top < prev.top || (top === prev.top && read < prev.read))) return;
    seen.set(id, { top, read });
    const c = conversations.value.find((x) => x.id === id);
    // A conversation new to this list, or a newer last message and first-response wait: ask the server.
    if (!c || top > (c.lastMessage?.offset ?? 0)) refreshSoon();
    if (c) conversations.value = conversations.value.map((x) => (x.id === id ? { ...x, unread: Number(data.unread ?? 0), topOffset: top, readOffset: read } : x));
  } else if (sig.kind === 'presence') {
    const state: Presence = data.state === 'online' || data.state === 'away' ? data.state : 'offline';
    presenceOf.value = new Map(presenceOf.value).set(sig.from, state);
    conversations.value = conversations.value.map((c) => (c.peer?.id === sig.from ? { ...c, peer: { ...c.peer, presence: state } } : c));
  }
  for (const fn of listeners) fn(sig);
}

function reset(): void {
  loadSeq++;
  wired = null;
  seen.clear();
  conversations.value = [];
  presenceOf.value = new Map();
  convsLoaded.value = false;
  convsError.value = null;
}

let lastUser: string | null = null;
effect(() => {
  const u = user.value;
  const state = conn.value;
  untracked(() => {
    if (!u || !CONV_ROLES.includes(u.role)) {
      if (lastUser) reset();
      lastUser = null;
      return;
    }
    if (lastUser !== u.id) reset();
    lastUser = u.id;
    if (state !== 'connected') return;
    const c = live.client;
    if (c && c !== wired) {
      wired = c;
      c.on('signal', (s) => {
        if (wired === c) onSignal(s);
      });
    }
    void c?.setPresence(document.visibilityState === 'hidden' ? 'away' : 'online').catch(() => {});
    void refreshConversations();
  });
});

if (typeof document !== 'undefined') {
  document.addEventListener('visibilitychange', () => {
    const c = live.client;
    if (!c || c !== wired || c.state !== 'connected') return;
    void c.setPresence(document.visibilityState === 'hidden' ? 'away' : 'online').catch(() => {});
  });
}
