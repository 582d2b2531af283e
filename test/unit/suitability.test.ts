import { describe, expect, it } from 'vitest';
import { checkSuitability, type ClientRisk, type ProductRisk } from '../../src/domain/suitability.ts';

const NOW = new Date('2026-11-25T10:00:00+08:00');
const C: ClientRisk[] = ['C1', 'C2', 'C3', 'C4', 'C5'];
const R: ProductRisk[] = ['R1', 'R2', 'R3', 'R4', 'R5'];
// The table of the rule itself, written out rather than computed: C1→R1; C2→R1–R2; … C5→R1–R5.
const ALLOWED: Record<ClientRisk, ProductRisk[]> = {
  C1: ['R1'],
  C2: ['R1', 'R2'],
  C3: ['R1', 'R2', 'R3'],
  C4: ['R1', 'R2', 'R3', 'R4'],
  C5: ['R1', 'R2', 'R3', 'R4', 'R5'],
};

describe('suitability gate (all 25 C×R pairs)', () => {
  for (const c of C) {
    for (const r of R) {
      const allowed = ALLOWED[c].includes(r);
      it(`${c} × ${r} → ${allowed ? 'delivered' : 'refused'}`, () => {
        const d = checkSuitability({ clientRisk: c, assessedOn: '2026-03-01', professional: false, productRisk: r, now: NOW });
        expect(d.ok).toBe(allowed);
        if (!d.ok) expect(d.code).toBe('QIAO_SUITABILITY_MISMATCH');
      });
    }
  }

  it('refuses a missing assessment', () => {
    expect(checkSuitability({ clientRisk: null, assessedOn: null, professional: false, productRisk: 'R1', now: NOW })).toEqual({ ok: false, code: 'QIAO_RISK_ASSESSMENT_MISSING' });
    expect(checkSuitability({ clientRisk: 'C5', assessedOn: null, professional: false, productRisk: 'R1', now: NOW })).toEqual({ ok: false, code: 'QIAO_RISK_ASSESSMENT_MISSING' });
  });

  it('refuses an expired assessment, even for a low-risk product', () => {
    expect(checkSuitability({ clientRisk: 'C5', assessedOn: '2024-11-01', professional: false, productRisk: 'R1', now: NOW })).toEqual({ ok: false, code: 'QIAO_RISK_ASSESSMENT_EXPIRED' });
    expect(checkSuitability({ clientRisk: 'C5', assessedOn: '2024-12-01', professional: false, productRisk: 'R1', now: NOW }).ok).toBe(true);
  });

  it('lets professional investors pass, on the professional basis', () => {
    expect(checkSuitability({ clientRisk: 'C1', assessedOn: null, professional: true, productRisk: 'R5', now: NOW })).toEqual({ ok: true, basis: 'professional' });
  });
});
