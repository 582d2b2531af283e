/**
 * 团队 / Team (`/team`; managers — their home — and admin): per broker of the team, clients, open
 * conversations, clients waiting for an answer, unread backlog, and the client who has waited longest
 * (name and wait, measured against the server's clock). That client opens the conversation, which
 * a manager reads as the team's supervisor. Refreshed every 30 s and on demand.
 */
import { useEffect } from 'preact/hooks';
import { api, call } from '../../../api/api.ts';
import { Link } from '../../../app/router.tsx';
import { user } from '../../../app/session.ts';
import { t } from '../../../i18n/i18n.ts';
import { formatClock, formatDuration } from '../../../lib/time.ts';
import { Button, Empty, ErrorText, Loading, Page, Panel } from '../../../ui/ui.tsx';
import { useLoad } from '../../../ui/use-load.ts';
import { conversations } from '../conversations/conversations-store.ts';

const REFRESH_MS = 30_000;

export function TeamView() {
  const ov = useLoad(() => call(api.GET('/api/team/overview')), []);
  useEffect(() => {
    const timer = setInterval(ov.reload, REFRESH_MS);
    return () => clearInterval(timer);
  }, [ov.reload]);
  const role = user.value?.role;
  const convs = conversations.value;
  const data = ov.data;
  const now = data ? Date.parse(data.generatedAt) : Date.now();
  const convOf = (brokerId: string, clientId: string) => convs.find((c) => c.type === 'broker_client' && c.brokerId === brokerId && c.clientId === clientId)?.id;
  const showTeam = data ? new Set(data.brokers.map((b) => b.teamId)).size > 1 : false;

  return (
    <Page
      title={t('team_title')}
      hint={t('team_hint')}
      testid="team-view"
      actions={
        <>
          <Link href="/team/notices" class="btn btn--plain" data-testid="team-notices-link">
            {t('team_noticesLink')}
          </Link>
          <Button testid="team-refresh" onClick={ov.reload} disabled={ov.loading}>
            {t('team_refresh')}
          </Button>
        </>
      }
    >
      <Panel>
        <ErrorText error={ov.error} testid="team-error" />
        {!data ? (
          ov.error ? null : <Loading />
        ) : data.brokers.length === 0 ? (
          <Empty text={t('team_empty')} testid="team-empty" />
        ) : (
          <table class="table team-table" data-testid="team-table">
            <caption class="team-table__caption">{t('team_updated', { time: formatClock(data.generatedAt) })}</caption>
            <thead>
              <tr>
                <th scope="col">{t('team_broker')}</th>
                {showTeam ? <th scope="col">{t('team_team')}</th> : null}
                <th scope="col" class="num">{t('team_clients')}</th>
                <th scope="col" class="num">{t('team_open')}</th>
                <th scope="col" class="num">{t('team_waiting')}</th>
                <th scope="col" class="num">{t('team_backlog')}</th>
                <th scope="col">{t('team_oldest')}</th>
              </tr>
            </thead>
            <tbody>
              {data.brokers.map((b) => {
                const o = b.oldestWaiting;
                const convId = o && role !== 'admin' ? convOf(b.brokerId, o.clientId) : undefined;
                const wait = o ? t('team_waitedFor', { duration: formatDuration(now - Date.parse(o.since)) }) : null;
                return (
                  <tr key={b.brokerId} data-testid="team-row" data-broker={b.brokerId}>
                    <th scope="row" data-testid="team-broker">
                      {b.displayName}
                    </th>
                    {showTeam ? <td>{b.teamName}</td> : null}
                    <td class="num" data-testid="team-clients">{b.clients}</td>
                    <td class="num" data-testid="team-open">{b.openConversations}</td>
                    <td class="num" data-testid="team-waiting">{b.waitingClients}</td>
                    <td class="num" data-testid="team-backlog">{b.unreadBacklog}</td>
                    <td data-testid="team-oldest">
                      {o ? (
                        <span class="team-oldest">
                          {convId ? (
                            <Link href={`/conversations/${encodeURIComponent(convId)}`} data-testid="team-oldest-link">
                              {o.displayName}
                            </Link>
                          ) : (
                            <span data-testid="team-oldest-name">{o.displayName}</span>
                          )}
                          <span class="team-oldest__wait" data-testid="team-oldest-wait">
                            {wait}
                          </span>
                        </span>
                      ) : (
                        <span class="team-none">{t('team_none')}</span>
                      )}
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
