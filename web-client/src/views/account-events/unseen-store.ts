/**
 * The broker's unseen account events per client (the badges on the workstation): loaded from
 * GET /api/account-events/unseen on every (re)connect, then kept current from the `account-unseen`
 * signals the server pushes over the user's own signal channel (no subscription per client). A push
 * older than what is shown (lower top offset, or same top and lower seen offset) is ignored.
 */
import { computed, effect, signal, untracked } from '@preact/signals';
import type { SignalPush } from '../../../../src/gateway/protocol.ts';
import { api, call } from '../../api/api.ts';
import { conn, user } from '../../app/session.ts';
import { onConvSignal } from '../staff/conversations/conversations-store.ts';

export interface Unseen {
  clientId: string;
  unseen: number;
  topOffset: number;
  seenOffset: number;
}

export const unseenByClient = signal<ReadonlyMap<string, Unseen>>(new Map());
export const totalUnseen = computed(() => [...unseenByClient.value.values()].reduce((n, u) => n + u.unseen, 0));

/** Listeners for one client's new events (the open feed reloads). */
const changed = new Set<(clientId: string) => void>();
export function onUnseenChange(fn: (clientId: string) => void): () => void {
  changed.add(fn);
  return () => changed.delete(fn);
}

export function applyUnseen(u: Unseen): void {
  const prev = unseenByClient.value.get(u.clientId);
  if (prev && (u.topOffset < prev.topOffset || (u.topOffset === prev.topOffset && u.seenOffset < prev.seenOffset))) return;
  unseenByClient.value = new Map(unseenByClient.value).set(u.clientId, u);
  if (!prev || u.topOffset > prev.topOffset) for (const fn of changed) fn(u.clientId);
}

let seq = 0;
async function load(): Promise<void> {
  const n = ++seq;
  try {
    const r = await call(api.GET('/api/account-events/unseen'));
    if (n !== seq) return;
    unseenByClient.value = new Map(r.clients.map((c) => [c.clientId, c]));
  } catch {
    // The badges stay as they were; the next reconnect loads them again.
  }
}

function onSignal(s: SignalPush): void {
  if (s.kind !== 'account-unseen') return;
  const d = (s.data ?? {}) as Partial<Unseen>;
  if (typeof d.clientId !== 'string') return;
  applyUnseen({ clientId: d.clientId, unseen: Number(d.unseen ?? 0), topOffset: Number(d.topOffset ?? 0), seenOffset: Number(d.seenOffset ?? 0) });
}

let stop: (() => void) | null = null;
effect(() => {
  const u = user.value;
  const state = conn.value;
  untracked(() => {
    if (u?.role !== 'broker') {
      stop?.();
      stop = null;
      seq++;
      unseenByClient.value = new Map();
      return;
    }
    stop ??= onConvSignal(onSignal);
    if (state === 'connected') void load();
  });
});
