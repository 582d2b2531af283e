/**
 * The note being composed, kept outside the view so it survives a language switch, a visit to the notes
 * list, and a refused publish (DLP): only a successful publish or logout clears it. The Idempotency-Key
 * belongs to the draft as it is now: a retry of the same submit reuses it, any edit makes a new one.
 */
import { signal } from '@preact/signals';
import { onLogout } from '../../../app/session.ts';
import { requestKey } from '../recommendations/request-key.ts';

import type { Risk } from '../../../ui/ui.tsx';

export type { Risk };

export interface Draft {
  channel: string;
  title: string;
  summary: string;
  body: string;
  tickers: string[];
  riskLevel: Risk;
}

const EMPTY: Draft = { channel: '', title: '', summary: '', body: '', tickers: [], riskLevel: 'R3' };

export const draft = signal<Draft>(EMPTY);
/** Idempotency-Key of the draft as it is now. */
export const draftKey = signal<string>(requestKey());

export function editDraft(patch: Partial<Draft>): void {
  draft.value = { ...draft.value, ...patch };
  draftKey.value = requestKey();
}

export function clearDraft(): void {
  draft.value = { ...EMPTY, channel: draft.value.channel };
  draftKey.value = requestKey();
}

/** The payload the server validates (channels/payloads.ts ResearchNotePayload). */
export function notePayload(d: Draft) {
  return { title: d.title.trim(), summary: d.summary.trim(), body: d.body, tickers: d.tickers, riskLevel: d.riskLevel };
}

onLogout(() => {
  draft.value = EMPTY;
  draftKey.value = requestKey();
});
