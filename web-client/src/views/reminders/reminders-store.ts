/**
 * The signed-in broker's or manager's reminder counts (the navigation badge: fired, not yet done) and
 * the live arrivals of `reminder` notices on `inbox.<userId>` (channels/inbox.ts). Lives for as long as
 * such a user is signed in, so the badge follows new reminders on every page, not only /reminders.
 */
import { computed, effect, signal } from '@preact/signals';
import type { MsgPush } from '../../../../src/client/qiao-client.ts';
import { api, call, type Answer } from '../../api/api.ts';
import { live, user } from '../../app/session.ts';

export type ReminderList = Answer<'/api/reminders', 'get'>;
export type Reminder = ReminderList['reminders'][number];
export type ReminderCounts = ReminderList['counts'];

/** Roles that have the reminders view. */
export const REMINDER_ROLES = ['broker', 'manager'] as const;

export const counts = signal<ReminderCounts | null>(null);
export const firedCount = computed(() => counts.value?.fired);
/** The last `reminder` that arrived live (views reload on it). */
export const arrived = signal<MsgPush | null>(null);

const ownerId = computed(() => {
  const u = user.value;
  return u && (REMINDER_ROLES as readonly string[]).includes(u.role) ? u.id : null;
});

let seq = 0;
/** Counts as of now (a list answer carries them too: `setCounts`). */
export async function refreshCounts(): Promise<void> {
  const n = ++seq;
  try {
    const r = await call(api.GET('/api/reminders', { params: { query: { state: 'open' } } }));
    if (n === seq && ownerId.value) counts.value = r.counts;
  } catch {
    // The badge is a hint; the view shows errors itself.
  }
}

export function setCounts(c: ReminderCounts | undefined): void {
  if (!c) return;
  seq++;
  counts.value = c;
}

effect(() => {
  const id = ownerId.value;
  counts.value = null;
  if (!id) return;
  void refreshCounts();
  return live.listen(`inbox.${id}`, (m) => {
    if (m.kind !== 'reminder') return;
    arrived.value = m;
    void refreshCounts();
  });
});
