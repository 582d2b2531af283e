/**
 * New user (admin): login, display name, role, the team for brokers and managers, tier and risk
 * assessment for clients, an initial password. Refusals are shown by code, a weak password with its
 * reasons (QIAO_PASSWORD_WEAK), a login in use as QIAO_LOGIN_TAKEN.
 */
import { useState } from 'preact/hooks';
import { api, call, type Body, type Role } from '../../api/api.ts';
import { notify } from '../../app/session.ts';
import { t, tOr } from '../../i18n/i18n.ts';
import { Button, Field } from '../../ui/ui.tsx';
import { useAction } from '../../ui/use-action.ts';
import { AdminError, BranchSelect, ClientRiskSelect, RoleSelect, TeamSelect, TierSelect, type OrgIndex } from './parts.tsx';
import { CLIENT_RISKS, ROLES, TEAM_ROLES, TIERS, type ClientRisk, type Tier } from './types.ts';

interface Form {
  login: string;
  displayName: string;
  role: Role;
  teamId: string;
  branchId: string;
  tier: Tier;
  riskLevel: ClientRisk | '';
  riskAssessedOn: string;
  professionalInvestor: boolean;
  serviceDesk: boolean;
  email: string;
  password: string;
}

const EMPTY: Form = { login: '', displayName: '', role: 'broker', teamId: '', branchId: '', tier: 'general', riskLevel: '', riskAssessedOn: '', professionalInvestor: false, serviceDesk: false, email: '', password: '' };

export function UserCreate(props: { index: OrgIndex; created(): void }) {
  const [f, setF] = useState<Form>(EMPTY);
  const a = useAction();
  const edit = (p: Partial<Form>) => setF((cur) => ({ ...cur, ...p }));
  const client = f.role === 'client';
  const needsTeam = TEAM_ROLES.includes(f.role);
  const submit = (e: Event) => {
    e.preventDefault();
    const body: Body<'/api/admin/users', 'post'> = { login: f.login.trim(), displayName: f.displayName.trim(), role: f.role, password: f.password };
    if (f.email.trim()) body.email = f.email.trim();
    if (needsTeam) body.teamId = f.teamId || null;
    else if (f.branchId) body.branchId = f.branchId;
    if (!client && f.serviceDesk) body.serviceDesk = true;
    if (client) {
      body.tier = f.tier;
      body.professionalInvestor = f.professionalInvestor;
      if (f.riskLevel) {
        body.riskLevel = f.riskLevel;
        if (f.riskAssessedOn) body.riskAssessedOn = f.riskAssessedOn;
      }
    }
    void a.run(async () => {
      const u = await call(api.POST('/api/admin/users', { body }));
      notify(t('adm_userCreated', { login: u.login }));
      setF({ ...EMPTY, role: f.role, teamId: f.teamId, branchId: f.branchId });
      props.created();
    });
  };
  return (
    <form class="adm-form adm-form--grid" data-testid="user-new-form" onSubmit={submit}>
      <Field label={t('adm_login')} hint={t('adm_loginHint')}>
        <input data-testid="user-new-login" required spellcheck={false} autoComplete="off" pattern="[A-Za-z0-9][A-Za-z0-9._\-]{2,63}" value={f.login} onInput={(e) => edit({ login: e.currentTarget.value })} />
      </Field>
      <Field label={t('adm_displayName')}>
        <input data-testid="user-new-name" required maxLength={100} value={f.displayName} onInput={(e) => edit({ displayName: e.currentTarget.value })} />
      </Field>
      <Field label={t('adm_role')}>
        <RoleSelect testid="user-new-role" roles={ROLES} value={f.role} onChange={(v) => edit({ role: v as Role })} />
      </Field>
      {needsTeam ? (
        <Field label={t('adm_team')}>
          <TeamSelect index={props.index} testid="user-new-team" required value={f.teamId} onChange={(teamId) => edit({ teamId })} />
        </Field>
      ) : (
        <Field label={t('adm_branch')}>
          <BranchSelect index={props.index} openOnly testid="user-new-branch" none={t('adm_none')} value={f.branchId} onChange={(branchId) => edit({ branchId })} />
        </Field>
      )}
      {client ? (
        <>
          <Field label={t('adm_tier')}>
            <TierSelect testid="user-new-tier" value={f.tier} onChange={(v) => edit({ tier: v as Tier })} />
          </Field>
          <Field label={t('adm_clientRisk')}>
            <ClientRiskSelect testid="user-new-risk" value={f.riskLevel} blank={t('adm_notAssessed')} onChange={(v) => edit({ riskLevel: v })} />
          </Field>
          <Field label={t('adm_assessedOn')} hint={t('adm_assessedOnHint')}>
            <input type="date" data-testid="user-new-assessed" value={f.riskAssessedOn} disabled={!f.riskLevel} onInput={(e) => edit({ riskAssessedOn: e.currentTarget.value })} />
          </Field>
          <label class="adm-check">
            <input type="checkbox" data-testid="user-new-pro" checked={f.professionalInvestor} onChange={(e) => edit({ professionalInvestor: e.currentTarget.checked })} />
            {t('adm_professional')}
          </label>
        </>
      ) : (
        <label class="adm-check" title={t('adm_serviceDeskHint')}>
          <input type="checkbox" data-testid="user-new-service-desk" checked={f.serviceDesk} onChange={(e) => edit({ serviceDesk: e.currentTarget.checked })} />
          {t('adm_serviceDesk')}
        </label>
      )}
      <Field label={t('adm_email')}>
        <input type="email" data-testid="user-new-email" autoComplete="off" maxLength={254} value={f.email} onInput={(e) => edit({ email: e.currentTarget.value })} />
      </Field>
      <Field label={t('adm_initialPassword')} hint={t('adm_passwordHint')}>
        <input type="password" data-testid="user-new-password" required autoComplete="new-password" maxLength={256} value={f.password} onInput={(e) => edit({ password: e.currentTarget.value })} />
      </Field>
      <div class="form-actions adm-span">
        <Button type="submit" variant="primary" testid="user-new-submit" disabled={a.busy}>
          {t('adm_createUser')}
        </Button>
        {a.error ? null : (
          <Button variant="ghost" testid="user-new-reset" onClick={() => (setF(EMPTY), a.clear())}>
            {t('adm_clear')}
          </Button>
        )}
      </div>
      <div class="adm-span">
        <AdminError error={a.error} testid="user-new-error" />
      </div>
    </form>
  );
}

