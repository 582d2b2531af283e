/**
 * DLP 词库 / DLP dictionary (compliance and admin): the terms checked on every outgoing message, each
 * with its action — block (not sent), warn (sent, sender told), log (sent, recorded). Add a term,
 * change a term's action (the same POST: an upsert by term), remove one. Every change is archived.
 */
import { useState } from 'preact/hooks';
import { api, call } from '../../api/api.ts';
import { notify } from '../../app/session.ts';
import { t, tOr } from '../../i18n/i18n.ts';
import { Button, Empty, ErrorText, Field, Loading, Page, Panel, Time, ListState } from '../../ui/ui.tsx';
import { useLoad } from '../../ui/use-load.ts';
import { DLP_ACTIONS, type DlpAction, type DlpTerm } from './types.ts';

function ActionSelect(props: { value: DlpAction; onChange(v: DlpAction): void; testid: string; label?: string; disabled?: boolean }) {
  return (
    <select data-testid={props.testid} aria-label={props.label} value={props.value} disabled={props.disabled} onChange={(e) => props.onChange(e.currentTarget.value as DlpAction)}>
      {DLP_ACTIONS.map((a) => (
        <option key={a} value={a}>
          {tOr(`ovDlp_${a}`, a)}
        </option>
      ))}
    </select>
  );
}

function AddForm(props: { onAdded(): void }) {
  const [term, setTerm] = useState('');
  const [action, setAction] = useState<DlpAction>('block');
  const [lang, setLang] = useState<'' | 'zh' | 'en'>('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    if (!term.trim()) return;
    setBusy(true);
    setError(null);
    try {
      await call(api.POST('/api/compliance/dlp-terms', { body: { term: term.trim(), action, ...(lang ? { lang } : {}) } }));
      notify(t('ovDlpSaved', { term: term.trim() }));
      setTerm('');
      props.onAdded();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="ov-row ov-row--wrap" data-testid="dlp-form" onSubmit={submit}>
      <Field label={t('ovDlpTerm')} class="ov-grow">
        <input data-testid="dlp-term" required maxLength={64} value={term} onInput={(e) => setTerm(e.currentTarget.value)} />
      </Field>
      <Field label={t('ovDlpAction')}>
        <ActionSelect testid="dlp-action" value={action} onChange={setAction} />
      </Field>
      <Field label={t('ovDlpLang')}>
        <select data-testid="dlp-lang" value={lang} onChange={(e) => setLang(e.currentTarget.value as '' | 'zh' | 'en')}>
          <option value="">{t('ovDlpLangAny')}</option>
          <option value="zh">中文</option>
          <option value="en">English</option>
        </select>
      </Field>
      <Button type="submit" variant="primary" testid="dlp-add" disabled={busy}>
        {t('ovDlpAdd')}
      </Button>
      <ErrorText error={error} testid="dlp-error" />
    </form>
  );
}

function TermRow(props: { term: DlpTerm; onChanged(): void }) {
  const x = props.term;
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const act = async (fn: () => Promise<unknown>, text: string) => {
    setBusy(true);
    setError(null);
    try {
      await fn();
      notify(text);
      props.onChanged();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  const change = (action: DlpAction) =>
    void act(() => call(api.POST('/api/compliance/dlp-terms', { body: { term: x.term!, action, ...(x.lang === 'zh' || x.lang === 'en' ? { lang: x.lang } : {}) } })), t('ovDlpSaved', { term: x.term ?? '' }));
  const remove = () => void act(() => call(api.DELETE('/api/compliance/dlp-terms/{id}', { params: { path: { id: x.id! } } })), t('ovDlpRemoved', { term: x.term ?? '' }));
  return (
    <tr data-testid="dlp-row" data-term={x.term} data-action={x.action}>
      <td data-testid="dlp-row-term">{x.term}</td>
      <td>{x.lang ? tOr(`ovLang_${x.lang}`, x.lang) : t('ovDlpLangAny')}</td>
      <td>
        <ActionSelect testid="dlp-row-action" label={`${t('ovDlpAction')}: ${x.term ?? ''}`} value={(x.action as DlpAction) ?? 'log'} disabled={busy} onChange={change} />
      </td>
      <td>
        <Time at={x.createdAt} />
      </td>
      <td>
        <Button variant="danger" testid="dlp-remove" disabled={busy} aria-label={`${t('ovDlpRemove')}: ${x.term ?? ''}`} onClick={remove}>
          {t('ovDlpRemove')}
        </Button>
        <ErrorText error={error} testid="dlp-row-error" />
      </td>
    </tr>
  );
}

export function DlpView() {
  const [seq, setSeq] = useState(0);
  const list = useLoad(async () => ((await call(api.GET('/api/compliance/dlp-terms'))).terms ?? []).filter((x) => x.active !== false), [seq]);
  const reload = () => setSeq((n) => n + 1);
  return (
    <Page title={t('ovDlpTitle')} hint={t('ovDlpHint')} testid="dlp-view">
      <Panel title={t('ovDlpNew')}>
        <AddForm onAdded={reload} />
      </Panel>
      <Panel title={t('ovDlpList')} testid="dlp-list">
        <ListState list={list} empty={t('ovDlpNone')} errorTestid="dlp-list-error" emptyTestid="dlp-empty">
          {(rows) => (
            <div class="ov-scroll">
              <table class="table ov-table">
                <thead>
                  <tr>
                    <th scope="col">{t('ovDlpTerm')}</th>
                    <th scope="col">{t('ovDlpLang')}</th>
                    <th scope="col">{t('ovDlpAction')}</th>
                    <th scope="col">{t('ovColCreated')}</th>
                    <th scope="col">{t('ovColActions')}</th>
                  </tr>
                </thead>
                <tbody>
                  {rows.map((x) => (
                    <TermRow key={x.id} term={x} onChanged={reload} />
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </ListState>
      </Panel>
    </Page>
  );
}
