/**
 * Research notes: `research.<category>` and `research.sector.<sector>`.
 * Entitlement: some categories are for HNW and institutional clients only; staff see everything.
 * Published by the research desk (and admin).
 */
import type { Tier } from '../src/auth/principal.ts';
import { DAY_MS, STAFF_ROLES, type ChannelFamily, type ParsedChannel, type Title } from './family.ts';
import { ResearchNotePayload, kind } from './payloads.ts';

const TIER_RANK: Record<Tier, number> = { general: 0, hnw: 1, institutional: 2 };

export const RESEARCH_CATEGORIES: Record<string, Title & { minTier: Tier }> = {
  macro: { zh: '宏观研究', en: 'Macro', minTier: 'general' },
  strategy: { zh: '策略研究', en: 'Strategy', minTier: 'general' },
  'fixed-income': { zh: '固定收益', en: 'Fixed income', minTier: 'general' },
  'morning-brief': { zh: '晨会纪要', en: 'Morning brief', minTier: 'general' },
  quant: { zh: '量化研究', en: 'Quant', minTier: 'hnw' },
  derivatives: { zh: '衍生品研究', en: 'Derivatives', minTier: 'hnw' },
  institutional: { zh: '机构专享', en: 'Institutional only', minTier: 'institutional' },
};

export const SECTORS: Record<string, Title> = {
  consumer: { zh: '消费', en: 'Consumer' },
  tech: { zh: '科技', en: 'Technology' },
  finance: { zh: '金融', en: 'Financials' },
  healthcare: { zh: '医药', en: 'Healthcare' },
  energy: { zh: '能源', en: 'Energy' },
  materials: { zh: '材料', en: 'Materials' },
  industrials: { zh: '工业', en: 'Industrials' },
  property: { zh: '地产', en: 'Property' },
};

function minTier(ch: ParsedChannel): Tier {
  return ch.parts.category ? RESEARCH_CATEGORIES[ch.parts.category].minTier : 'general';
}

export const research: ChannelFamily<'research'> = {
  family: 'research',
  description: { zh: '研究报告', en: 'Research notes' },
  parse(name): ParsedChannel | null {
    const m = /^research\.(?:sector\.([a-z-]{1,32})|([a-z-]{1,32}))$/.exec(name);
    if (!m) return null;
    if (m[1] !== undefined) return SECTORS[m[1]] ? { name, family: 'research', parts: { sector: m[1] } } : null;
    return RESEARCH_CATEGORIES[m[2]] ? { name, family: 'research', parts: { category: m[2] } } : null;
  },
  title(ch) {
    if (ch.parts.sector) {
      const s = SECTORS[ch.parts.sector];
      return { zh: `行业研究 · ${s.zh}`, en: `Sector · ${s.en}` };
    }
    const c = RESEARCH_CATEGORIES[ch.parts.category];
    return { zh: c.zh, en: c.en };
  },
  async canSubscribe(p, ch) {
    if (STAFF_ROLES.has(p.role)) return null;
    if (p.role !== 'client') return 'QIAO_SUBSCRIBE_FORBIDDEN';
    const tier = p.tier ?? 'general';
    return TIER_RANK[tier] >= TIER_RANK[minTier(ch)] ? null : 'QIAO_ENTITLEMENT_REQUIRED';
  },
  async canPublish(p) {
    return p.role === 'research' || p.role === 'admin' ? null : 'QIAO_PUBLISH_FORBIDDEN';
  },
  kinds: { note: kind(ResearchNotePayload) },
  historySize: 200,
  historyTtlMs: 7 * DAY_MS,
  retentionDays: 20 * 365,
  retentionClass: 'research',
  recipients: { kind: 'subscribers', tierGated: true },
  delivery: {
    preferenceCategory: true,
    defaultTransports: { web: true, inbox: true, email: false, push: false, sms: false },
    criticalSms: false,
    categoryByKind: {},
    pushUrgency: 'low',
  },
  listFor() {
    return [
      ...Object.keys(RESEARCH_CATEGORIES).map((c) => ({ name: `research.${c}`, family: 'research', parts: { category: c } })),
      ...Object.keys(SECTORS).map((s) => ({ name: `research.sector.${s}`, family: 'research', parts: { sector: s } })),
    ];
  },
};

/** Whether a tier may receive a research channel (used by fanout for entitlement re-checks). */
export function tierEntitled(tier: Tier, ch: ParsedChannel): boolean {
  return TIER_RANK[tier] >= TIER_RANK[minTier(ch)];
}
