/**
 * The signed-in client's inbox counts (the nav badge) and its live channel `inbox.<userId>`
 * (channels/inbox.ts). The badge must follow new items on every page, not only on /inbox, so the
 * listener lives here for as long as a client is signed in; views add their own listeners on top.
 */
import { computed, effect, signal } from '@preact/signals';
import type { MsgPush } from '../../../../src/client/qiao-client.ts';
import { api, call, type Answer } from '../../api/api.ts';
import { live, user } from '../../app/session.ts';

export type InboxCounts = Answer<'/api/inbox/counts', 'get'>;
export type InboxItem = NonNullable<Answer<'/api/inbox', 'get'>['items']>[number];

export const counts = signal<InboxCounts | null>(null);
export const unread = computed(() => counts.value?.unread);

/** Bumped on every live arrival in the inbox, so open views can reload. */
export const arrivals = signal<MsgPush | null>(null);

const clientId = computed(() => (user.value?.role === 'client' ? user.value.id : null));

export function inboxChannel(userId: string): string {
  return `inbox.${userId}`;
}

let seq = 0;
export async function refreshCounts(): Promise<void> {
  const n = ++seq;
  try {
    const c = await call(api.GET('/api/inbox/counts'));
    if (n === seq && clientId.value) counts.value = c;
  } catch {
    // The badge is a hint; the inbox view shows errors itself.
  }
}

/** Counts an action answered with (read, archive) — newer than any refresh still in flight. */
export function setCounts(c: InboxCounts | undefined): void {
  if (!c) return;
  seq++;
  counts.value = c;
}

effect(() => {
  const id = clientId.value;
  counts.value = null;
  if (!id) return;
  void refreshCounts();
  // Fanout writes the inbox row shortly after the live push: count again once it has.
  let timer: ReturnType<typeof setTimeout> | undefined;
  const stop = live.listen(inboxChannel(id), (m) => {
    arrivals.value = m;
    void refreshCounts();
    clearTimeout(timer);
    timer = setTimeout(() => void refreshCounts(), 1200);
  });
  return () => {
    clearTimeout(timer);
    stop();
  };
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Marks an item read or archived on the server (the read receipt that stops escalation) and takes the
 * counts it answers with. An item that just arrived live may not have its inbox row yet (fanout runs
 * after the live push), so "not found" is retried for a few seconds.
 */
export async function setItemState(messageId: string, action: 'read' | 'archive'): Promise<string | undefined> {
  for (let attempt = 0; ; attempt++) {
    try {
      const r = await call(
        action === 'read'
          ? api.POST('/api/inbox/{messageId}/read', { params: { path: { messageId } } })
          : api.POST('/api/inbox/{messageId}/archive', { params: { path: { messageId } } }),
      );
      setCounts(r.counts as InboxCounts | undefined);
      return r.state;
    } catch (e) {
      if (attempt >= 8 || (e as { code?: string }).code !== 'QIAO_NOT_FOUND') throw e;
      await sleep(500);
    }
  }
}
