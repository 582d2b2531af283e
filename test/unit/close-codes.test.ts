/**
 * Close codes by range (src/errors/close-codes.ts): every catalogue entry's close code falls in the
 * range of its kind, the socket-ending codes keep distinct numbers, and docs/protocol.md's table is
 * the one generated from the catalogue.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CLOSE_CODES, CLOSE_RANGES, RECONNECT_RANGE, STOP_RANGE, closeAction, closeRange, errorCloseScope, expectedCloseScope } from '../../src/errors/close-codes.ts';
import { ERRORS, type ErrorCode } from '../../src/errors/codes.ts';
import { closeTableBlock, withCloseTable } from '../../src/docs/close-code-table.ts';

const entries = Object.entries(ERRORS) as [ErrorCode, (typeof ERRORS)[ErrorCode]][];

describe('close code ranges', () => {
  it('the ranges tile 4000–4999 without overlap: the lower half reconnects, the upper half stops', () => {
    let next = 4000;
    for (const r of CLOSE_RANGES) {
      expect(r.min).toBe(next);
      expect(r.action).toBe(r.max <= RECONNECT_RANGE.max ? 'reconnect' : 'stop');
      next = r.max + 1;
    }
    expect(next).toBe(STOP_RANGE.max + 1);
    expect(closeAction(4499)).toBe('reconnect');
    expect(closeAction(4500)).toBe('stop');
    // The transport's own codes: reconnect.
    for (const c of [1000, 1001, 1006, 1009, 1011]) expect(closeAction(c)).toBe('reconnect');
  });

  it.each(entries)('%s closes in the range of its kind', (code, def) => {
    const scope = expectedCloseScope(code, def);
    const range = closeRange(def.wsClose);
    expect(range?.scope, `${code} (${def.status}) closes with ${def.wsClose}`).toBe(scope);
    // Reconnect exactly when waiting may help: server trouble (5xx) and throttling (429).
    expect(closeAction(def.wsClose)).toBe(def.status >= 500 || def.status === 429 ? 'reconnect' : 'stop');
  });

  it('the catalogue follows the numbering rule: the HTTP status in the last digits', () => {
    for (const [code, def] of entries) {
      const scope = expectedCloseScope(code, def);
      if (scope === 'request') expect(def.wsClose, code).toBe(4800 + (def.status - 400));
      if (scope === 'forbidden') expect(def.wsClose, code).toBe(4703);
      if (scope === 'throttled') expect(def.wsClose, code).toBe(4229);
    }
  });

  it('the codes that end sockets keep distinct numbers, with the documented values', () => {
    const socketEnding: Partial<Record<ErrorCode, number>> = {
      QIAO_AUTH_REQUIRED: 4601,
      QIAO_TOKEN_MALFORMED: 4602,
      QIAO_TOKEN_EXPIRED: 4603,
      QIAO_TOKEN_INVALID_SIGNATURE: 4605,
      QIAO_SESSION_REVOKED: 4606,
      QIAO_ACCOUNT_DISABLED: 4607,
      QIAO_SLOW_CONSUMER: 4008,
      QIAO_RATE_LIMITED: 4229,
      QIAO_DRAINING: 4103,
      QIAO_INTERNAL: 4100,
    };
    for (const [code, close] of Object.entries(socketEnding)) expect(ERRORS[code as ErrorCode].wsClose, code).toBe(close);
    // Distinct meanings, distinct numbers (DRAINING shares with UNAVAILABLE: both "this node, now").
    const nums = Object.values(socketEnding);
    expect(new Set(nums).size).toBe(nums.length);
    // No code outside the documented auth reasons uses one of their numbers.
    for (const [code, def] of entries) {
      if (def.wsClose >= 4602 && def.wsClose <= 4699) expect(socketEnding[code], code).toBe(def.wsClose);
    }
  });

  it('codes that had a close code of their own still do (a new number, same uniqueness)', () => {
    const own: ErrorCode[] = ['QIAO_TOKEN_MALFORMED', 'QIAO_TOKEN_EXPIRED', 'QIAO_TOKEN_INVALID_SIGNATURE', 'QIAO_SESSION_REVOKED', 'QIAO_ACCOUNT_DISABLED', 'QIAO_SLOW_CONSUMER', 'QIAO_RECOVERY_GAP', 'QIAO_PAYLOAD_TOO_LARGE', 'QIAO_INTERNAL'];
    for (const code of own) {
      const sharing = entries.filter(([c, def]) => c !== code && def.wsClose === ERRORS[code].wsClose).map(([c]) => c);
      expect(sharing, code).toEqual([]);
    }
  });

  it('CLOSE_CODES is the catalogue, entry for entry', () => {
    expect(Object.keys(CLOSE_CODES).sort()).toEqual(Object.keys(ERRORS).sort());
    for (const [code, def] of entries) expect(CLOSE_CODES[code]).toBe(def.wsClose);
  });

  it("docs/protocol.md's hand-written rows (`| `CODE` | close |`) agree with the catalogue", () => {
    const doc = readFileSync(new URL('../../docs/protocol.md', import.meta.url), 'utf8');
    const rows = [...doc.matchAll(/^\| `(QIAO_[A-Z_]+)` \| (\d{4}) \|/gm)];
    expect(rows.length).toBeGreaterThanOrEqual(9);
    for (const [, code, close] of rows) expect(Number(close), code).toBe(ERRORS[code as ErrorCode].wsClose);
  });

  it('docs/protocol.md carries the table generated from the catalogue (run `npm run gen:docs`)', () => {
    const doc = readFileSync(new URL('../../docs/protocol.md', import.meta.url), 'utf8');
    expect(withCloseTable(doc)).toBe(doc);
    const block = closeTableBlock();
    for (const [code, def] of entries) expect(block).toMatch(new RegExp(`\\| ${def.wsClose} \\|[^\\n]*\`${code}\``));
  });
});

describe('errorCloseScope (the web client logs out on an auth stop)', () => {
  it('names the scope of catalogue codes and nothing for unknown ones', () => {
    expect(errorCloseScope('QIAO_TOKEN_EXPIRED')).toBe('auth');
    expect(errorCloseScope('QIAO_ACCOUNT_DISABLED')).toBe('auth');
    expect(errorCloseScope('QIAO_FORBIDDEN')).toBe('forbidden');
    expect(errorCloseScope('QIAO_DRAINING')).toBe('node');
    expect(errorCloseScope('QIAO_NOT_A_CODE')).toBeUndefined();
  });
});
