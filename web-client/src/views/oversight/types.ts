/**
 * The answers the oversight views read, named once from the generated API types (never re-declared),
 * and small readers of their untyped parts (approval payloads, archive record bodies).
 */
import type { Answer } from '../../api/api.ts';

export type Approval = NonNullable<Answer<'/api/approvals', 'get'>['approvals']>[number];
export type ArchivePage = Answer<'/api/compliance/archive', 'get'>;
export type ArchiveRecord = NonNullable<ArchivePage['records']>[number];
export type People = NonNullable<ArchivePage['people']>;
export type Hold = NonNullable<Answer<'/api/compliance/legal-holds', 'get'>['holds']>[number];
export type DlpTerm = NonNullable<Answer<'/api/compliance/dlp-terms', 'get'>['terms']>[number];
export type DeadLetter = NonNullable<Answer<'/api/admin/dead-letters', 'get'>['deadLetters']>[number];
export type Deliveries = Answer<'/api/deliveries', 'get'>;

export const DLP_ACTIONS = ['block', 'warn', 'log'] as const;
export type DlpAction = (typeof DLP_ACTIONS)[number];

export const QUEUES = ['fanout', 'email', 'push', 'digest', 'escalation', 'alerts'] as const;
export type QueueName = (typeof QUEUES)[number];

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/** What an approval asks for: a broadcast's title and body, or a recommendation batch's security and rationale. */
export function approvalContent(a: Approval): { title: string; body?: string; detail: string[]; clients?: number } {
  const p: Obj = isObj(a.payload) ? a.payload : {};
  if (a.kind === 'broadcast') {
    const inner: Obj = isObj(p.payload) ? p.payload : {};
    return { title: str(inner.title) ?? '', body: str(inner.body), detail: [str(p.channel), str(inner.severity)].filter((x): x is string => Boolean(x)) };
  }
  return {
    title: [str(p.security), str(p.productName)].filter(Boolean).join(' · '),
    body: str(p.rationale),
    detail: [str(p.productRisk)].filter((x): x is string => Boolean(x)),
    clients: typeof p.clientCount === 'number' ? p.clientCount : undefined,
  };
}

/** A person of an archive answer as 名字（login）, or the id when the answer does not name them. */
export function personName(people: People | undefined, id: string | null | undefined): string {
  if (!id) return '';
  const p = people?.[id];
  return p?.displayName ? `${p.displayName}（${p.login ?? id}）` : id;
}

/** The publication inside an archived message record (body is the publication frame). */
export function recordMessage(r: ArchiveRecord): { id?: string; kind?: string; ref?: string; text?: string } {
  const b: Obj = isObj(r.body) ? r.body : {};
  const pl: Obj = isObj(b.payload) ? b.payload : {};
  return { id: str(b.id), kind: str(b.kind), ref: str(pl.ref), text: str(pl.text) };
}

/** DLP hits recorded on a message record, by action. */
export function recordDlp(r: ArchiveRecord): Partial<Record<DlpAction, string[]>> {
  const d = isObj(r.body) && isObj(r.body.dlp) ? r.body.dlp : null;
  if (!d) return {};
  const out: Partial<Record<DlpAction, string[]>> = {};
  for (const k of DLP_ACTIONS) {
    const v = d[k];
    if (Array.isArray(v) && v.length) out[k] = v.filter((x): x is string => typeof x === 'string');
  }
  return out;
}

export function randomKey(): string {
  return typeof crypto !== 'undefined' && 'randomUUID' in crypto ? crypto.randomUUID() : `${Date.now()}-${Math.random().toString(36).slice(2)}`;
}
