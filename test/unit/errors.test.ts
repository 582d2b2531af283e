import { describe, expect, it } from 'vitest';
import { ERRORS, QiaoError, toQiaoError } from '../../src/errors/codes.ts';

describe('error catalogue', () => {
  it('every code has an HTTP status and an application WebSocket close code', () => {
    for (const [code, def] of Object.entries(ERRORS)) {
      expect(code).toMatch(/^QIAO_[A-Z_]+$/);
      expect(def.status).toBeGreaterThanOrEqual(400);
      expect(def.status).toBeLessThan(600);
      expect(def.wsClose).toBeGreaterThanOrEqual(4000);
      expect(def.wsClose).toBeLessThan(5000);
      expect(def.message.length).toBeGreaterThan(0);
    }
  });

  it('the token failures close with distinct codes', () => {
    const closes = ['QIAO_TOKEN_MALFORMED', 'QIAO_TOKEN_EXPIRED', 'QIAO_TOKEN_INVALID_SIGNATURE'].map((c) => ERRORS[c as keyof typeof ERRORS].wsClose);
    expect(new Set(closes).size).toBe(3);
  });

  it('unknown errors become QIAO_INTERNAL without leaking their message', () => {
    const e = toQiaoError(new Error('password=hunter2 at db.ts:12'));
    expect(e.code).toBe('QIAO_INTERNAL');
    expect(JSON.stringify(e.toJSON())).not.toContain('hunter2');
    expect(toQiaoError(new QiaoError('QIAO_RATE_LIMITED')).code).toBe('QIAO_RATE_LIMITED');
  });
});
