/**
 * 客户回访: my follow-ups (due, overdue) with the record form; for managers the follow-ups of their
 * teams and branch (overdue and escalated ones marked) and the schedule form; for compliance, admin
 * and branch heads the coverage report and (compliance, admin) the rules editor.
 */
import { useState } from 'preact/hooks';
import { api, call } from '../../api/api.ts';
import { user } from '../../app/session.ts';
import { t } from '../../i18n/i18n.ts';
import { Button, ListState, Page, Panel } from '../../ui/ui.tsx';
import { useLoad } from '../../ui/use-load.ts';
import { CoveragePanel } from './coverage.tsx';
import { FollowupCard } from './followup-card.tsx';
import { RulesEditor } from './rules-editor.tsx';
import { ScheduleForm } from './schedule-form.tsx';
import type { Followup } from './types.ts';

type StateFilter = '' | 'open' | 'overdue' | 'done';

function MyFollowups(props: { tick: number; onChanged(): void }) {
  const list = useLoad(async () => (await call(api.GET('/api/followups', { params: { query: { mine: '1', state: 'open' } } }))).followups ?? [], [props.tick]);
  return (
    <Panel
      title={t('fu_mine')}
      testid="fu-mine"
      actions={
        <Button variant="ghost" testid="fu-mine-refresh" onClick={list.reload} disabled={list.loading}>
          {t('fu_refresh')}
        </Button>
      }
    >
      <div class="fu-pad fu-list">
        <ListState list={list} empty={t('fu_mineNone')} emptyTestid="fu-mine-empty">
          {(rows) => rows.map((f) => <FollowupCard key={f.id} f={f} record cancel={false} onChanged={props.onChanged} />)}
        </ListState>
      </div>
    </Panel>
  );
}

function ScopeFollowups(props: { tick: number; onChanged(): void }) {
  const me = user.value;
  const [state, setState] = useState<StateFilter>('');
  const list = useLoad(async () => (await call(api.GET('/api/followups', { params: { query: state ? { state } : {} } }))).followups ?? [], [state, props.tick]);
  const manages = me?.role === 'manager' || me?.role === 'admin';
  const mayRecord = (f: Followup) => me?.role === 'manager' && f.assigneeId !== me.id && f.brokerId !== me.id && (f.independent || !f.assigneeId);
  return (
    <Panel
      title={t('fu_scope')}
      testid="fu-scope"
      actions={
        <div class="fu-actions">
          <label class="sr-only" for="fu-state">
            {t('fu_filterState')}
          </label>
          <select id="fu-state" data-testid="fu-scope-state" value={state} onChange={(e) => setState(e.currentTarget.value as StateFilter)}>
            <option value="">{t('fu_filterAll')}</option>
            <option value="open">{t('fu_filterOpen')}</option>
            <option value="overdue">{t('fu_filterOverdue')}</option>
            <option value="done">{t('fu_filterDone')}</option>
          </select>
          <Button variant="ghost" testid="fu-scope-refresh" onClick={list.reload} disabled={list.loading}>
            {t('fu_refresh')}
          </Button>
        </div>
      }
    >
      <div class="fu-pad fu-list">
        <ListState list={list} empty={t('fu_scopeNone')} emptyTestid="fu-scope-empty">
          {(rows) => rows.map((f) => <FollowupCard key={f.id} f={f} record={mayRecord(f)} cancel={manages} onChanged={props.onChanged} />)}
        </ListState>
      </div>
    </Panel>
  );
}

export function FollowupsView() {
  const role = user.value?.role;
  const [tick, setTick] = useState(0);
  const changed = () => setTick((n) => n + 1);
  const staffWork = role === 'broker' || role === 'manager';
  const oversees = role === 'manager' || role === 'compliance' || role === 'admin';
  return (
    <Page title={t('followupsTitle')} hint={t('fu_hint')} testid="followups-page">
      <div class="fu-grid">
        {staffWork ? <MyFollowups tick={tick} onChanged={changed} /> : null}
        {role === 'manager' || role === 'admin' ? <ScheduleForm onScheduled={changed} /> : null}
        {oversees ? <ScopeFollowups tick={tick} onChanged={changed} /> : null}
        {oversees ? <CoveragePanel key={tick} /> : null}
        {role === 'compliance' || role === 'admin' ? <RulesEditor /> : null}
      </div>
    </Page>
  );
}
