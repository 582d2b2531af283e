/**
 * 通知设置 / Notification settings at `/settings/notifications` (every role; the email footer links
 * here): per category which transports, the digest, trading-hours-only and mute; quiet hours for all
 * categories (the '*' row); and browser notifications for this browser.
 *
 * The server stores complete rows per category (src/store/prefs-repo.ts): saving writes only the
 * categories changed here, each with everything the row had, so nothing set elsewhere is lost.
 */
import { useEffect, useState } from 'preact/hooks';
import { api, call, type Answer, type Body } from '../../api/api.ts';
import { notify } from '../../app/session.ts';
import { t, tOr } from '../../i18n/i18n.ts';
import { Button, ErrorText, Loading, Page, Panel } from '../../ui/ui.tsx';
import { useLoad } from '../../ui/use-load.ts';
import { PushToggle } from './push-toggle.tsx';

type Prefs = Answer<'/api/preferences', 'get'>;
type Row = Prefs['categories'][number];
type PutCategories = Body<'/api/preferences', 'put'>['categories'];
type Category = keyof PutCategories;
type Family = keyof Prefs['effective'];
type Digest = 'immediate' | 'hourly' | 'daily';
type Tracked = 'inbox' | 'email' | 'push' | 'sms';

interface CatForm {
  inbox: boolean;
  email: boolean;
  push: boolean;
  /** Off by default; critical notices of some categories come by SMS unless it is turned off here. */
  sms: boolean;
  digest: Digest;
  muted: boolean;
  tradingHoursOnly: boolean;
}

/** Personal first: what a client gets most. */
const ORDER = ['inbox', 'account', 'alerts', 'research', 'firm', 'team', 'conv'];
const TRACKED: readonly Tracked[] = ['inbox', 'email', 'push', 'sms'];
const HM = /^([01]\d|2[0-3]):[0-5]\d$/;

function formOf(p: Prefs): { cats: Record<string, CatForm>; quietStart: string; quietEnd: string } {
  const cats: Record<string, CatForm> = {};
  for (const [c, e] of Object.entries(p.effective)) {
    cats[c] = { inbox: e.transports.inbox, email: e.transports.email, push: e.transports.push, sms: e.transports.sms, digest: e.digest, muted: e.muted, tradingHoursOnly: e.tradingHoursOnly };
  }
  const star = p.categories.find((r) => r.category === '*');
  return { cats, quietStart: star?.quietStart ?? '', quietEnd: star?.quietEnd ?? '' };
}

/** A complete row for PUT: the stored row's other fields, with this form's choices. */
function rowBody(row: Row | undefined, web: boolean, f: CatForm) {
  return {
    transports: { ...(row?.transports ?? {}), web, inbox: f.inbox, email: f.email, push: f.push, sms: f.sms },
    digest: f.digest,
    muted: f.muted,
    tradingHoursOnly: f.tradingHoursOnly,
    quietStart: row?.quietStart ?? null,
    quietEnd: row?.quietEnd ?? null,
    digestAt: row?.digestAt ?? null,
    ...(row?.timeZone ? { timeZone: row.timeZone } : {}),
  };
}

const same = (a: CatForm, b: CatForm) => (Object.keys(a) as Array<keyof CatForm>).every((k) => a[k] === b[k]);

export function NotificationSettingsView() {
  const prefs = useLoad(() => call(api.GET('/api/preferences')), []);
  const [form, setForm] = useState<ReturnType<typeof formOf> | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [saved, setSaved] = useState(false);

  useEffect(() => {
    if (prefs.data) setForm(formOf(prefs.data));
  }, [prefs.data]);

  const setCat = (c: string, patch: Partial<CatForm>) => {
    setSaved(false);
    setForm((f) => (f ? { ...f, cats: { ...f.cats, [c]: { ...f.cats[c], ...patch } } } : f));
  };

  const save = async (e: Event) => {
    e.preventDefault();
    if (!form || !prefs.data) return;
    setError(null);
    setSaved(false);
    const qs = form.quietStart.trim();
    const qe = form.quietEnd.trim();
    // The server's rules, checked first: both or neither, valid times, not the same time.
    if (Boolean(qs) !== Boolean(qe) || (qs && (!HM.test(qs) || !HM.test(qe) || qs === qe))) return setError({ code: 'QIAO_BAD_REQUEST' });
    const p = prefs.data;
    const before = formOf(p);
    const rows = new Map<string, Row>(p.categories.map((r) => [r.category, r]));
    const categories: PutCategories = {};
    for (const [c, f] of Object.entries(form.cats)) {
      if (!same(f, before.cats[c])) categories[c as Category] = rowBody(rows.get(c), p.effective[c as Family].transports.web, f);
    }
    if (qs !== before.quietStart || qe !== before.quietEnd) {
      const star = rows.get('*');
      categories['*'] = {
        transports: star?.transports ?? {},
        digest: star?.digest ?? 'immediate',
        muted: star?.muted ?? false,
        tradingHoursOnly: star?.tradingHoursOnly ?? false,
        digestAt: star?.digestAt ?? null,
        quietStart: qs || null,
        quietEnd: qe || null,
        ...(star?.timeZone ? { timeZone: star.timeZone } : {}),
      };
    }
    if (Object.keys(categories).length === 0) {
      setSaved(true);
      return;
    }
    setBusy(true);
    try {
      const next = await call(api.PUT('/api/preferences', { body: { categories } }));
      prefs.set(next);
      setSaved(true);
      notify(t('prefsSaved'));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  const cats = form ? ORDER.filter((c) => c in form.cats).concat(Object.keys(form.cats).filter((c) => !ORDER.includes(c))) : [];
  const label = (c: string) => tOr(`cat_${c}`, c);

  return (
    <Page title={t('notificationSettings')} testid="settings-view" hint={t('settingsHint')}>
      <Panel title={t('browserPush')} testid="push-panel">
        <PushToggle />
      </Panel>
      {!form ? (
        prefs.error ? <ErrorText error={prefs.error} testid="prefs-load-error" /> : <Loading />
      ) : (
        <form onSubmit={(e) => void save(e)} data-testid="prefs-form" noValidate>
          <Panel title={t('prefsByCategory')} testid="prefs-categories">
            <div class="table-wrap">
              <table class="table prefs-table">
                <caption class="sr-only">{t('prefsByCategory')}</caption>
                <thead>
                  <tr>
                    <th scope="col">{t('prefsCategory')}</th>
                    {TRACKED.map((tr) => (
                      <th key={tr} scope="col">
                        {t(`tr_${tr}`)}
                      </th>
                    ))}
                    <th scope="col">{t('prefsDigest')}</th>
                    <th scope="col">{t('tradingHoursOnly')}</th>
                    <th scope="col">{t('prefsMute')}</th>
                  </tr>
                </thead>
                <tbody>
                  {cats.map((c) => {
                    const f = form.cats[c];
                    return (
                      <tr key={c} data-testid="pref-row" data-category={c}>
                        <th scope="row">
                          <span class="prefs-table__cat">{label(c)}</span>
                          <span class="prefs-table__hint">{tOr(`catHint_${c}`, '')}</span>
                        </th>
                        {TRACKED.map((tr) => (
                          <td key={tr}>
                            <input type="checkbox" checked={f[tr]} data-testid={`pref-${c}-${tr}`} aria-label={`${label(c)} · ${t(`tr_${tr}`)}`} onChange={(e) => setCat(c, { [tr]: e.currentTarget.checked })} />
                          </td>
                        ))}
                        <td>
                          <select value={f.digest} data-testid={`pref-${c}-digest`} aria-label={`${label(c)} · ${t('prefsDigest')}`} onChange={(e) => setCat(c, { digest: e.currentTarget.value as Digest })}>
                            <option value="immediate">{t('digestOff')}</option>
                            <option value="hourly">{t('digestHourly')}</option>
                            <option value="daily">{t('digestDaily')}</option>
                          </select>
                        </td>
                        <td>
                          <input type="checkbox" checked={f.tradingHoursOnly} data-testid={`pref-${c}-trading`} aria-label={`${label(c)} · ${t('tradingHoursOnly')}`} onChange={(e) => setCat(c, { tradingHoursOnly: e.currentTarget.checked })} />
                        </td>
                        <td>
                          <input type="checkbox" checked={f.muted} data-testid={`pref-${c}-muted`} aria-label={`${label(c)} · ${t('prefsMute')}`} onChange={(e) => setCat(c, { muted: e.currentTarget.checked })} />
                        </td>
                      </tr>
                    );
                  })}
                </tbody>
              </table>
            </div>
            <p class="panel__note">{t('criticalNote')}</p>
          </Panel>
          <Panel title={t('quietHours')} testid="prefs-quiet">
            <div class="form-grid">
              <label class="field">
                <span class="field__label">{t('quietStart')}</span>
                <input type="time" value={form.quietStart} data-testid="quiet-start" onInput={(e) => (setSaved(false), setForm({ ...form, quietStart: e.currentTarget.value }))} />
              </label>
              <label class="field">
                <span class="field__label">{t('quietEnd')}</span>
                <input type="time" value={form.quietEnd} data-testid="quiet-end" onInput={(e) => (setSaved(false), setForm({ ...form, quietEnd: e.currentTarget.value }))} />
              </label>
            </div>
            <p class="panel__note">{t('quietHint', { zone: prefs.data?.timeZone ?? 'Asia/Shanghai' })}</p>
          </Panel>
          <div class="form-actions form-actions--page">
            <Button type="submit" variant="primary" testid="prefs-save" disabled={busy}>
              {t('prefsSave')}
            </Button>
            {saved ? (
              <span class="saved" role="status" data-testid="prefs-saved">
                {t('prefsSaved')}
              </span>
            ) : null}
          </div>
          <ErrorText error={error} testid="prefs-error" />
        </form>
      )}
    </Page>
  );
}
