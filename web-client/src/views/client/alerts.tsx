/**
 * 价格提醒 / Price alerts at `/alerts`: my rules (GET /api/alert-rules), a form for a new one, and
 * per rule pause/resume (PATCH {active}) and delete. A firing arrives in the inbox as an alert.
 */
import { useState } from 'preact/hooks';
import { api, call, type Answer } from '../../api/api.ts';
import { t } from '../../i18n/i18n.ts';
import { Button, Empty, ErrorText, Loading, Page, Panel, Time } from '../../ui/ui.tsx';
import { useLoad } from '../../ui/use-load.ts';
import { AlertForm } from './alert-form.tsx';
import { nameOf } from './securities.ts';

type Rule = Answer<'/api/alert-rules', 'get'>['rules'][number];

const price = (n: number) => n.toFixed(2);

function condition(r: Rule): string {
  if (r.direction === 'move') return t('condMove', { percent: r.percent ?? 0, base: price(r.basePrice ?? r.price) });
  return t(r.direction === 'above' ? 'condAbove' : 'condBelow', { price: price(r.price) });
}

function stateOf(r: Rule): 'active' | 'paused' | 'fired' {
  return r.active ? 'active' : r.pausedAt ? 'paused' : 'fired';
}

const STATE_KEY = { active: 'ruleActive', paused: 'rulePaused', fired: 'ruleFired' } as const;

export function AlertsView() {
  const rules = useLoad(() => call(api.GET('/api/alert-rules')), []);
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const list = rules.data?.rules ?? [];
  const activeCount = list.filter((r) => r.active).length;

  const act = async (r: Rule, what: 'toggle' | 'delete') => {
    setBusy(r.id);
    setError(null);
    try {
      if (what === 'delete') {
        await call(api.DELETE('/api/alert-rules/{id}', { params: { path: { id: r.id } } }));
        rules.set((cur) => (cur ? { ...cur, rules: cur.rules.filter((x) => x.id !== r.id) } : cur!));
      } else {
        const { rule } = await call(api.PATCH('/api/alert-rules/{id}', { params: { path: { id: r.id } }, body: { active: !r.active } }));
        rules.set((cur) => (cur ? { ...cur, rules: cur.rules.map((x) => (x.id === r.id ? rule : x)) } : cur!));
      }
    } catch (e) {
      setError(e);
    } finally {
      setBusy(null);
    }
  };

  return (
    <Page title={t('priceAlerts')} testid="alerts-view" hint={t('priceAlertsHint')}>
      <Panel title={t('alertNew')} testid="alert-new">
        <AlertForm onCreated={() => rules.reload()} />
      </Panel>
      <Panel
        title={t('alertRules')}
        testid="alert-rules"
        actions={
          rules.data ? (
            <span class="panel__hint" data-testid="alert-limit">
              {t('alertLimit', { n: activeCount, limit: rules.data.limit })}
            </span>
          ) : undefined
        }
      >
        <ErrorText error={rules.error ?? error} testid="alert-rules-error" />
        {rules.data === undefined && rules.loading ? (
          <Loading />
        ) : list.length === 0 ? (
          <Empty text={t('alertRulesEmpty')} testid="alert-rules-empty" />
        ) : (
          <table class="table" data-testid="alert-table">
            <caption class="sr-only">{t('alertRules')}</caption>
            <thead>
              <tr>
                <th scope="col">{t('symbolLabel')}</th>
                <th scope="col">{t('alertCondition')}</th>
                <th scope="col">{t('alertRepeatCol')}</th>
                <th scope="col">{t('alertState')}</th>
                <th scope="col">{t('alertLastFired')}</th>
                <th scope="col">{t('alertActions')}</th>
              </tr>
            </thead>
            <tbody>
              {list.map((r) => {
                const st = stateOf(r);
                return (
                  <tr key={r.id} data-testid="alert-row" data-id={r.id} data-symbol={r.symbol} data-state={st}>
                    <td>
                      <span class="mono">{r.symbol}</span> <span data-testid="alert-name">{nameOf(r.symbol) ?? ''}</span>
                    </td>
                    <td data-testid="alert-condition">{condition(r)}</td>
                    <td>{t(r.repeat ? 'repeatYes' : 'repeatNo')}</td>
                    <td>
                      <span class={`badge rule-state rule-state--${st}`} data-testid="alert-state">
                        {t(STATE_KEY[st])}
                      </span>
                    </td>
                    <td>{r.lastFiredAt ? <Time at={r.lastFiredAt} short /> : '—'}</td>
                    <td>
                      <div class="row-actions">
                        <Button variant="plain" testid="alert-toggle" disabled={busy === r.id} aria-label={t(r.active ? 'pauseRule' : 'resumeRule', { symbol: r.symbol })} onClick={() => void act(r, 'toggle')}>
                          {t(r.active ? 'alertPause' : 'alertResume')}
                        </Button>
                        <Button variant="danger" testid="alert-delete" disabled={busy === r.id} aria-label={t('deleteRule', { symbol: r.symbol })} onClick={() => void act(r, 'delete')}>
                          {t('alertDelete')}
                        </Button>
                      </div>
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        )}
      </Panel>
    </Page>
  );
}
