/**
 * Follow-up rules (回访规则): the regulator's floor built in per firm, tunable by admin and compliance.
 *
 * - `new_account`: every new account followed up within `withinDays` (30) of opening;
 * - `annual_sample`: at least `percent` (10) % of existing clients each calendar year, per branch;
 * - `periodic`: every client of `tier` once every `everyDays` (built in: HNW, 90 days). More periodic
 *   rules (one per tier) can be added.
 *
 * Built-in rules are created on first use (`ensureDefaults`, under a per-firm advisory lock, so nodes
 * racing at start make them once) and can be switched off but not deleted. Every change is archived.
 */
import { and, asc, eq } from 'drizzle-orm';
import type { Principal } from '../auth/principal.ts';
import { lockKey } from '../advisory/common.ts';
import { QiaoError } from '../errors/codes.ts';
import type { ArchiveRepo } from '../store/archive-repo.ts';
import type { Db } from '../store/db.ts';
import { followupRules } from '../store/schema/index.ts';

export type RuleKind = 'new_account' | 'annual_sample' | 'periodic';
export type ClientTier = 'general' | 'hnw' | 'institutional';
export const TIERS: readonly ClientTier[] = ['general', 'hnw', 'institutional'];

export interface NewAccountParams {
  withinDays: number;
}
export interface AnnualSampleParams {
  percent: number;
}
export interface PeriodicParams {
  tier: ClientTier;
  everyDays: number;
}
export type RuleParams = NewAccountParams | AnnualSampleParams | PeriodicParams;

export type RuleRow = typeof followupRules.$inferSelect;

export interface RuleView {
  id: string;
  code: string;
  kind: RuleKind;
  params: Record<string, unknown>;
  independent: boolean;
  active: boolean;
  builtin: boolean;
  updatedBy: string | null;
  updatedAt: string;
}

/** The regulator's floor (built in for every firm). */
export const DEFAULT_RULES: ReadonlyArray<{ code: string; kind: RuleKind; params: RuleParams }> = [
  { code: 'new_account', kind: 'new_account', params: { withinDays: 30 } },
  { code: 'annual_sample', kind: 'annual_sample', params: { percent: 10 } },
  { code: 'periodic_hnw', kind: 'periodic', params: { tier: 'hnw', everyDays: 90 } },
];

const isInt = (v: unknown, min: number, max: number): v is number => typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;

/** Checks a rule's complete params for its kind; anything else is QIAO_FOLLOWUP_RULE_INVALID. */
export function validParams(kind: RuleKind, params: unknown): RuleParams {
  const bad = (why: string) => new QiaoError('QIAO_FOLLOWUP_RULE_INVALID', why);
  if (!params || typeof params !== 'object' || Array.isArray(params)) throw bad('params must be an object');
  const p = params as Record<string, unknown>;
  const keys = Object.keys(p).sort().join(',');
  switch (kind) {
    case 'new_account':
      if (keys !== 'withinDays') throw bad('new_account params: {withinDays}');
      if (!isInt(p.withinDays, 1, 366)) throw bad('withinDays: a whole number of days, 1–366');
      return { withinDays: p.withinDays };
    case 'annual_sample':
      if (keys !== 'percent') throw bad('annual_sample params: {percent}');
      if (!isInt(p.percent, 1, 100)) throw bad('percent: a whole number, 1–100');
      return { percent: p.percent };
    case 'periodic':
      if (keys !== 'everyDays,tier') throw bad('periodic params: {tier, everyDays}');
      if (!TIERS.includes(p.tier as ClientTier)) throw bad('tier: general, hnw or institutional');
      if (!isInt(p.everyDays, 1, 366)) throw bad('everyDays: a whole number of days, 1–366');
      return { tier: p.tier as ClientTier, everyDays: p.everyDays };
  }
}

export function ruleView(r: RuleRow): RuleView {
  return {
    id: r.id,
    code: r.code,
    kind: r.kind,
    params: r.params as Record<string, unknown>,
    independent: r.independent,
    active: r.active,
    builtin: r.builtin,
    updatedBy: r.updatedBy,
    updatedAt: r.updatedAt.toISOString(),
  };
}

export class FollowupRules {
  constructor(private readonly d: { db: Db; archive: ArchiveRepo }) {}

  /** The firm's rules, the built-in ones created first if missing. */
  async ensureDefaults(firmId: string): Promise<RuleRow[]> {
    const have = await this.rows(firmId);
    if (DEFAULT_RULES.every((x) => have.some((r) => r.code === x.code))) return have;
    await this.d.db.transaction(async (tx) => {
      await lockKey(tx, `followup-rules:${firmId}`);
      const cur = await tx.select({ code: followupRules.code }).from(followupRules).where(eq(followupRules.firmId, firmId));
      const missing = DEFAULT_RULES.filter((x) => !cur.some((r) => r.code === x.code));
      if (missing.length) {
        await tx.insert(followupRules).values(missing.map((x) => ({ firmId, code: x.code, kind: x.kind, params: x.params, independent: true, active: true, builtin: true })));
      }
    });
    return this.rows(firmId);
  }

  async list(p: Principal): Promise<RuleView[]> {
    if (p.role === 'client' || p.role === 'feed' || p.role === 'research' || !p.firmId) throw new QiaoError('QIAO_FORBIDDEN', 'Follow-up rules are for staff');
    return (await this.ensureDefaults(p.firmId)).map(ruleView);
  }

  async update(p: Principal, id: string, patch: { params?: unknown; active?: boolean; independent?: boolean }, now = new Date()): Promise<RuleView> {
    this.mustSet(p);
    await this.ensureDefaults(p.firmId!);
    const [cur] = await this.d.db
      .select()
      .from(followupRules)
      .where(and(eq(followupRules.id, id.toLowerCase()), eq(followupRules.firmId, p.firmId!)))
      .limit(1);
    if (!cur) throw new QiaoError('QIAO_NOT_FOUND', 'No such follow-up rule');
    if (patch.params === undefined && patch.active === undefined && patch.independent === undefined) {
      throw new QiaoError('QIAO_FOLLOWUP_RULE_INVALID', 'Nothing to change: params, active or independent');
    }
    // A partial params object is merged into the stored one, then the whole is checked.
    const merged = patch.params === undefined ? cur.params : { ...(cur.params as object), ...(typeof patch.params === 'object' && patch.params && !Array.isArray(patch.params) ? patch.params : { invalid: patch.params }) };
    const params = validParams(cur.kind, merged);
    if (cur.kind === 'periodic' && (params as PeriodicParams).tier !== (cur.params as PeriodicParams).tier) {
      await this.assertTierFree(p.firmId!, (params as PeriodicParams).tier, cur.id);
    }
    return this.d.db.transaction(async (tx) => {
      const [u] = await tx
        .update(followupRules)
        .set({ params, active: patch.active ?? cur.active, independent: patch.independent ?? cur.independent, updatedBy: p.id, updatedAt: now })
        .where(eq(followupRules.id, cur.id))
        .returning();
      await this.d.archive.append(
        {
          kind: 'followup.rule',
          actorId: p.id,
          subjects: [p.id],
          retentionClass: 'client-followups',
          body: { ruleId: cur.id, code: cur.code, from: { params: cur.params, active: cur.active, independent: cur.independent }, to: { params, active: u.active, independent: u.independent } },
          recordedAt: now,
        },
        tx,
      );
      return ruleView(u);
    });
  }

  /** Adds a periodic rule for a tier (one per tier). */
  async addPeriodic(p: Principal, body: { tier: unknown; everyDays: unknown; independent?: boolean }, now = new Date()): Promise<RuleView> {
    this.mustSet(p);
    const params = validParams('periodic', { tier: body.tier, everyDays: body.everyDays }) as PeriodicParams;
    await this.ensureDefaults(p.firmId!);
    return this.d.db.transaction(async (tx) => {
      await lockKey(tx, `followup-rules:${p.firmId}`);
      await this.assertTierFree(p.firmId!, params.tier, null, tx);
      const [r] = await tx
        .insert(followupRules)
        .values({ firmId: p.firmId!, code: `periodic_${params.tier}`, kind: 'periodic', params, independent: body.independent ?? true, active: true, builtin: false, updatedBy: p.id, createdAt: now, updatedAt: now })
        .returning();
      await this.d.archive.append(
        { kind: 'followup.rule', actorId: p.id, subjects: [p.id], retentionClass: 'client-followups', body: { ruleId: r.id, code: r.code, from: null, to: { params, active: true, independent: r.independent } }, recordedAt: now },
        tx,
      );
      return ruleView(r);
    });
  }

  private async assertTierFree(firmId: string, tier: ClientTier, exceptId: string | null, tx: Pick<Db, 'select'> = this.d.db): Promise<void> {
    const rules = await tx.select().from(followupRules).where(and(eq(followupRules.firmId, firmId), eq(followupRules.kind, 'periodic')));
    if (rules.some((r) => r.id !== exceptId && (r.params as PeriodicParams).tier === tier)) {
      throw new QiaoError('QIAO_FOLLOWUP_RULE_INVALID', `There is already a periodic rule for tier ${tier}`);
    }
  }

  private mustSet(p: Principal): void {
    if ((p.role !== 'admin' && p.role !== 'compliance') || !p.firmId) throw new QiaoError('QIAO_FORBIDDEN', 'Follow-up rules are set by admin and compliance');
  }

  private rows(firmId: string): Promise<RuleRow[]> {
    return this.d.db.select().from(followupRules).where(eq(followupRules.firmId, firmId)).orderBy(asc(followupRules.createdAt), asc(followupRules.code));
  }
}
