/**
 * 用户 / Users (admin; compliance reads): search by login or name, role, team and state, paged by
 * login; an admin creates users here. Each row links to the user's page.
 */
import { useState } from 'preact/hooks';
import { api, call, type Role } from '../../api/api.ts';
import { Link } from '../../app/router.tsx';
import { user } from '../../app/session.ts';
import { t, tOr } from '../../i18n/i18n.ts';
import { Button, Field, ListState, Page, Panel, RiskBadge } from '../../ui/ui.tsx';
import { useLoad } from '../../ui/use-load.ts';
import { Pager, RoleSelect, TeamSelect, useOrg, usePager } from './parts.tsx';
import { ROLES } from './types.ts';
import { UserCreate } from './user-create.tsx';

interface Filters {
  q: string;
  role: Role | '';
  teamId: string;
  active: '' | 'true' | 'false';
}

const PAGE = 25;

export function UsersView() {
  const canEdit = user.value?.role === 'admin';
  const org = useOrg();
  const [draft, setDraft] = useState<Filters>({ q: '', role: '', teamId: '', active: '' });
  const [filters, setFilters] = useState<Filters>(draft);
  const pager = usePager();
  const [seq, setSeq] = useState(0);
  const list = useLoad(
    () =>
      call(
        api.GET('/api/admin/users', {
          params: {
            query: {
              limit: PAGE,
              ...(filters.q.trim() ? { q: filters.q.trim() } : {}),
              ...(filters.role ? { role: filters.role } : {}),
              ...(filters.teamId ? { teamId: filters.teamId } : {}),
              ...(filters.active ? { active: filters.active === 'true' } : {}),
              ...(pager.cursor ? { cursor: pager.cursor } : {}),
            },
          },
        }),
      ),
    [filters, pager.cursor, seq],
  );
  const edit = (p: Partial<Filters>) => setDraft((cur) => ({ ...cur, ...p }));
  return (
    <Page title={t('adm_usersTitle')} hint={canEdit ? t('adm_usersHint') : t('adm_readOnly')} testid="users-view">
      {canEdit ? (
        <Panel title={t('adm_newUser')} testid="user-new">
          <div class="adm-pad">
            <UserCreate index={org.index} created={() => setSeq((n) => n + 1)} />
          </div>
        </Panel>
      ) : null}
      <Panel title={t('adm_userList')} testid="user-list">
        <form
          class="adm-form adm-form--row adm-pad"
          role="search"
          data-testid="user-search"
          onSubmit={(e) => {
            e.preventDefault();
            pager.reset();
            setFilters(draft);
          }}
        >
          <Field label={t('adm_search')}>
            <input type="search" data-testid="user-q" maxLength={64} value={draft.q} placeholder={t('adm_searchHint')} onInput={(e) => edit({ q: e.currentTarget.value })} />
          </Field>
          <Field label={t('adm_role')}>
            <RoleSelect testid="user-role-filter" roles={ROLES} value={draft.role} blank={t('adm_any')} onChange={(v) => edit({ role: v })} />
          </Field>
          <Field label={t('adm_team')}>
            <TeamSelect index={org.index} testid="user-team-filter" allowNone={t('adm_any')} value={draft.teamId} onChange={(teamId) => edit({ teamId })} />
          </Field>
          <Field label={t('adm_state')}>
            <select data-testid="user-active-filter" value={draft.active} onChange={(e) => edit({ active: e.currentTarget.value as Filters['active'] })}>
              <option value="">{t('adm_any')}</option>
              <option value="true">{t('adm_active')}</option>
              <option value="false">{t('adm_disabled')}</option>
            </select>
          </Field>
          <Button type="submit" variant="primary" testid="user-search-submit">
            {t('adm_searchGo')}
          </Button>
        </form>
        <div class="adm-pad">
          <ListState list={{ ...list, data: list.data?.users }} empty={t('adm_noUsers')} errorTestid="users-error" emptyTestid="users-empty">
            {(rows) => (
              <div class="adm-scroll">
                <table class="table adm-table" data-testid="users-table">
                  <thead>
                    <tr>
                      <th scope="col">{t('adm_login')}</th>
                      <th scope="col">{t('adm_displayName')}</th>
                      <th scope="col">{t('adm_role')}</th>
                      <th scope="col">{t('adm_team')}</th>
                      <th scope="col">{t('adm_clientRisk')}</th>
                      <th scope="col">{t('adm_state')}</th>
                    </tr>
                  </thead>
                  <tbody>
                    {rows.map((u) => (
                      <tr key={u.id} data-testid="user-row" data-user-id={u.id} data-login={u.login} data-active={String(u.active)}>
                        <td>
                          <Link href={`/admin/users/${u.id}`} data-testid="user-link">
                            {u.login}
                          </Link>
                        </td>
                        <td>{u.displayName}</td>
                        <td data-testid="user-role">{tOr(`role_${u.role}`, u.role)}</td>
                        <td>{u.teamId ? `${org.index.teams.get(u.teamId)?.branchName ?? ''} / ${org.index.teamName(u.teamId)}` : org.index.branchName(u.branchId)}</td>
                        <td>
                          {u.tier ? tOr(`tier_${u.tier}`, u.tier) : null} <RiskBadge risk={u.riskLevel} />
                        </td>
                        <td data-testid="user-state">{u.active ? t('adm_active') : t('adm_disabled')}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
          </ListState>
          <Pager testid="users-pager" page={pager.page} hasNext={!!list.data?.nextCursor} onPrev={pager.prev} onNext={() => list.data?.nextCursor && pager.next(list.data.nextCursor)} />
        </div>
      </Panel>
    </Page>
  );
}
