/**
 * A reminder's title in the page's language: a staff member's own reminder keeps its title; an
 * automatic one (stored in Chinese by the reminder sweep) is written from its kind and names, so an
 * English page reads English.
 */
import { lang, t, type MsgKey } from '../../i18n/i18n.ts';
import type { Reminder } from './reminders-store.ts';

export function reminderTitle(r: Reminder): string {
  if (r.kind === 'manual' || lang.value !== 'en') return r.title;
  if (r.kind === 'risk_expiry' && !r.expiresOn) return r.title;
  return t(`rem_auto_${r.kind}` as MsgKey, { client: r.client?.displayName ?? '', date: r.expiresOn ?? '', task: r.task?.title ?? '' });
}

export function kindLabel(kind: Reminder['kind']): string {
  return t(`rem_kind_${kind}` as MsgKey);
}
