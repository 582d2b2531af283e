/** The team channel's recent notices, newest first: stored history, then live from its last offset. */
import { useEffect, useState } from 'preact/hooks';
import type { PublicationFrame } from '../../../../../src/gateway/protocol.ts';
import { api, call } from '../../../api/api.ts';
import { live } from '../../../app/session.ts';
import { t } from '../../../i18n/i18n.ts';
import { Empty, ErrorText, Panel } from '../../../ui/ui.tsx';
import { FeedItem } from '../../common/channels.tsx';

const LIMIT = 20;

export function RecentNotices(props: { channel: string }) {
  const [items, setItems] = useState<Array<{ pub: PublicationFrame; live: boolean }>>([]);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    let stopped = false;
    let stop: (() => void) | null = null;
    const add = (pub: PublicationFrame, isLive: boolean) =>
      setItems((cur) => (cur.some((x) => x.pub.id === pub.id) ? cur : [{ pub, live: isLive }, ...cur].sort((a, b) => b.pub.offset - a.pub.offset).slice(0, LIMIT)));
    call(api.GET('/api/channels/{channel}/history', { params: { path: { channel: props.channel }, query: { limit: LIMIT } } }))
      .then((r) => {
        const pubs = (r.publications ?? []) as PublicationFrame[];
        if (stopped) return;
        for (const p of pubs) add(p, false);
        stop = live.listen(props.channel, (m) => add(m, true), pubs.at(-1)?.offset ?? 0);
      })
      .catch((e: unknown) => {
        if (!stopped) setError(e);
      });
    return () => {
      stopped = true;
      stop?.();
    };
  }, [props.channel]);
  const notices = items.filter((x) => x.pub.kind === 'notice');
  return (
    <Panel title={t('team_recent')} testid="team-recent" class="team-recent">
      <ErrorText error={error} testid="team-recent-error" />
      <div aria-live="polite">
        {notices.length ? notices.map((x) => <FeedItem key={x.pub.id} item={x} channelTitle={t('team_channelTitle')} />) : <Empty text={t('team_noNotices')} testid="team-no-notices" />}
      </div>
    </Panel>
  );
}
