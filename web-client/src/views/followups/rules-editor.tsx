/**
 * The follow-up rules of the firm (admin and compliance set them): each rule's parameters, active and
 * independent (PATCH /api/followups/rules/:id), and a new periodic rule for a client tier (POST).
 * Bad values come back as QIAO_FOLLOWUP_RULE_INVALID, shown by the rule.
 */
import { useState } from 'preact/hooks';
import { api, call } from '../../api/api.ts';
import { notify } from '../../app/session.ts';
import { t, tOr } from '../../i18n/i18n.ts';
import { Button, ErrorText, Field, Panel } from '../../ui/ui.tsx';
import { useAction } from '../../ui/use-action.ts';
import { useLoad } from '../../ui/use-load.ts';
import { TIERS, type Rule } from './types.ts';

type Params = Record<string, unknown>;

function RuleRow(props: { rule: Rule; onSaved(r: Rule): void }) {
  const r = props.rule;
  const [params, setParams] = useState<Params>({ ...(r.params ?? {}) });
  const [active, setActive] = useState(!!r.active);
  const [independent, setIndependent] = useState(!!r.independent);
  const act = useAction();
  const num = (key: string, label: string) => (
    <Field label={label}>
      <input type="number" data-testid={`fu-rule-${key}`} value={String(params[key] ?? '')} onInput={(e) => setParams({ ...params, [key]: e.currentTarget.value === '' ? '' : Number(e.currentTarget.value) })} />
    </Field>
  );
  const save = () =>
    void act.run(async () => {
      const out = await call(api.PATCH('/api/followups/rules/{id}', { params: { path: { id: r.id! } }, body: { params, active, independent } }));
      notify(() => t('fu_ruleSaved'));
      if (out.rule) props.onSaved(out.rule);
    });
  return (
    <article class="fu-rule" data-testid="fu-rule" data-code={r.code}>
      <h3 class="fu-rule__title">
        {tOr(`fu_rule_${r.kind ?? ''}`, r.kind ?? '')}
        {r.kind === 'periodic' ? ` · ${tOr(`fu_tier_${String(params.tier)}`, String(params.tier))}` : ''}
        {r.builtin ? <span class="badge">{t('fu_ruleBuiltin')}</span> : null}
      </h3>
      <div class="fu-rule__fields">
        {r.kind === 'new_account' ? num('withinDays', t('fu_ruleWithinDays')) : null}
        {r.kind === 'annual_sample' ? num('percent', t('fu_rulePercent')) : null}
        {r.kind === 'periodic' ? num('everyDays', t('fu_ruleEveryDays')) : null}
        <label class="fu-check">
          <input type="checkbox" data-testid="fu-rule-active" checked={active} onChange={(e) => setActive(e.currentTarget.checked)} />
          <span>{t('fu_ruleActive')}</span>
        </label>
        <label class="fu-check">
          <input type="checkbox" data-testid="fu-rule-independent" checked={independent} onChange={(e) => setIndependent(e.currentTarget.checked)} />
          <span>{t('fu_ruleIndependent')}</span>
        </label>
        <Button variant="primary" testid="fu-rule-save" onClick={save} disabled={act.busy}>
          {t('fu_ruleSave')}
        </Button>
      </div>
      <ErrorText error={act.error} testid="fu-rule-error" />
    </article>
  );
}

function AddPeriodic(props: { onAdded(): void }) {
  const [tier, setTier] = useState<(typeof TIERS)[number]>('general');
  const [everyDays, setEveryDays] = useState('180');
  const act = useAction();
  return (
    <form
      class="fu-rule fu-rule__fields"
      data-testid="fu-rule-add"
      onSubmit={(e) => {
        e.preventDefault();
        void act.run(async () => {
          await call(api.POST('/api/followups/rules', { body: { tier, everyDays: Number(everyDays) } }));
          notify(() => t('fu_ruleAdded'));
          props.onAdded();
        });
      }}
    >
      <Field label={t('fu_ruleTier')}>
        <select data-testid="fu-rule-add-tier" value={tier} onChange={(e) => setTier(e.currentTarget.value as (typeof TIERS)[number])}>
          {TIERS.map((x) => (
            <option key={x} value={x}>
              {t(`fu_tier_${x}`)}
            </option>
          ))}
        </select>
      </Field>
      <Field label={t('fu_ruleEveryDays')}>
        <input type="number" data-testid="fu-rule-add-days" value={everyDays} onInput={(e) => setEveryDays(e.currentTarget.value)} />
      </Field>
      <Button variant="ghost" type="submit" testid="fu-rule-add-submit" disabled={act.busy}>
        {t('fu_ruleAdd')}
      </Button>
      <ErrorText error={act.error} testid="fu-rule-add-error" />
    </form>
  );
}

export function RulesEditor() {
  const rules = useLoad(async () => (await call(api.GET('/api/followups/rules'))).rules ?? [], []);
  return (
    <Panel title={t('fu_rules')} testid="fu-rules">
      <div class="fu-pad">
        <ErrorText error={rules.error} />
        {(rules.data ?? []).map((r) => (
          <RuleRow key={`${r.id}:${r.updatedAt}`} rule={r} onSaved={(u) => rules.set((cur) => (cur ?? []).map((x) => (x.id === u.id ? u : x)))} />
        ))}
        {rules.data ? <AddPeriodic onAdded={rules.reload} /> : null}
      </div>
    </Panel>
  );
}
