import { describe, expect, it } from 'vitest';
import { assertPasswordPolicy, passwordWeaknesses } from '../../src/auth/password-policy.ts';

describe('password policy', () => {
  it('accepts long, uncommon passwords that do not contain the login', () => {
    expect(passwordWeaknesses('Granite-Harbor-7731', 'broker1')).toEqual([]);
    expect(passwordWeaknesses('长江后浪推前浪一代新人', 'client1')).toEqual([]);
  });

  it.each([
    ['short1!', 'too_short'],
    ['password123', 'common'],
    ['Password1234!', 'common'],
    ['qiao-demo-2026', 'common'],
    ['1234567890', 'common'],
    ['zhangsan.wang-2026', 'contains_login'],
    ['aaaaaaaaaaaaaa', 'repeated'],
    ['abababababab', 'repeated'],
  ])('%s is refused (%s)', (pw, reason) => {
    expect(passwordWeaknesses(pw, 'zhangsan.wang')).toContain(reason);
    expect(() => assertPasswordPolicy(pw, 'zhangsan.wang')).toThrow(expect.objectContaining({ code: 'QIAO_PASSWORD_WEAK' }));
  });
});
