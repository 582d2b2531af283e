/**
 * A recommendation's outcome in words: delivered (and on what basis), refused with the suitability
 * reason (the levels compared, and the text of its stable code), awaiting compliance approval, or
 * rejected. Used for the answer to a send and for the list of sent recommendations.
 */
import { errorText, t, tOr } from '../../../i18n/i18n.ts';

export interface OutcomeLike {
  outcome: string;
  code?: string | null;
  basis?: string | null;
  clientRisk?: string | null;
  productRisk?: string;
}

export function reasonOf(o: OutcomeLike): string {
  if (o.code === 'QIAO_SUITABILITY_MISMATCH' && o.clientRisk && o.productRisk) return `${t('desk_mismatch', { r: o.productRisk, c: o.clientRisk })} — ${errorText(o.code)}`;
  if (o.code) return errorText(o.code);
  if (o.outcome === 'pending_approval') return t('desk_awaitingApprovalHint');
  if (o.outcome === 'delivered' && o.basis) return tOr(`desk_basis_${o.basis}`, o.basis);
  return '';
}

export function OutcomeBadge(props: { outcome: string; testid?: string }) {
  return (
    <span class={`badge desk-outcome desk-outcome--${props.outcome}`} data-testid={props.testid}>
      {tOr(`desk_outcome_${props.outcome}`, props.outcome)}
    </span>
  );
}
