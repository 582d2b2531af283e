/**
 * A client's brokers: the primary one and those it is shared with. An admin assigns the primary broker
 * of a client without one (POST /api/clients/:id/assign) or transfers the client to another broker.
 */
import { useState } from 'preact/hooks';
import { api, call } from '../../api/api.ts';
import { notify } from '../../app/session.ts';
import { t, tOr } from '../../i18n/i18n.ts';
import { Button, ErrorText, Field, ListState, Panel } from '../../ui/ui.tsx';
import { useAction } from '../../ui/use-action.ts';
import { useLoad } from '../../ui/use-load.ts';

export function ClientBrokersPanel(props: { clientId: string; canEdit: boolean }) {
  const { clientId } = props;
  const brokers = useLoad(async () => (await call(api.GET('/api/clients/{clientId}/brokers', { params: { path: { clientId } } }))).brokers ?? [], [clientId]);
  const candidates = useLoad(
    async () => (props.canEdit ? (await call(api.GET('/api/admin/users', { params: { query: { role: 'broker', active: true, limit: 200 } } }))).users : []),
    [props.canEdit],
  );
  const [brokerId, setBrokerId] = useState('');
  const a = useAction();
  const primary = brokers.data?.find((b) => b.relation === 'primary');
  const submit = (e: Event) => {
    e.preventDefault();
    if (!brokerId) return;
    void a.run(async () => {
      if (primary) await call(api.POST('/api/clients/{clientId}/transfer', { params: { path: { clientId } }, body: { toBrokerId: brokerId } }));
      else await call(api.POST('/api/clients/{clientId}/assign', { params: { path: { clientId } }, body: { brokerId } }));
      notify(primary ? t('adm_transferred') : t('adm_assigned'));
      setBrokerId('');
      brokers.reload();
    });
  };
  return (
    <Panel title={t('adm_brokers')} testid="client-brokers">
      <div class="adm-pad">
        <ListState list={brokers} empty={t('adm_noBroker')} errorTestid="client-brokers-error" emptyTestid="client-brokers-empty">
          {(rows) => (
            <ul class="adm-list" data-testid="client-broker-list">
              {rows.map((b) => (
                <li key={b.brokerId} data-testid="client-broker" data-broker-id={b.brokerId} data-relation={b.relation}>
                  {b.displayName} <span class="badge">{tOr(`adm_rel_${b.relation ?? ''}`, b.relation ?? '')}</span>
                </li>
              ))}
            </ul>
          )}
        </ListState>
        {props.canEdit ? (
          <form class="adm-form adm-form--row" data-testid="assign-form" onSubmit={submit}>
            <Field label={primary ? t('adm_transferTo') : t('adm_assignPrimary')}>
              <select data-testid="assign-broker" required value={brokerId} onChange={(e) => setBrokerId(e.currentTarget.value)}>
                <option value="">{t('adm_choose')}</option>
                {(candidates.data ?? [])
                  .filter((b) => b.id !== primary?.brokerId)
                  .map((b) => (
                    <option key={b.id} value={b.id}>
                      {`${b.displayName} (${b.login})`}
                    </option>
                  ))}
              </select>
            </Field>
            <Button type="submit" variant="primary" testid="assign-submit" disabled={a.busy || !brokerId}>
              {primary ? t('adm_transfer') : t('adm_assign')}
            </Button>
            <ErrorText error={a.error} testid="assign-error" />
          </form>
        ) : null}
      </div>
    </Panel>
  );
}
