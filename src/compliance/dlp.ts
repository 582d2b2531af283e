/**
 * DLP dictionary: terms (zh and en) with an action each — block (not sent; the attempt is archived as
 * `dlp.blocked`), warn (sent; the sender is told, the hit is archived with the message), log (sent;
 * the hit is archived with the message).
 *
 * What is screened: every publication by a person (not the market-data feed), on its human-written
 * fields (title, summary, body, text, rationale: `payloadText`), so chat, notices, research notes,
 * forwarded research and recommendation rationales are all covered, and future human kinds too.
 *
 * Matching is on normalised text: NFKC (full-width → half-width), lower case, dashes unified,
 * zero-width characters removed, whitespace collapsed, and whitespace between two CJK characters
 * removed (so '保 本' and '保　本' match 保本). Matching is by substring: over-matching is the safe side.
 *
 * The dictionary is cached per node and reloaded after a change made through this node, and at
 * least every `ttlMs` (changes made on another node are seen within that time).
 */
import { asc, eq } from 'drizzle-orm';
import type { FastifyBaseLogger } from 'fastify';
import type { Principal } from '../auth/principal.ts';
import { retentionForFamily } from '../domain/retention.ts';
import { QiaoError } from '../errors/codes.ts';
import type { ArchiveRepo } from '../store/archive-repo.ts';
import type { Db } from '../store/db.ts';
import { payloadText } from '../store/messages-repo.ts';
import { dlpTerms } from '../store/schema/index.ts';

export type DlpAction = 'block' | 'warn' | 'log';
export type DlpTermRow = typeof dlpTerms.$inferSelect;

export interface DlpHits {
  block: string[];
  warn: string[];
  log: string[];
}

const ZERO_WIDTH = /[\u200b-\u200d\u2060\ufeff\u00ad]/g;
const DASHES = /[\u2010-\u2015\u2212\ufe58\ufe63\uff0d]/g;
const CJK_GAP = /(?<=[\p{Script=Han}])\s+(?=[\p{Script=Han}])/gu;

/** The form both terms and texts are compared in. */
export function normalizeDlp(s: string): string {
  return s
    .normalize('NFKC')
    .replace(ZERO_WIDTH, '')
    .replace(DASHES, '-')
    .toLowerCase()
    .replace(/\s+/g, ' ')
    .replace(CJK_GAP, '')
    .trim();
}

export function termLang(term: string): 'zh' | 'en' {
  return /\p{Script=Han}/u.test(term) ? 'zh' : 'en';
}

interface CompiledTerm {
  term: string;
  norm: string;
  action: DlpAction;
}

/** A compiled dictionary. */
export class DlpMatcher {
  private readonly terms: CompiledTerm[];

  constructor(terms: Array<{ term: string; action: DlpAction }>) {
    this.terms = terms.map((t) => ({ term: t.term, norm: normalizeDlp(t.term), action: t.action })).filter((t) => t.norm.length > 0);
  }

  get size(): number {
    return this.terms.length;
  }

  scan(text: string): DlpHits {
    const hits: DlpHits = { block: [], warn: [], log: [] };
    if (!text) return hits;
    const norm = normalizeDlp(text);
    for (const t of this.terms) if (norm.includes(t.norm)) hits[t.action].push(t.term);
    return hits;
  }
}

export interface ScreenInput {
  channel: string;
  family: string;
  kind: string;
  payload: unknown;
  /** People the publication concerns besides the sender. */
  subjects: string[];
  conversationId?: string;
}

/** Passed on to the message's archive record and to the sender. */
export interface ScreenOutcome {
  hits: DlpHits;
  /** Merged into the archive record of the message when anything matched. */
  archiveNote?: { dlp: { warn: string[]; log: string[] } };
  /** Told to the sender when a warn term matched. */
  reply?: { warn: string[] };
}

export interface DlpServiceOptions {
  ttlMs?: number;
  logger?: FastifyBaseLogger;
  /** Called for each blocked publication (metrics: qiao_dlp_blocks_total). */
  onBlock?: () => void;
}

export class DlpService {
  private cached: { at: number; matcher: DlpMatcher } | null = null;
  private loading: Promise<DlpMatcher> | null = null;
  private generation = 0;
  private readonly ttlMs: number;

  constructor(
    private readonly db: Db,
    private readonly archive: ArchiveRepo,
    private readonly opts: DlpServiceOptions = {},
  ) {
    this.ttlMs = opts.ttlMs ?? 10_000;
  }

  /** Drops the cached dictionary; the next scan reloads it. */
  invalidate(): void {
    this.generation++;
    this.cached = null;
    this.loading = null;
  }

  async matcher(): Promise<DlpMatcher> {
    if (this.cached && Date.now() - this.cached.at < this.ttlMs) return this.cached.matcher;
    if (!this.loading) {
      const gen = this.generation;
      const p = (async () => {
        const rows = await this.db.select({ term: dlpTerms.term, action: dlpTerms.action }).from(dlpTerms).where(eq(dlpTerms.active, true));
        const m = new DlpMatcher(rows);
        // A change made while loading invalidated this load: do not cache a stale dictionary.
        if (gen === this.generation) this.cached = { at: Date.now(), matcher: m };
        return m;
      })();
      this.loading = p;
      p.finally(() => {
        if (this.loading === p) this.loading = null;
      }).catch(() => {});
    }
    return this.loading;
  }

  async scan(text: string): Promise<DlpHits> {
    return (await this.matcher()).scan(text);
  }

  /**
   * Screens a publication before it is stored. Block: archives the attempt (`dlp.blocked`, with the
   * payload, so compliance sees it) and throws QIAO_DLP_BLOCKED naming the terms. Otherwise returns
   * what to note with the message.
   */
  async screen(p: Principal, input: ScreenInput): Promise<ScreenOutcome> {
    const text = payloadText(input.payload);
    let hits: DlpHits;
    try {
      hits = await this.scan(text);
    } catch (err) {
      // Fail closed: without the dictionary nothing human-written is sent.
      this.opts.logger?.error({ err }, 'DLP dictionary could not be loaded');
      throw new QiaoError('QIAO_UNAVAILABLE', 'The DLP dictionary could not be loaded; nothing was sent, retry');
    }
    if (hits.block.length) {
      await this.archive.append({
        kind: 'dlp.blocked',
        actorId: p.id,
        subjects: [p.id, ...input.subjects],
        conversationId: input.conversationId ?? null,
        channel: input.channel,
        retentionClass: retentionForFamily(input.family),
        body: { messageKind: input.kind, payload: input.payload, dlp: hits },
        text,
      });
      this.opts.logger?.info({ actor: p.id, channel: input.channel, terms: hits.block }, 'DLP blocked a publication');
      this.opts.onBlock?.();
      throw new QiaoError('QIAO_DLP_BLOCKED', `Message not sent: it contains the prohibited term${hits.block.length > 1 ? 's' : ''} ${hits.block.map((t) => `"${t}"`).join(', ')}`, {
        terms: hits.block,
      });
    }
    const out: ScreenOutcome = { hits };
    if (hits.warn.length || hits.log.length) out.archiveNote = { dlp: { warn: hits.warn, log: hits.log } };
    if (hits.warn.length) out.reply = { warn: hits.warn };
    return out;
  }

  // ---- dictionary management (compliance and admin; authorised by the route) ----

  async list(): Promise<DlpTermRow[]> {
    return this.db.select().from(dlpTerms).orderBy(asc(dlpTerms.action), asc(dlpTerms.term));
  }

  /** Adds a term or changes its action (the term is kept in NFKC form, so variants are one row). */
  async upsert(actorId: string, input: { term: string; action: DlpAction; lang?: 'zh' | 'en'; note?: string }): Promise<{ term: DlpTermRow; created: boolean }> {
    const term = input.term.normalize('NFKC').replace(/\s+/g, ' ').trim();
    if (!normalizeDlp(term)) throw new QiaoError('QIAO_BAD_REQUEST', 'term must contain a visible character');
    const lang = input.lang ?? termLang(term);
    const result = await this.db.transaction(async (tx) => {
      const [before] = await tx.select().from(dlpTerms).where(eq(dlpTerms.term, term)).limit(1);
      const detail = { ...(before?.detail as Record<string, unknown> | undefined), ...(input.note ? { note: input.note } : {}), updatedBy: actorId };
      const [row] = before
        ? await tx.update(dlpTerms).set({ action: input.action, lang, active: true, detail }).where(eq(dlpTerms.id, before.id)).returning()
        : await tx.insert(dlpTerms).values({ term, lang, action: input.action, detail }).returning();
      await this.archive.append(
        {
          kind: 'dlp.term.set',
          actorId,
          subjects: [actorId],
          retentionClass: 'compliance-activity',
          body: { term, lang, action: input.action, previous: before ? { action: before.action, active: before.active } : null },
        },
        tx,
      );
      return { term: row, created: !before };
    });
    this.invalidate();
    return result;
  }

  /** Removes a term from the dictionary (the archive keeps the history of the change). */
  async remove(actorId: string, id: string): Promise<DlpTermRow> {
    const removed = await this.db.transaction(async (tx) => {
      const [row] = await tx.delete(dlpTerms).where(eq(dlpTerms.id, id)).returning();
      if (!row) throw new QiaoError('QIAO_NOT_FOUND', 'No such DLP term');
      await this.archive.append(
        { kind: 'dlp.term.removed', actorId, subjects: [actorId], retentionClass: 'compliance-activity', body: { term: row.term, lang: row.lang, action: row.action } },
        tx,
      );
      return row;
    });
    this.invalidate();
    return removed;
  }
}
