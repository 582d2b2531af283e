/**
 * Key dates of corporate actions: which dates each type needs, the order they must be in, the
 * deadline its reminders are about, and when those reminders are due (trading days before the
 * deadline, 09:00 Beijing time). Pure.
 */
import type { CORPORATE_ACTION_TYPES } from '../../channels/account-payloads.ts';
import { QiaoError } from '../errors/codes.ts';
import { MARKET_TZ, type Holidays } from '../domain/trading-sessions.ts';
import { addDays, ymd, zonedToInstant } from '../domain/zoned-time.ts';

export type ActionType = (typeof CORPORATE_ACTION_TYPES)[number];

interface DateRule {
  /** Every date the type may carry, in the order they must fall (each not before the previous). */
  order: readonly string[];
  required: readonly string[];
  /** The date reminders count down to; null: no reminders. */
  deadline: string | null;
  label: { zh: string; en: string };
}

export const ACTION_RULES: Readonly<Record<ActionType, DateRule>> = {
  'rights-issue': { order: ['recordDate', 'subscriptionStart', 'subscriptionEnd', 'listingDate'], required: ['recordDate', 'subscriptionStart', 'subscriptionEnd'], deadline: 'subscriptionEnd', label: { zh: '配股', en: 'Rights issue' } },
  'ipo-subscription': { order: ['subscriptionDate', 'paymentDate', 'listingDate'], required: ['subscriptionDate'], deadline: 'subscriptionDate', label: { zh: '新股申购', en: 'IPO subscription' } },
  'ipo-listing': { order: ['listingDate'], required: ['listingDate'], deadline: null, label: { zh: '新股上市', en: 'IPO listing' } },
  'warrant-exercise': { order: ['lastTradingDate', 'exerciseStart', 'exerciseEnd'], required: ['exerciseStart', 'exerciseEnd'], deadline: 'exerciseEnd', label: { zh: '权证行权', en: 'Warrant exercise' } },
  dividend: { order: ['announcementDate', 'recordDate', 'exDate', 'payDate'], required: ['recordDate', 'exDate'], deadline: null, label: { zh: '分红送转', en: 'Dividend / bonus shares' } },
  suspension: { order: ['suspensionDate', 'resumptionDate'], required: ['suspensionDate'], deadline: null, label: { zh: '停牌', en: 'Suspension' } },
  resumption: { order: ['resumptionDate'], required: ['resumptionDate'], deadline: null, label: { zh: '复牌', en: 'Resumption' } },
};

/** Chinese names of the dates (notice texts). */
export const DATE_NAMES_ZH: Readonly<Record<string, string>> = {
  recordDate: '股权登记日',
  subscriptionStart: '缴款起始日',
  subscriptionEnd: '缴款截止日',
  listingDate: '上市日',
  subscriptionDate: '申购日',
  paymentDate: '中签缴款日',
  lastTradingDate: '最后交易日',
  exerciseStart: '行权起始日',
  exerciseEnd: '行权截止日',
  announcementDate: '公告日',
  exDate: '除权除息日',
  payDate: '派息日',
  suspensionDate: '停牌日',
  resumptionDate: '复牌日',
};

function isCalendarDate(s: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s);
  if (!m) return false;
  const d = addDays(Number(m[1]), Number(m[2]), Number(m[3]), 0);
  return ymd(d.year, d.month, d.day) === s;
}

/** Throws QIAO_ACTION_DATES_INVALID unless the dates are the type's, all real dates, required ones present, in order. */
export function checkActionDates(type: ActionType, dates: Record<string, string>): void {
  const rule = ACTION_RULES[type];
  const bad = (m: string) => new QiaoError('QIAO_ACTION_DATES_INVALID', m);
  for (const [k, v] of Object.entries(dates)) {
    if (!rule.order.includes(k)) throw bad(`${type} has no date "${k}" (allowed: ${rule.order.join(', ')})`);
    if (typeof v !== 'string' || !isCalendarDate(v)) throw bad(`${k}: "${String(v)}" is not a calendar date (YYYY-MM-DD)`);
  }
  for (const k of rule.required) if (!dates[k]) throw bad(`${type} needs ${rule.required.join(', ')}; ${k} is missing`);
  let prev: [string, string] | null = null;
  for (const k of rule.order) {
    const v = dates[k];
    if (!v) continue;
    if (prev && v < prev[1]) throw bad(`${k} (${v}) is before ${prev[0]} (${prev[1]})`);
    prev = [k, v];
  }
}

function isTradingDay(d: { year: number; month: number; day: number; weekday: number }, holidays: Holidays): boolean {
  return d.weekday >= 1 && d.weekday <= 5 && !holidays.has(ymd(d.year, d.month, d.day));
}

/** The trading day `n` trading days before `date` (YYYY-MM-DD). */
export function tradingDaysBefore(date: string, n: number, holidays: Holidays): { year: number; month: number; day: number } {
  const [y, m, d] = date.split('-').map(Number);
  let left = n;
  for (let i = 1; i < 60; i++) {
    const c = addDays(y, m, d, -i);
    if (!isTradingDay(c, holidays)) continue;
    if (--left === 0) return c;
  }
  throw new Error('no trading day within 60 days: check QIAO_MARKET_HOLIDAYS');
}

/** Reminder steps (T-2 and T-1 trading days before the deadline, 09:00 Beijing time), only those still ahead of `now`. */
export function reminderSchedule(type: ActionType, dates: Record<string, string>, now: Date, holidays: Holidays): Array<{ step: string; deadline: string; dueAt: Date }> {
  const name = ACTION_RULES[type].deadline;
  const deadline = name ? dates[name] : undefined;
  if (!deadline) return [];
  return [2, 1]
    .map((n) => {
      const d = tradingDaysBefore(deadline, n, holidays);
      return { step: `T-${n}`, deadline, dueAt: zonedToInstant(d.year, d.month, d.day, 9, 0, MARKET_TZ) };
    })
    .filter((r) => r.dueAt.getTime() > now.getTime());
}
