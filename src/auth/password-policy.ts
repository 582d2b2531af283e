/**
 * Password policy (docs/accounts.md): at least 10 characters, not in a small built-in list of common or
 * breached passwords (compared case-insensitively, also with trailing digits and punctuation removed),
 * not the login (nor containing it, case-insensitively), not one repeated character. Violations are
 * QIAO_PASSWORD_WEAK (422) with the reasons in `details.reasons`.
 */
import { QiaoError } from '../errors/codes.ts';

export const PASSWORD_MIN_LENGTH = 10;
export const PASSWORD_MAX_LENGTH = 256;

/** Frequent entries of public breach corpora, plus local favourites (pinyin, the firm's demo password). */
const COMMON = new Set(
  [
    '123456', '123456789', '12345678', '1234567890', '12345', '1234567', 'password', 'password1', 'password123', 'passw0rd',
    'qwerty', 'qwerty123', 'qwertyuiop', '1q2w3e4r', '1q2w3e4r5t', '1qaz2wsx', '1qaz2wsx3edc', 'zaq12wsx', 'abc123', 'abcd1234',
    'abcdefghij', 'aa123456', 'a123456789', 'iloveyou', 'admin', 'admin123', 'administrator', 'welcome', 'welcome1', 'letmein',
    'monkey', 'dragon', 'football', 'baseball', 'sunshine', 'princess', 'superman', 'starwars', 'whatever', 'trustno1',
    'master', 'shadow', 'michael', 'computer', 'internet', 'changeme', 'default', 'secret', 'login', 'guest',
    '000000', '111111', '112233', '121212', '123123', '123321', '654321', '666666', '888888', '987654321',
    '5201314', '1314520', 'woaini', 'woaini1314', 'woaini520', 'wangyang', 'zhangwei', 'liuyang', 'nihao', 'qiao',
    'qiao-demo-2026', 'qiaodemo', 'securities', 'zhengquan', 'gupiao', 'stock', 'stocks', 'trading', 'broker', 'qazwsxedc',
    'p@ssw0rd', 'p@ssword', 'pa$$word', 'password!', 'welcome123', 'changeme123', 'letmein123', 'iloveyou1', 'football1', 'asdfghjkl',
    'asdfasdf', 'zxcvbnm', 'zxcvbnm123', '1234qwer', 'qwer1234', 'q1w2e3r4', 'q1w2e3r4t5', 'a1b2c3d4', 'aaaaaa', 'abcabc',
  ].map((p) => p.toLowerCase()),
);

function core(p: string): string {
  return p.toLowerCase().replace(/[\d\W_]+$/u, '');
}

export type PasswordWeakness = 'too_short' | 'too_long' | 'common' | 'contains_login' | 'repeated';

export function passwordWeaknesses(password: string, login?: string | null): PasswordWeakness[] {
  const out: PasswordWeakness[] = [];
  const chars = [...password];
  if (chars.length < PASSWORD_MIN_LENGTH) out.push('too_short');
  if (chars.length > PASSWORD_MAX_LENGTH) out.push('too_long');
  const lower = password.toLowerCase();
  if (COMMON.has(lower) || COMMON.has(core(password)) || COMMON.has(lower.replace(/^[\d\W_]+|[\d\W_]+$/gu, ''))) out.push('common');
  if (login && login.length >= 3 && lower.includes(login.toLowerCase())) out.push('contains_login');
  if (new Set(chars).size <= 2) out.push('repeated');
  return out;
}

/** Throws QIAO_PASSWORD_WEAK unless the password meets the policy. */
export function assertPasswordPolicy(password: string, login?: string | null): void {
  const reasons = passwordWeaknesses(password, login);
  if (reasons.length) throw new QiaoError('QIAO_PASSWORD_WEAK', undefined, { reasons });
}
