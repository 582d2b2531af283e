/**
 * The web client's one dictionary and its language: zh-CN first, English complete. Areas keep their
 * strings in `messages/<area>.ts` (each checked complete by defineMessages) and are merged here into
 * one key space. The language is a signal, so switching re-renders every view; the choice is kept in
 * localStorage. Error texts are keyed by the error catalogue's codes.
 */
import { signal } from '@preact/signals';
import { ERRORS, type ErrorCode } from '../../../src/errors/codes.ts';
import { ERROR_TEXTS_ZH } from './errors-zh.ts';
import account from './messages/account.ts';
import admin from './messages/admin.ts';
import client from './messages/client.ts';
import common from './messages/common.ts';
import oversight from './messages/oversight.ts';
import staff from './messages/staff.ts';
import service from './messages/service.ts';
import reminders from './messages/reminders.ts';
import followups from './messages/followups.ts';
import complaints from './messages/complaints.ts';
import accountEvents from './messages/account-events.ts';

export type Lang = 'zh-CN' | 'en';

const AREAS = [common, client, staff, oversight, admin, account, service, reminders, followups, complaints, accountEvents] as const;
type AreaKeys<A> = A extends { zh: Readonly<Record<infer K, string>> } ? K : never;
export type MsgKey = AreaKeys<(typeof AREAS)[number]>;

const ZH: Record<string, string> = Object.assign({}, ...AREAS.map((a) => a.zh));
const EN: Record<string, string> = Object.assign({}, ...AREAS.map((a) => a.en));

const STORAGE_KEY = 'qiao.lang';

function storedLang(): Lang {
  try {
    return localStorage.getItem(STORAGE_KEY) === 'en' ? 'en' : 'zh-CN';
  } catch {
    return 'zh-CN';
  }
}

export const lang = signal<Lang>(storedLang());

export function setLang(l: Lang): void {
  lang.value = l;
  document.documentElement.lang = l;
  try {
    localStorage.setItem(STORAGE_KEY, l);
  } catch {
    // Storage disabled: the choice lasts for this page only.
  }
}

function fill(text: string, vars?: Record<string, string | number>): string {
  return vars ? text.replace(/\{(\w+)\}/g, (m, k: string) => (k in vars ? String(vars[k]) : m)) : text;
}

/** The text of a key in the current language, with `{name}` placeholders filled. */
export function t(key: MsgKey, vars?: Record<string, string | number>): string {
  return fill((lang.value === 'en' ? EN : ZH)[key], vars);
}

/** A translation for a dynamic key (e.g. `kind_${kind}`), or the fallback when there is none. */
export function tOr(key: string, fallback: string, vars?: Record<string, string | number>): string {
  const d = lang.value === 'en' ? EN : ZH;
  return Object.hasOwn(d, key) ? fill(d[key], vars) : fallback;
}

export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.hasOwn(ERRORS, code);
}

/** A user-facing message for an error code; a code the catalogue does not know shows the server's message. */
export function errorText(code: string | undefined, message?: string): string {
  if (isErrorCode(code)) return lang.value === 'en' ? ERRORS[code].message : ERROR_TEXTS_ZH[code];
  return message || t('unknownError');
}

/** A `{ zh, en }` title in the current language. */
export function titleOf(title: { zh: string; en: string } | undefined | null, fallback: string): string {
  if (!title) return fallback;
  return lang.value === 'en' ? title.en || title.zh : title.zh || title.en;
}
