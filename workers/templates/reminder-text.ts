/**
 * A work reminder's (工作提醒) words for email and push, in the recipient's language. Automatic
 * reminders are titled in Chinese when made (src/service/reminder-sweep.ts); here their title is
 * written again from the payload's kind and names, so an English user reads English. A manual
 * reminder keeps its owner's own title.
 */
import type { Lang } from './strings.ts';

export interface ReminderPayloadLike {
  kind?: unknown;
  title?: unknown;
  note?: unknown;
  dueAt?: unknown;
  clientName?: unknown;
  taskTitle?: unknown;
  expiresOn?: unknown;
}

const str = (v: unknown): string => (typeof v === 'string' ? v : '');

function shanghai(isoTime: string, lang: Lang): string {
  const d = new Date(isoTime);
  if (!Number.isFinite(d.getTime())) return isoTime;
  return new Intl.DateTimeFormat(lang, { timeZone: 'Asia/Shanghai', dateStyle: 'medium', timeStyle: 'short' }).format(d);
}

/** The reminder's title in `lang`. */
export function reminderTitle(p: ReminderPayloadLike, lang: Lang): string {
  const title = str(p.title);
  if (lang !== 'en') return title;
  const client = str(p.clientName) || 'A client';
  switch (p.kind) {
    case 'risk_expiry':
      return `${client}'s risk assessment expires on ${str(p.expiresOn) || 'a date within 30 days'}: ask them to reassess`;
    case 'risk_expiry_today':
      return `${client}'s risk assessment expires today`;
    case 'client_waiting':
      return `${client} is waiting for a reply`;
    case 'task_due':
      return `Task "${str(p.taskTitle)}" is due soon`;
    case 'followup_due':
      return `Follow-up call with ${client} is due soon`;
    case 'followup_overdue':
      return `Follow-up with ${client} is overdue`;
    case 'complaint_overdue':
      return 'A complaint is overdue';
    default:
      return title;
  }
}

/** Labelled facts of a reminder: due time and the client or task it concerns. */
export function reminderFields(p: ReminderPayloadLike, lang: Lang): Array<{ label: string; value: string }> {
  const en = lang === 'en';
  const out: Array<{ label: string; value: string }> = [];
  if (typeof p.dueAt === 'string') out.push({ label: en ? 'Due' : '提醒时间', value: shanghai(p.dueAt, lang) });
  if (str(p.clientName)) out.push({ label: en ? 'Client' : '客户', value: str(p.clientName) });
  if (str(p.taskTitle)) out.push({ label: en ? 'Task' : '任务', value: str(p.taskTitle) });
  return out;
}

/** One line for a push notification's body: the note, else the due time. */
export function reminderBody(p: ReminderPayloadLike, lang: Lang): string {
  const note = str(p.note).trim();
  if (note) return note;
  return typeof p.dueAt === 'string' ? `${lang === 'en' ? 'Due' : '提醒时间'} ${shanghai(p.dueAt, lang)}` : '';
}
