/**
 * Mobile numbers for SMS: mainland China only (+86, 11 digits starting 13–19), stored in E.164
 * ('+8613812345678'). Input may be the 11 digits alone, with +86 / 86 / 0086, and with spaces or
 * hyphens between groups; anything else is QIAO_PHONE_INVALID.
 */
import { QiaoError } from '../errors/codes.ts';

/** A stored (normalised) number. */
export const CN_MOBILE_RE = /^\+861[3-9]\d{9}$/;

/** The normalised number, or null when `raw` is not a mainland mobile number. */
export function parseCnMobile(raw: string): string | null {
  const compact = raw.trim().replace(/[\s-]/g, '');
  const m = /^(?:\+86|0086|86)?(1[3-9]\d{9})$/.exec(compact);
  return m ? `+86${m[1]}` : null;
}

/** The normalised number; throws QIAO_PHONE_INVALID. */
export function normaliseCnMobile(raw: string): string {
  const p = parseCnMobile(raw);
  if (!p) throw new QiaoError('QIAO_PHONE_INVALID', `Not a mainland China mobile number: ${JSON.stringify(raw.slice(0, 40))}`);
  return p;
}
