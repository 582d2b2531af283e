/** DLP matching: normalisation (full-width, case, spaces between CJK, zero-width, dashes) and actions. */
import { describe, expect, it } from 'vitest';
import { DlpMatcher, normalizeDlp, termLang } from '../../src/compliance/dlp.ts';

const m = new DlpMatcher([
  { term: '保本', action: 'block' },
  { term: '稳赚', action: 'block' },
  { term: '保证收益', action: 'block' },
  { term: 'guaranteed return', action: 'block' },
  { term: '零风险', action: 'warn' },
  { term: 'risk-free', action: 'warn' },
  { term: '翻倍', action: 'log' },
]);

describe('normalizeDlp', () => {
  it('folds full-width to half-width and upper to lower case', () => {
    expect(normalizeDlp('ＧＵＡＲＡＮＴＥＥＤ　ＲＥＴＵＲＮ')).toBe('guaranteed return');
    expect(normalizeDlp('Risk‐Free')).toBe('risk-free');
  });

  it('removes whitespace between CJK characters but keeps it between words', () => {
    expect(normalizeDlp('保 本')).toBe('保本');
    expect(normalizeDlp('保　本')).toBe('保本');
    expect(normalizeDlp('保 \t\n 证 收  益')).toBe('保证收益');
    expect(normalizeDlp('guaranteed   \n return')).toBe('guaranteed return');
    expect(normalizeDlp('买 A 股')).toBe('买 a 股');
  });

  it('removes zero-width characters', () => {
    expect(normalizeDlp('保\u200b本')).toBe('保本');
    expect(normalizeDlp('稳\ufeff赚')).toBe('稳赚');
  });
});

describe('DlpMatcher', () => {
  it('finds block terms however they are spaced or written', () => {
    for (const text of ['本产品保本', '保 本 保 息', '本基金稳　赚', '承诺保证 收益', 'A GUARANTEED RETURN of 8%', 'ｇｕａｒａｎｔｅｅｄ ｒｅｔｕｒｎｓ', '保\u200d本']) {
      expect(m.scan(text).block.length, text).toBeGreaterThan(0);
    }
  });

  it('sorts hits by action and reports the dictionary term', () => {
    expect(m.scan('零风险，保本，收益翻倍，risk‑free 也是 Risk-Free')).toEqual({ block: ['保本'], warn: ['零风险', 'risk-free'], log: ['翻倍'] });
  });

  it('does not match across unrelated text', () => {
    expect(m.scan('保险本金')).toEqual({ block: [], warn: [], log: [] });
    expect(m.scan('guaranteed, with a return')).toEqual({ block: [], warn: [], log: [] });
    expect(m.scan('')).toEqual({ block: [], warn: [], log: [] });
  });

  it('ignores terms that normalise to nothing', () => {
    expect(new DlpMatcher([{ term: ' \u200b ', action: 'block' }]).size).toBe(0);
  });

  it('infers the language of a term', () => {
    expect(termLang('保本')).toBe('zh');
    expect(termLang('guaranteed return')).toBe('en');
  });
});
