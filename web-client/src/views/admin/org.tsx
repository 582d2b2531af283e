/**
 * 组织架构 / Organisation (admin; compliance reads): branches (营业部) with their teams. An admin
 * creates, renames and closes branches (only empty ones: QIAO_ORG_NOT_EMPTY is shown by its code),
 * and creates, renames, moves, closes teams and names a team's manager (an active manager of the team).
 */
import { useState } from 'preact/hooks';
import { api, call } from '../../api/api.ts';
import { notify, user } from '../../app/session.ts';
import { t } from '../../i18n/i18n.ts';
import { Button, ErrorText, Field, ListState, Page, Panel, Time } from '../../ui/ui.tsx';
import { useAction } from '../../ui/use-action.ts';
import { useLoad } from '../../ui/use-load.ts';
import { BranchSelect, ConfirmButton, useOrg, type OrgIndex } from './parts.tsx';
import type { AdminUser, Branch, Team } from './types.ts';

/** A name and a code, as both branches and teams are created. */
function CreateForm(props: { prefix: string; submit(code: string, name: string): Promise<unknown>; label: string }) {
  const [code, setCode] = useState('');
  const [name, setName] = useState('');
  const a = useAction();
  const p = props.prefix;
  return (
    <form
      class="adm-form adm-form--row"
      data-testid={`${p}-form`}
      onSubmit={(e) => {
        e.preventDefault();
        void a.run(() => props.submit(code.trim(), name.trim())).then((ok) => {
          if (ok) (setCode(''), setName(''));
        });
      }}
    >
      <Field label={t('adm_code')} hint={t('adm_codeHint')}>
        <input data-testid={`${p}-code`} required pattern="[A-Za-z0-9][A-Za-z0-9_\-]{1,31}" spellcheck={false} autoComplete="off" value={code} onInput={(e) => setCode(e.currentTarget.value)} />
      </Field>
      <Field label={t('adm_name')}>
        <input data-testid={`${p}-name`} required maxLength={100} value={name} onInput={(e) => setName(e.currentTarget.value)} />
      </Field>
      <Button type="submit" variant="primary" testid={`${p}-submit`} disabled={a.busy}>
        {props.label}
      </Button>
      <ErrorText error={a.error} testid={`${p}-error`} />
    </form>
  );
}

/** Rename in place: the name becomes a text field with save and cancel. */
function Rename(props: { name: string; testid: string; save(name: string): Promise<unknown>; disabled?: boolean }) {
  const [editing, setEditing] = useState(false);
  const [name, setName] = useState(props.name);
  const a = useAction();
  if (!editing)
    return (
      <Button variant="ghost" testid={props.testid} disabled={props.disabled} onClick={() => (setName(props.name), a.clear(), setEditing(true))}>
        {t('adm_rename')}
      </Button>
    );
  return (
    <form
      class="adm-inline"
      onSubmit={(e) => {
        e.preventDefault();
        void a.run(() => props.save(name.trim())).then((ok) => ok && setEditing(false));
      }}
    >
      <input aria-label={t('adm_newName')} data-testid={`${props.testid}-input`} required maxLength={100} value={name} onInput={(e) => setName(e.currentTarget.value)} />
      <Button type="submit" variant="primary" testid={`${props.testid}-save`} disabled={a.busy}>
        {t('adm_save')}
      </Button>
      <Button variant="ghost" testid={`${props.testid}-cancel`} onClick={() => setEditing(false)}>
        {t('adm_cancel')}
      </Button>
      <ErrorText error={a.error} testid={`${props.testid}-error`} />
    </form>
  );
}

function TeamRow(props: { team: Team; branch: Branch; index: OrgIndex; managers: AdminUser[]; canEdit: boolean; changed(): void }) {
  const { team } = props;
  const a = useAction();
  const closed = !!team.closedAt;
  const edit = props.canEdit && !closed;
  const patch = (body: { name?: string; branchId?: string; managerId?: string | null }, notice = t('adm_saved')) =>
    call(api.PATCH('/api/admin/teams/{teamId}', { params: { path: { teamId: team.id } }, body })).then(() => {
      notify(notice);
      props.changed();
    });
  const candidates = props.managers.filter((m) => m.teamId === team.id);
  const manager = props.managers.find((m) => m.id === team.managerId);
  return (
    <tr data-testid="team-row" data-team-id={team.id} data-code={team.code} data-closed={String(closed)}>
      <td>
        <span data-testid="team-name">{team.name}</span> <span class="adm-mono">{team.code}</span>
        {closed ? (
          <span class="badge adm-closed" data-testid="team-closed">
            {t('adm_closed')}
          </span>
        ) : null}
      </td>
      <td data-testid="team-manager">
        {edit ? (
          <select
            aria-label={t('adm_teamManagerOf', { name: team.name })}
            data-testid="team-manager-select"
            value={team.managerId ?? ''}
            disabled={a.busy}
            onChange={(e) => void a.run(() => patch({ managerId: e.currentTarget.value || null }))}
          >
            <option value="">{t('adm_noManager')}</option>
            {candidates.map((m) => (
              <option key={m.id} value={m.id}>
                {`${m.displayName} (${m.login})`}
              </option>
            ))}
            {manager && !candidates.includes(manager) ? <option value={manager.id}>{manager.displayName}</option> : null}
          </select>
        ) : (
          (manager?.displayName ?? (team.managerId ? team.managerId : '—'))
        )}
      </td>
      <td>{closed ? <Time at={team.closedAt} /> : <Time at={team.createdAt} />}</td>
      {props.canEdit ? (
        <td class="adm-actions">
          {edit ? (
            <>
              <Rename name={team.name} testid="team-rename" save={(name) => patch({ name })} />
              <label class="adm-inline">
                <span class="sr-only">{t('adm_moveTeam', { name: team.name })}</span>
                <BranchSelect
                  index={props.index}
                  openOnly
                  testid="team-move"
                  none={t('adm_moveTo')}
                  value=""
                  onChange={(branchId) => branchId && branchId !== props.branch.id && void a.run(() => patch({ branchId }, t('adm_teamMoved')))}
                />
              </label>
              <ConfirmButton
                testid="team-close"
                variant="danger"
                label={t('adm_close')}
                question={t('adm_closeTeamQ', { name: team.name })}
                confirm={t('adm_closeConfirm')}
                disabled={a.busy}
                onConfirm={() =>
                  void a.run(async () => {
                    await call(api.POST('/api/admin/teams/{teamId}/close', { params: { path: { teamId: team.id } } }));
                    notify(t('adm_teamClosed'));
                    props.changed();
                  })
                }
              />
            </>
          ) : null}
          <ErrorText error={a.error} testid="team-error" />
        </td>
      ) : null}
    </tr>
  );
}

/** The branch head (营业部负责人): one of the branch's active managers; overdue complaints escalate to them. */
function BranchHead(props: { branch: Branch; managers: AdminUser[]; edit: boolean; changed(): void }) {
  const { branch: b } = props;
  const a = useAction();
  const candidates = props.managers.filter((m) => m.branchId === b.id);
  const head = props.managers.find((m) => m.id === b.headId);
  return (
    <div class="adm-form adm-form--row" data-testid="branch-head">
      {props.edit ? (
        <Field label={t('adm_branchHead')}>
          <select
            aria-label={t('adm_branchHeadOf', { name: b.name })}
            data-testid="branch-head-select"
            value={b.headId ?? ''}
            disabled={a.busy}
            onChange={(e) => {
              const headId = e.currentTarget.value || null;
              void a.run(async () => {
                await call(api.PATCH('/api/admin/branches/{branchId}', { params: { path: { branchId: b.id } }, body: { headId } }));
                notify(t('adm_saved'));
                props.changed();
              });
            }}
          >
            <option value="">{t('adm_noHead')}</option>
            {candidates.map((m) => (
              <option key={m.id} value={m.id}>
                {`${m.displayName} (${m.login})`}
              </option>
            ))}
            {head && !candidates.includes(head) ? <option value={head.id}>{head.displayName}</option> : null}
          </select>
        </Field>
      ) : (
        <p>
          {t('adm_branchHead')}: <span data-testid="branch-head-name">{head?.displayName ?? b.headId ?? '—'}</span>
        </p>
      )}
      <ErrorText error={a.error} testid="branch-head-error" />
    </div>
  );
}

function BranchPanel(props: { branch: Branch; index: OrgIndex; managers: AdminUser[]; canEdit: boolean; changed(): void }) {
  const { branch: b } = props;
  const a = useAction();
  const closed = !!b.closedAt;
  const edit = props.canEdit && !closed;
  return (
    <Panel
      testid="branch"
      class={`adm-branch${closed ? ' adm-branch--closed' : ''}`}
      title={`${b.name} · ${b.code}${closed ? ` · ${t('adm_closed')}` : ''}`}
      actions={
        edit ? (
          <div class="adm-actions">
            <Rename
              name={b.name}
              testid="branch-rename"
              save={(name) =>
                call(api.PATCH('/api/admin/branches/{branchId}', { params: { path: { branchId: b.id } }, body: { name } })).then(() => {
                  notify(t('adm_saved'));
                  props.changed();
                })
              }
            />
            <ConfirmButton
              testid="branch-close"
              variant="danger"
              label={t('adm_close')}
              question={t('adm_closeBranchQ', { name: b.name })}
              confirm={t('adm_closeConfirm')}
              disabled={a.busy}
              onConfirm={() =>
                void a.run(async () => {
                  await call(api.POST('/api/admin/branches/{branchId}/close', { params: { path: { branchId: b.id } } }));
                  notify(t('adm_branchClosed'));
                  props.changed();
                })
              }
            />
          </div>
        ) : undefined
      }
    >
      <div data-branch-id={b.id} data-code={b.code} data-testid="branch-body" class="adm-pad">
        <BranchHead branch={b} managers={props.managers} edit={edit} changed={props.changed} />
        <ErrorText error={a.error} testid="branch-error" />
        {b.teams.length ? (
          <div class="adm-scroll">
            <table class="table adm-table" data-testid="team-table">
              <caption class="sr-only">{t('adm_teamsOf', { name: b.name })}</caption>
              <thead>
                <tr>
                  <th scope="col">{t('adm_team')}</th>
                  <th scope="col">{t('adm_manager')}</th>
                  <th scope="col">{t('adm_since')}</th>
                  {props.canEdit ? <th scope="col">{t('adm_actions')}</th> : null}
                </tr>
              </thead>
              <tbody>
                {b.teams.map((tm) => (
                  <TeamRow key={tm.id} team={tm} branch={b} index={props.index} managers={props.managers} canEdit={props.canEdit} changed={props.changed} />
                ))}
              </tbody>
            </table>
          </div>
        ) : (
          <p class="empty" data-testid="branch-no-teams">
            {t('adm_noTeams')}
          </p>
        )}
        {edit ? (
          <CreateForm
            prefix="team-new"
            label={t('adm_createTeam')}
            submit={(code, name) =>
              call(api.POST('/api/admin/teams', { body: { branchId: b.id, code, name } })).then(() => {
                notify(t('adm_teamCreated'));
                props.changed();
              })
            }
          />
        ) : null}
      </div>
    </Panel>
  );
}

export function OrgView() {
  const canEdit = user.value?.role === 'admin';
  const org = useOrg();
  const managers = useLoad(async () => (await call(api.GET('/api/admin/users', { params: { query: { role: 'manager', active: true, limit: 200 } } }))).users, []);
  const changed = () => {
    org.reload();
    managers.reload();
  };
  return (
    <Page title={t('adm_orgTitle')} hint={canEdit ? t('adm_orgHint') : t('adm_readOnly')} testid="org-view">
      {canEdit ? (
        <Panel title={t('adm_newBranch')} testid="branch-new">
          <div class="adm-pad">
            <CreateForm
              prefix="branch-new"
              label={t('adm_createBranch')}
              submit={(code, name) =>
                call(api.POST('/api/admin/branches', { body: { code, name } })).then(() => {
                  notify(t('adm_branchCreated'));
                  changed();
                })
              }
            />
          </div>
        </Panel>
      ) : null}
      <ListState list={{ ...org, data: org.data?.branches }} empty={t('adm_noBranches')} errorTestid="org-error" emptyTestid="org-empty">
        {(branches) => (
          <div class="adm-branches" data-testid="branches">
            {branches.map((b) => (
              <BranchPanel key={b.id} branch={b} index={org.index} managers={managers.data ?? []} canEdit={canEdit} changed={changed} />
            ))}
          </div>
        )}
      </ListState>
    </Page>
  );
}
