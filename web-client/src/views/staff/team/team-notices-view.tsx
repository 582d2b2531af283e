/**
 * 团队通知 / Team notices (`/team/notices`; managers and admin): compose a notice (title, body, level)
 * with a preview, publish it to the team channel `team.<teamId>` (channels/team.ts: the team's manager
 * and admin publish, its brokers receive), and the team's recent notices, live. Refusals are shown by
 * code; a DLP refusal names the blocked terms and keeps the text.
 */
import { useState } from 'preact/hooks';
import type { PublicationFrame } from '../../../../../src/gateway/protocol.ts';
import { api, call } from '../../../api/api.ts';
import { Link } from '../../../app/router.tsx';
import { notify, user } from '../../../app/session.ts';
import { t } from '../../../i18n/i18n.ts';
import { Button, Empty, Field, Page, Panel } from '../../../ui/ui.tsx';
import { useLoad } from '../../../ui/use-load.ts';
import { FeedItem } from '../../common/channels.tsx';
import { DlpWarning, SendError } from '../conversations/send-feedback.tsx';
import { warnTerms } from '../conversations/send.ts';
import { RecentNotices } from './recent-notices.tsx';

type Severity = 'info' | 'warning' | 'critical';
const SEVERITIES: Severity[] = ['info', 'warning', 'critical'];

/** The teams this user may publish to: a manager's own; for admin, every team of the overview. */
function useTeams(): { teams: Array<{ id: string; name: string }>; error: unknown } {
  const u = user.value;
  const isAdmin = u?.role === 'admin';
  const ov = useLoad(async () => (isAdmin ? (await call(api.GET('/api/team/overview'))).brokers : []), [isAdmin]);
  if (!isAdmin) return { teams: u?.teamId ? [{ id: u.teamId, name: t('team_channelTitle') }] : [], error: null };
  const seen = new Map<string, string>();
  for (const b of ov.data ?? []) seen.set(b.teamId, b.teamName);
  return { teams: [...seen].map(([id, name]) => ({ id, name })), error: ov.error };
}

export function TeamNoticesView() {
  const { teams, error: teamsError } = useTeams();
  const [picked, setPicked] = useState<string | null>(null);
  const teamId = picked ?? teams[0]?.id ?? null;
  const channel = teamId ? `team.${teamId}` : null;
  const [title, setTitle] = useState('');
  const [body, setBody] = useState('');
  const [severity, setSeverity] = useState<Severity>('info');
  const [error, setError] = useState<unknown>(null);
  const [warn, setWarn] = useState<string[]>([]);
  const [busy, setBusy] = useState(false);
  const edit = (fn: () => void) => {
    fn();
    setError(null);
  };

  const publish = async () => {
    if (!channel || !title.trim() || busy) return;
    setBusy(true);
    setWarn([]);
    try {
      const r = await call(
        api.POST('/api/channels/{channel}/publications', {
          params: { path: { channel }, header: { 'idempotency-key': crypto.randomUUID() } },
          body: { kind: 'notice', payload: { title: title.trim(), body: body.trim(), severity } },
        }),
      );
      setError(null);
      setWarn(warnTerms((r as { dlp?: unknown }).dlp));
      setTitle('');
      setBody('');
      setSeverity('info');
      notify(t('team_published'));
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  const preview: PublicationFrame | null = title.trim()
    ? { id: 'preview', channel: channel ?? '', kind: 'notice', offset: 0, sender: user.value?.id ?? '', time: new Date().toISOString(), payload: { title: title.trim(), body: body.trim(), severity } }
    : null;

  return (
    <Page title={t('team_noticesTitle')} hint={t('team_noticesHint')} testid="team-notices" actions={<Link href="/team" class="btn btn--plain">{t('team_title')}</Link>}>
      <SendError error={teamsError} testid="team-notice-teams-error" />
      {!channel ? (
        <Empty text={t('team_noTeam')} testid="team-no-team" />
      ) : (
        <div class="team-notices">
          <Panel title={t('team_noticesTitle')} testid="team-notice-form">
            <form
              class="team-notice-form"
              onSubmit={(e) => {
                e.preventDefault();
                void publish();
              }}
            >
              {teams.length > 1 ? (
                <Field label={t('team_pickTeam')}>
                  <select data-testid="team-notice-team" value={teamId ?? ''} onChange={(e) => setPicked(e.currentTarget.value)}>
                    {teams.map((x) => (
                      <option key={x.id} value={x.id}>
                        {x.name}
                      </option>
                    ))}
                  </select>
                </Field>
              ) : null}
              <Field label={t('team_noticeTitle')}>
                <input data-testid="team-notice-title" required maxLength={200} value={title} onInput={(e) => edit(() => setTitle(e.currentTarget.value))} />
              </Field>
              <Field label={t('team_noticeBody')}>
                <textarea data-testid="team-notice-body" rows={5} maxLength={20000} value={body} onInput={(e) => edit(() => setBody(e.currentTarget.value))} />
              </Field>
              <Field label={t('team_severity')}>
                <select data-testid="team-notice-severity" value={severity} onChange={(e) => edit(() => setSeverity(e.currentTarget.value as Severity))}>
                  {SEVERITIES.map((s) => (
                    <option key={s} value={s}>
                      {t(`severity_${s}`)}
                    </option>
                  ))}
                </select>
              </Field>
              <SendError error={error} testid="team-notice-error" />
              <DlpWarning terms={warn} testid="team-notice-dlp-warn" />
              <div class="team-notice-form__actions">
                <Button type="submit" variant="primary" testid="team-notice-publish" disabled={busy || !title.trim()}>
                  {busy ? t('team_publishing') : t('team_publish')}
                </Button>
              </div>
            </form>
          </Panel>
          <Panel title={t('team_preview')} testid="team-notice-preview">
            {preview ? <FeedItem item={{ pub: preview, live: false }} channelTitle={t('team_channelTitle')} /> : <Empty text={t('team_previewEmpty')} testid="team-preview-empty" />}
          </Panel>
          <RecentNotices key={channel} channel={channel} />
        </div>
      )}
    </Page>
  );
}
