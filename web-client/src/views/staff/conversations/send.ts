/**
 * Writing in a conversation (chat, chat.edit, chat.recall) over REST, with an Idempotency-Key so a
 * retried request is not sent twice. DLP: a refusal (QIAO_DLP_BLOCKED) carries the blocked terms in
 * the error's `details.terms` (src/compliance/dlp.ts); a message sent with warn-level terms answers
 * `dlp.warn`. The message itself comes back on the live subscription like everyone else's.
 */
import { api, call } from '../../../api/api.ts';

export type ChatKind = 'chat' | 'chat.edit' | 'chat.recall';

function key(): string {
  return typeof crypto.randomUUID === 'function' ? crypto.randomUUID() : `${Date.now()}-${Math.random().toString(36).slice(2)}`;
}

/** Sends; resolves with the DLP warn terms the text matched (empty when none). */
export async function sendChat(conversationId: string, kind: ChatKind, payload: Record<string, string>): Promise<string[]> {
  const r = await call(
    api.POST('/api/conversations/{id}/messages', {
      params: { path: { id: conversationId }, header: { 'idempotency-key': key() } },
      // The route declares `payload: {type:'object'}` without properties, which the generator types as an empty record.
      body: { kind, payload: payload as Record<string, never> },
    }),
  );
  return warnTerms((r as { dlp?: unknown }).dlp);
}

export function warnTerms(dlp: unknown): string[] {
  const w = (dlp as { warn?: unknown } | undefined)?.warn;
  return Array.isArray(w) ? w.filter((x): x is string => typeof x === 'string') : [];
}

/** The prohibited terms named by a QIAO_DLP_BLOCKED error (REST ApiError or socket error alike). */
export function blockedTerms(e: unknown): string[] {
  const err = e as { code?: unknown; details?: unknown } | null;
  if (err?.code !== 'QIAO_DLP_BLOCKED') return [];
  const terms = (err.details as { terms?: unknown } | undefined)?.terms;
  return Array.isArray(terms) ? terms.filter((x): x is string => typeof x === 'string') : [];
}
