/**
 * The suitability gate of 证券期货投资者适当性管理办法: an ordinary investor may receive a product
 * recommendation only when the product risk (R1–R5) does not exceed the client's risk level (C1–C5):
 * C1→R1; C2→R1–R2; C3→R1–R3; C4→R1–R4; C5→R1–R5. A missing or expired risk assessment refuses the
 * same way. Professional investors pass (and are still recorded). Pure: no I/O, clock passed in.
 */
export type ClientRisk = 'C1' | 'C2' | 'C3' | 'C4' | 'C5';
export type ProductRisk = 'R1' | 'R2' | 'R3' | 'R4' | 'R5';

/** A risk assessment is valid this many days (firm policy; regulators expect periodic reassessment). */
export const ASSESSMENT_VALID_DAYS = 365 * 2;

export interface SuitabilityInput {
  clientRisk: ClientRisk | null;
  /** ISO date (YYYY-MM-DD) of the last assessment. */
  assessedOn: string | null;
  /** ISO date the assessment stops being valid (set by an administrator); absent or null: ASSESSMENT_VALID_DAYS after `assessedOn`. */
  expiresOn?: string | null;
  professional: boolean;
  productRisk: ProductRisk;
  now: Date;
}

export type SuitabilityDecision =
  | { ok: true; basis: 'professional' | 'level' }
  | { ok: false; code: 'QIAO_SUITABILITY_MISMATCH' | 'QIAO_RISK_ASSESSMENT_MISSING' | 'QIAO_RISK_ASSESSMENT_EXPIRED' };

/**
 * The day (YYYY-MM-DD, Asia/Shanghai) from which an assessment no longer counts: `expiresOn` when set,
 * else ASSESSMENT_VALID_DAYS after `assessedOn`; null without an assessment. The reminder sweep warns
 * brokers ahead of it (src/service/reminder-sweep.ts).
 */
export function assessmentExpiresOn(assessedOn: string | null, expiresOn?: string | null): string | null {
  if (expiresOn) return expiresOn;
  if (!assessedOn) return null;
  const t = Date.parse(`${assessedOn}T00:00:00Z`);
  return Number.isFinite(t) ? new Date(t + ASSESSMENT_VALID_DAYS * 86_400_000).toISOString().slice(0, 10) : null;
}

const rank = (level: string): number => Number(level.slice(1));

export function checkSuitability(i: SuitabilityInput): SuitabilityDecision {
  if (i.professional) return { ok: true, basis: 'professional' };
  if (!i.clientRisk || !i.assessedOn) return { ok: false, code: 'QIAO_RISK_ASSESSMENT_MISSING' };
  const assessed = Date.parse(`${i.assessedOn}T00:00:00+08:00`);
  if (!Number.isFinite(assessed)) return { ok: false, code: 'QIAO_RISK_ASSESSMENT_MISSING' };
  if (i.expiresOn) {
    const expires = Date.parse(`${i.expiresOn}T00:00:00+08:00`);
    if (Number.isFinite(expires) && i.now.getTime() >= expires) return { ok: false, code: 'QIAO_RISK_ASSESSMENT_EXPIRED' };
  } else if (i.now.getTime() - assessed > ASSESSMENT_VALID_DAYS * 86_400_000) return { ok: false, code: 'QIAO_RISK_ASSESSMENT_EXPIRED' };
  return rank(i.productRisk) <= rank(i.clientRisk) ? { ok: true, basis: 'level' } : { ok: false, code: 'QIAO_SUITABILITY_MISMATCH' };
}
