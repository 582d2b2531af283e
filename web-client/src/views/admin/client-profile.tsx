/**
 * A client's profile (admin edits; compliance reads): tier (general / hnw / institutional), risk level
 * C1–C5 with the assessment date and expiry, the professional-investor flag. A save shows what changed,
 * old → new (a new level without a date is dated today by the server). Below, the client's brokers,
 * where an admin assigns the primary broker (or transfers the client to another).
 */
import { useState } from 'preact/hooks';
import { api, call, type Body } from '../../api/api.ts';
import { Link } from '../../app/router.tsx';
import { notify, user } from '../../app/session.ts';
import { t, tOr } from '../../i18n/i18n.ts';
import { Button, ErrorText, Field, Loading, Page, Panel } from '../../ui/ui.tsx';
import { useAction } from '../../ui/use-action.ts';
import { useLoad } from '../../ui/use-load.ts';
import { ClientBrokersPanel } from './client-brokers.tsx';
import { ClientRiskSelect, TierSelect, formatDay } from './parts.tsx';
import { CLIENT_RISKS, TIERS, type ClientProfile, type ClientRisk, type Tier } from './types.ts';

type Patch = Body<'/api/admin/clients/{clientId}/profile', 'patch'>;
const FIELDS = ['tier', 'riskLevel', 'riskAssessedOn', 'riskExpiresOn', 'professionalInvestor'] as const;
type FieldName = (typeof FIELDS)[number];

function show(field: FieldName, v: unknown): string {
  if (v === null || v === undefined || v === '') return field === 'riskLevel' ? t('adm_notAssessed') : '—';
  if (field === 'tier') return tOr(`tier_${String(v)}`, String(v));
  if (field === 'riskLevel') return tOr(`adm_risk_${String(v)}`, String(v));
  if (field === 'professionalInvestor') return v ? t('adm_yes') : t('adm_no');
  return formatDay(String(v));
}

const LABEL: Record<FieldName, () => string> = {
  tier: () => t('adm_tier'),
  riskLevel: () => t('adm_clientRisk'),
  riskAssessedOn: () => t('adm_assessedOn'),
  riskExpiresOn: () => t('adm_expiresOn'),
  professionalInvestor: () => t('adm_professional'),
};

interface Change {
  field: FieldName;
  before: unknown;
  after: unknown;
}

function ProfileForm(props: { p: ClientProfile; canEdit: boolean; saved(p: ClientProfile, changes: Change[]): void }) {
  const { p } = props;
  const [f, setF] = useState({ tier: p.tier as Tier, riskLevel: (p.riskLevel ?? '') as ClientRisk | '', riskAssessedOn: p.riskAssessedOn ?? '', riskExpiresOn: p.riskExpiresOn ?? '', professionalInvestor: p.professionalInvestor });
  const a = useAction();
  const edit = (x: Partial<typeof f>) => setF((cur) => ({ ...cur, ...x }));
  const submit = (e: Event) => {
    e.preventDefault();
    const body: Patch = {};
    if (f.tier !== p.tier) body.tier = f.tier;
    if (f.riskLevel !== (p.riskLevel ?? '')) body.riskLevel = f.riskLevel || null;
    if (f.riskAssessedOn !== (p.riskAssessedOn ?? '')) body.riskAssessedOn = f.riskAssessedOn || null;
    if (f.riskExpiresOn !== (p.riskExpiresOn ?? '')) body.riskExpiresOn = f.riskExpiresOn || null;
    if (f.professionalInvestor !== p.professionalInvestor) body.professionalInvestor = f.professionalInvestor;
    if (!Object.keys(body).length) return void notify(t('adm_noChange'));
    void a.run(async () => {
      const after = await call(api.PATCH('/api/admin/clients/{clientId}/profile', { params: { path: { clientId: p.clientId } }, body }));
      const changes = FIELDS.filter((k) => (p[k] ?? null) !== (after[k] ?? null)).map((k) => ({ field: k, before: p[k], after: after[k] }));
      notify(t('adm_profileSaved'));
      props.saved(after, changes);
    });
  };
  return (
    <form class="adm-form adm-form--grid adm-pad" data-testid="profile-form" onSubmit={submit}>
      <fieldset class="adm-fieldset" disabled={!props.canEdit || a.busy}>
        <legend class="sr-only">{t('adm_clientProfile')}</legend>
        <Field label={t('adm_tier')}>
          <TierSelect testid="profile-tier" value={f.tier} onChange={(v) => edit({ tier: v as Tier })} />
        </Field>
        <Field label={t('adm_clientRisk')}>
          <ClientRiskSelect testid="profile-risk" value={f.riskLevel} blank={t('adm_notAssessed')} onChange={(v) => edit({ riskLevel: v })} />
        </Field>
        <Field label={t('adm_assessedOn')} hint={t('adm_assessedOnHint')}>
          <input type="date" data-testid="profile-assessed" value={f.riskAssessedOn} onInput={(e) => edit({ riskAssessedOn: e.currentTarget.value })} />
        </Field>
        <Field label={t('adm_expiresOn')} hint={t('adm_expiresOnHint')}>
          <input type="date" data-testid="profile-expires" value={f.riskExpiresOn} onInput={(e) => edit({ riskExpiresOn: e.currentTarget.value })} />
        </Field>
        <label class="adm-check">
          <input type="checkbox" data-testid="profile-pro" checked={f.professionalInvestor} onChange={(e) => edit({ professionalInvestor: e.currentTarget.checked })} />
          {t('adm_professional')}
        </label>
      </fieldset>
      {props.canEdit ? (
        <div class="form-actions adm-span">
          <Button type="submit" variant="primary" testid="profile-save" disabled={a.busy}>
            {t('adm_save')}
          </Button>
        </div>
      ) : null}
      <div class="adm-span">
        <ErrorText error={a.error} testid="profile-error" />
      </div>
    </form>
  );
}

export function ClientProfileView(props: { params: Record<string, string> }) {
  const id = props.params.id;
  const canEdit = user.value?.role === 'admin';
  const who = useLoad(() => call(api.GET('/api/admin/users/{userId}', { params: { path: { userId: id } } })), [id]);
  const profile = useLoad(() => call(api.GET('/api/admin/clients/{clientId}/profile', { params: { path: { clientId: id } } })), [id]);
  const [changes, setChanges] = useState<Change[] | null>(null);
  const p = profile.data;
  return (
    <Page
      title={who.data ? t('adm_clientProfileOf', { name: who.data.displayName }) : t('adm_clientProfile')}
      hint={canEdit ? t('adm_profileHint') : t('adm_readOnly')}
      testid="client-profile-view"
      actions={
        <>
          <Link href="/clients" class="btn btn--ghost" data-testid="profile-back">
            {t('adm_backToClients')}
          </Link>
          <Link href={`/admin/users/${id}`} class="btn btn--ghost" data-testid="profile-user">
            {t('adm_userAccount')}
          </Link>
        </>
      }
    >
      <ErrorText error={profile.error} testid="profile-load-error" />
      {!p && profile.loading ? <Loading /> : null}
      {p ? (
        <Panel title={t('adm_suitability')} testid="client-profile">
          <ProfileForm
            key={JSON.stringify(p)}
            p={p}
            canEdit={canEdit}
            saved={(after, c) => {
              profile.set(after);
              setChanges(c);
            }}
          />
          {changes ? (
            <div class="adm-pad" data-testid="profile-changes" aria-live="polite">
              <h3 class="adm-sub">{t('adm_changes')}</h3>
              {changes.length ? (
                <ul class="adm-changes">
                  {changes.map((c) => (
                    <li key={c.field} data-testid="profile-change" data-field={c.field} data-before={String(c.before ?? '')} data-after={String(c.after ?? '')}>
                      <span class="adm-changes__label">{LABEL[c.field]()}</span>
                      <span class="adm-changes__old">{show(c.field, c.before)}</span>
                      <span aria-hidden="true"> → </span>
                      <span class="sr-only">{t('adm_to')}</span>
                      <span class="adm-changes__new">{show(c.field, c.after)}</span>
                    </li>
                  ))}
                </ul>
              ) : (
                <p class="empty">{t('adm_noChange')}</p>
              )}
            </div>
          ) : null}
        </Panel>
      ) : null}
      {p ? <ClientBrokersPanel clientId={id} canEdit={canEdit} /> : null}
    </Page>
  );
}
