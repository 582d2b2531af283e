/**
 * 客户 / Clients (broker, manager, admin, compliance): the clients in one's scope — a broker its own
 * and shared ones, a manager its teams', admin and compliance all — searched by name or login,
 * primary broker, branch, tier, risk level and "assessment expires within N days", paged by login.
 * Admin and compliance open a client's profile from here.
 */
import { useState } from 'preact/hooks';
import { api, call } from '../../api/api.ts';
import { Link } from '../../app/router.tsx';
import { user } from '../../app/session.ts';
import { t, tOr } from '../../i18n/i18n.ts';
import { Button, Field, ListState, Page, Panel, RiskBadge } from '../../ui/ui.tsx';
import { useLoad } from '../../ui/use-load.ts';
import { BranchSelect, ClientRiskSelect, Pager, TierSelect, formatDay, useOrg, usePager } from './parts.tsx';
import { CLIENT_RISKS, TIERS, type ClientRisk, type Tier } from './types.ts';

interface Filters {
  q: string;
  brokerId: string;
  branchId: string;
  tier: Tier | '';
  riskLevel: ClientRisk | '';
  expiresWithin: string;
}

const PAGE = 25;

export function ClientsView() {
  const role = user.value?.role;
  const firmWide = role === 'admin' || role === 'compliance';
  const org = useOrg(firmWide);
  const brokers = useLoad(
    async () => (firmWide ? (await call(api.GET('/api/admin/users', { params: { query: { role: 'broker', limit: 200 } } }))).users : []),
    [firmWide],
  );
  const [draft, setDraft] = useState<Filters>({ q: '', brokerId: '', branchId: '', tier: '', riskLevel: '', expiresWithin: '' });
  const [filters, setFilters] = useState<Filters>(draft);
  const pager = usePager();
  const list = useLoad(() => {
    const days = filters.expiresWithin.trim() === '' ? undefined : Number(filters.expiresWithin);
    return call(
      api.GET('/api/clients', {
        params: {
          query: {
            limit: PAGE,
            ...(filters.q.trim() ? { q: filters.q.trim() } : {}),
            ...(filters.brokerId ? { brokerId: filters.brokerId } : {}),
            ...(filters.branchId ? { branchId: filters.branchId } : {}),
            ...(filters.tier ? { tier: filters.tier } : {}),
            ...(filters.riskLevel ? { riskLevel: filters.riskLevel } : {}),
            ...(days !== undefined && Number.isInteger(days) ? { assessmentExpiresWithinDays: days } : {}),
            ...(pager.cursor ? { cursor: pager.cursor } : {}),
          },
        },
      }),
    );
  }, [filters, pager.cursor]);
  const edit = (p: Partial<Filters>) => setDraft((cur) => ({ ...cur, ...p }));
  return (
    <Page title={t('adm_clientsTitle')} hint={t(firmWide ? 'adm_clientsHintFirm' : role === 'manager' ? 'adm_clientsHintManager' : 'adm_clientsHintBroker')} testid="clients-view">
      <Panel testid="client-list">
        <form
          class="adm-form adm-form--row adm-pad"
          role="search"
          data-testid="client-search"
          onSubmit={(e) => {
            e.preventDefault();
            pager.reset();
            setFilters(draft);
          }}
        >
          <Field label={t('adm_search')}>
            <input type="search" data-testid="client-q" maxLength={64} value={draft.q} placeholder={t('adm_searchHint')} onInput={(e) => edit({ q: e.currentTarget.value })} />
          </Field>
          {firmWide ? (
            <>
              <Field label={t('adm_primaryBroker')}>
                <select data-testid="client-broker-filter" value={draft.brokerId} onChange={(e) => edit({ brokerId: e.currentTarget.value })}>
                  <option value="">{t('adm_any')}</option>
                  {(brokers.data ?? []).map((b) => (
                    <option key={b.id} value={b.id}>
                      {`${b.displayName} (${b.login})`}
                    </option>
                  ))}
                </select>
              </Field>
              <Field label={t('adm_branch')}>
                <BranchSelect index={org.index} testid="client-branch-filter" none={t('adm_any')} value={draft.branchId} onChange={(branchId) => edit({ branchId })} />
              </Field>
            </>
          ) : null}
          <Field label={t('adm_tier')}>
            <TierSelect testid="client-tier-filter" value={draft.tier} blank={t('adm_any')} onChange={(v) => edit({ tier: v })} />
          </Field>
          <Field label={t('adm_clientRisk')}>
            <ClientRiskSelect testid="client-risk-filter" value={draft.riskLevel} blank={t('adm_any')} onChange={(v) => edit({ riskLevel: v })} />
          </Field>
          <Field label={t('adm_expiresWithin')} hint={t('adm_expiresWithinHint')}>
            <input type="number" min={0} max={3660} step={1} data-testid="client-expiring" value={draft.expiresWithin} onInput={(e) => edit({ expiresWithin: e.currentTarget.value })} />
          </Field>
          <Button type="submit" variant="primary" testid="client-search-submit">
            {t('adm_searchGo')}
          </Button>
        </form>
        <div class="adm-pad">
          <ListState list={{ ...list, data: list.data?.clients }} empty={t('adm_noClients')} errorTestid="clients-error" emptyTestid="clients-empty">
            {(rows) => (
              <div class="adm-scroll">
                <table class="table adm-table" data-testid="clients-table">
                  <thead>
                    <tr>
                      <th scope="col">{t('adm_client')}</th>
                      <th scope="col">{t('adm_tier')}</th>
                      <th scope="col">{t('adm_clientRisk')}</th>
                      <th scope="col">{t('adm_expiresOn')}</th>
                      <th scope="col">{t('adm_primaryBroker')}</th>
                      {firmWide ? <th scope="col">{t('adm_branch')}</th> : null}
                    </tr>
                  </thead>
                  <tbody>
                    {rows.map((c) => (
                      <tr key={c.id} data-testid="client-row" data-client-id={c.id} data-login={c.login} data-risk={c.riskLevel ?? ''} data-active={String(c.active)}>
                        <td>
                          {firmWide ? (
                            <Link href={`/admin/clients/${c.id}`} data-testid="client-link">
                              {c.displayName}
                            </Link>
                          ) : (
                            <span data-testid="client-name">{c.displayName}</span>
                          )}{' '}
                          <span class="adm-mono">{c.login}</span>
                          {c.active ? null : <span class="badge adm-closed">{t('adm_disabled')}</span>}
                        </td>
                        <td>
                          {tOr(`tier_${c.tier}`, c.tier)}
                          {c.professionalInvestor ? <span class="badge adm-pro">{t('adm_professionalShort')}</span> : null}
                        </td>
                        <td>{c.riskLevel ? <RiskBadge risk={c.riskLevel} testid="client-risk" /> : t('adm_notAssessed')}</td>
                        <td data-testid="client-expires">{formatDay(c.riskExpiresOn)}</td>
                        <td data-testid="client-broker">{c.primaryBroker?.displayName ?? '—'}</td>
                        {firmWide ? <td>{org.index.branchName(c.branchId)}</td> : null}
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
          </ListState>
          <Pager testid="clients-pager" page={pager.page} hasNext={!!list.data?.nextCursor} onPrev={pager.prev} onNext={() => list.data?.nextCursor && pager.next(list.data.nextCursor)} />
        </div>
      </Panel>
    </Page>
  );
}
