/**
 * One user (admin; compliance reads): profile (name, email, phone, language), role and team (a staff
 * role change ends the user's sessions), disable / re-enable and sign out everywhere — each confirmed
 * in the page — and a new initial password. A client's tier and risk assessment are edited on its
 * client profile page.
 */
import { useState } from 'preact/hooks';
import { api, call, type Body, type Role } from '../../api/api.ts';
import { Link } from '../../app/router.tsx';
import { notify, user } from '../../app/session.ts';
import { t, tOr } from '../../i18n/i18n.ts';
import { formatDateTime } from '../../lib/time.ts';
import { Button, ErrorText, Field, Loading, Page, Panel, RiskBadge, Time } from '../../ui/ui.tsx';
import { useAction } from '../../ui/use-action.ts';
import { useLoad } from '../../ui/use-load.ts';
import { AdminError, BranchSelect, ConfirmButton, RoleSelect, TeamSelect, type OrgIndex, useOrg } from './parts.tsx';
import { STAFF_ROLES, TEAM_ROLES, type AdminUser } from './types.ts';

function ProfileForm(props: { u: AdminUser; canEdit: boolean; saved(u: AdminUser): void }) {
  const { u } = props;
  const [f, setF] = useState({ displayName: u.displayName, email: u.email ?? '', phone: u.phone ?? '', locale: u.locale });
  const a = useAction();
  const submit = (e: Event) => {
    e.preventDefault();
    const body: Body<'/api/admin/users/{userId}', 'patch'> = {};
    if (f.displayName.trim() !== u.displayName) body.displayName = f.displayName.trim();
    if (f.email.trim() !== (u.email ?? '')) body.email = f.email.trim() || null;
    if (f.phone.trim() !== (u.phone ?? '')) body.phone = f.phone.trim() || null;
    if (f.locale !== u.locale) body.locale = f.locale as 'zh-CN' | 'en';
    if (!Object.keys(body).length) return void notify(t('adm_noChange'));
    void a.run(async () => {
      props.saved(await call(api.PATCH('/api/admin/users/{userId}', { params: { path: { userId: u.id } }, body })));
      notify(t('adm_saved'));
    });
  };
  return (
    <form class="adm-form adm-form--grid adm-pad" data-testid="user-profile-form" onSubmit={submit}>
      <fieldset class="adm-fieldset" disabled={!props.canEdit || a.busy}>
        <Field label={t('adm_displayName')}>
          <input data-testid="user-edit-name" required maxLength={100} value={f.displayName} onInput={(e) => setF({ ...f, displayName: e.currentTarget.value })} />
        </Field>
        <Field label={t('adm_email')}>
          <input type="email" data-testid="user-edit-email" maxLength={254} value={f.email} onInput={(e) => setF({ ...f, email: e.currentTarget.value })} />
        </Field>
        <Field label={t('adm_phone')}>
          <input type="tel" data-testid="user-edit-phone" maxLength={32} value={f.phone} onInput={(e) => setF({ ...f, phone: e.currentTarget.value })} />
        </Field>
        <Field label={t('adm_locale')}>
          <select data-testid="user-edit-locale" value={f.locale} onChange={(e) => setF({ ...f, locale: e.currentTarget.value })}>
            <option value="zh-CN">中文</option>
            <option value="en">English</option>
          </select>
        </Field>
      </fieldset>
      {props.canEdit ? (
        <div class="form-actions adm-span">
          <Button type="submit" variant="primary" testid="user-profile-save" disabled={a.busy}>
            {t('adm_save')}
          </Button>
        </div>
      ) : null}
      <div class="adm-span">
        <ErrorText error={a.error} testid="user-profile-error" />
      </div>
    </form>
  );
}

function RoleForm(props: { u: AdminUser; index: OrgIndex; saved(u: AdminUser): void }) {
  const { u } = props;
  const [role, setRole] = useState<Role>(u.role);
  const [teamId, setTeamId] = useState(u.teamId ?? '');
  const [branchId, setBranchId] = useState(u.branchId ?? '');
  const [serviceDesk, setServiceDesk] = useState(u.serviceDesk);
  const a = useAction();
  const client = u.role === 'client';
  const needsTeam = TEAM_ROLES.includes(role);
  const submit = (e: Event) => {
    e.preventDefault();
    const body: Body<'/api/admin/users/{userId}', 'patch'> = {};
    if (role !== u.role) body.role = role;
    if (serviceDesk !== u.serviceDesk) body.serviceDesk = serviceDesk;
    if (needsTeam) {
      if (teamId !== (u.teamId ?? '') || role !== u.role) body.teamId = teamId || null;
    } else {
      if (u.teamId) body.teamId = null;
      if (branchId !== (u.branchId ?? '')) body.branchId = branchId || null;
    }
    if (!Object.keys(body).length) return void notify(t('adm_noChange'));
    void a.run(async () => {
      props.saved(await call(api.PATCH('/api/admin/users/{userId}', { params: { path: { userId: u.id } }, body })));
      notify(body.role ? t('adm_roleChanged') : t('adm_saved'));
    });
  };
  return (
    <form class="adm-form adm-form--row adm-pad" data-testid="user-role-form" onSubmit={submit}>
      {client ? null : (
        <Field label={t('adm_role')} hint={t('adm_roleHint')}>
          <RoleSelect testid="user-edit-role" roles={STAFF_ROLES} value={role} onChange={(v) => setRole(v as Role)} />
        </Field>
      )}
      {needsTeam ? (
        <Field label={t('adm_team')}>
          <TeamSelect index={props.index} testid="user-edit-team" required value={teamId} onChange={setTeamId} />
        </Field>
      ) : (
        <Field label={t('adm_branch')}>
          <BranchSelect index={props.index} openOnly testid="user-edit-branch" none={t('adm_none')} value={branchId} onChange={setBranchId} />
        </Field>
      )}
      {client ? null : (
        <label class="adm-check" title={t('adm_serviceDeskHint')}>
          <input type="checkbox" data-testid="user-edit-service-desk" checked={serviceDesk} onChange={(e) => setServiceDesk(e.currentTarget.checked)} />
          {t('adm_serviceDesk')}
        </label>
      )}
      <Button type="submit" variant="primary" testid="user-role-save" disabled={a.busy}>
        {t('adm_save')}
      </Button>
      <ErrorText error={a.error} testid="user-role-error" />
    </form>
  );
}

function AccountActions(props: { u: AdminUser; saved(u: AdminUser): void }) {
  const { u } = props;
  const a = useAction();
  const [password, setPassword] = useState('');
  const pw = useAction();
  const self = user.value?.id === u.id;
  const toggle = () =>
    void a.run(async () => {
      const path = u.active ? '/api/admin/users/{userId}/disable' : '/api/admin/users/{userId}/enable';
      props.saved(await call(api.POST(path, { params: { path: { userId: u.id } } })));
      notify(u.active ? t('adm_userDisabled') : t('adm_userEnabled'));
    });
  const signOut = () =>
    void a.run(async () => {
      await call(api.POST('/api/admin/users/{userId}/sign-out', { params: { path: { userId: u.id } } }));
      notify(t('adm_signedOut'));
    });
  return (
    <div class="adm-pad">
      <div class="adm-actions" data-testid="user-actions">
        <ConfirmButton
          testid={u.active ? 'user-disable' : 'user-enable'}
          variant={u.active ? 'danger' : 'primary'}
          label={u.active ? t('adm_disable') : t('adm_enable')}
          question={u.active ? t('adm_disableQ', { name: u.displayName }) : t('adm_enableQ', { name: u.displayName })}
          confirm={u.active ? t('adm_disable') : t('adm_enable')}
          disabled={a.busy || (self && u.active)}
          onConfirm={toggle}
        />
        {u.active ? (
          <ConfirmButton testid="user-sign-out" label={t('adm_signOutAll')} question={t('adm_signOutQ', { name: u.displayName })} confirm={t('adm_signOutAll')} disabled={a.busy} onConfirm={signOut} />
        ) : null}
      </div>
      <ErrorText error={a.error} testid="user-action-error" />
      <form
        class="adm-form adm-form--row"
        data-testid="user-password-form"
        onSubmit={(e) => {
          e.preventDefault();
          void pw.run(async () => {
            await call(api.POST('/api/admin/users/{userId}/password', { params: { path: { userId: u.id } }, body: { password } }));
            setPassword('');
            notify(t('adm_passwordSet'));
          });
        }}
      >
        <Field label={t('adm_newPassword')} hint={t('adm_passwordResetHint')}>
          <input type="password" data-testid="user-password" required autoComplete="new-password" maxLength={256} value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
        </Field>
        <Button type="submit" testid="user-password-save" disabled={pw.busy}>
          {t('adm_setPassword')}
        </Button>
      </form>
      <AdminError error={pw.error} testid="user-password-error" />
    </div>
  );
}

export function UserDetailView(props: { params: Record<string, string> }) {
  const id = props.params.id;
  const canEdit = user.value?.role === 'admin';
  const org = useOrg();
  const u = useLoad(() => call(api.GET('/api/admin/users/{userId}', { params: { path: { userId: id } } })), [id]);
  const d = u.data;
  return (
    <Page
      title={d ? `${d.displayName} · ${d.login}` : t('adm_userTitle')}
      hint={canEdit ? undefined : t('adm_readOnly')}
      testid="user-view"
      actions={
        <Link href="/admin/users" class="btn btn--ghost" data-testid="user-back">
          {t('adm_backToUsers')}
        </Link>
      }
    >
      <ErrorText error={u.error} testid="user-error" />
      {!d && u.loading ? <Loading /> : null}
      {d ? (
        <div key={`${d.id}:${d.role}:${d.teamId}:${d.branchId}:${d.active}:${d.serviceDesk}`} data-testid="user-detail" data-user-id={d.id} data-active={String(d.active)} data-role={d.role}>
          <Panel title={t('adm_summary')}>
            <dl class="adm-dl adm-pad">
              <dt>{t('adm_role')}</dt>
              <dd data-testid="user-detail-role">{tOr(`role_${d.role}`, d.role)}</dd>
              <dt>{t('adm_team')}</dt>
              <dd data-testid="user-detail-team">{d.teamId ? `${org.index.teams.get(d.teamId)?.branchName ?? ''} / ${org.index.teamName(d.teamId)}` : org.index.branchName(d.branchId) || '—'}</dd>
              <dt>{t('adm_state')}</dt>
              <dd data-testid="user-detail-state">
                {d.active ? t('adm_active') : t('adm_disabledSince', { at: formatDateTime(d.disabledAt) })}
              </dd>
              {d.role !== 'client' ? (
                <>
                  <dt>{t('adm_serviceDesk')}</dt>
                  <dd data-testid="user-detail-service-desk">{d.serviceDesk ? t('adm_yes') : t('adm_no')}</dd>
                </>
              ) : null}
              {d.role === 'client' ? (
                <>
                  <dt>{t('adm_clientRisk')}</dt>
                  <dd>
                    {d.tier ? tOr(`tier_${d.tier}`, d.tier) : null} <RiskBadge risk={d.riskLevel} />{' '}
                    <Link href={`/admin/clients/${d.id}`} data-testid="user-client-profile">
                      {t('adm_clientProfile')}
                    </Link>
                  </dd>
                </>
              ) : null}
              <dt>{t('adm_passwordChanged')}</dt>
              <dd>{d.passwordChangedAt ? <Time at={d.passwordChangedAt} /> : '—'}</dd>
              <dt>{t('adm_createdAt')}</dt>
              <dd>
                <Time at={d.createdAt} />
              </dd>
            </dl>
          </Panel>
          <Panel title={t('adm_profile')} testid="user-profile">
            <ProfileForm u={d} canEdit={canEdit} saved={u.set} />
          </Panel>
          {canEdit ? (
            <>
              <Panel title={d.role === 'client' ? t('adm_branch') : t('adm_roleTeam')} testid="user-role">
                <RoleForm u={d} index={org.index} saved={u.set} />
              </Panel>
              <Panel title={t('adm_account')} testid="user-account">
                <AccountActions u={d} saved={u.set} />
              </Panel>
            </>
          ) : null}
        </div>
      ) : null}
    </Page>
  );
}
