/** A feed of account events with its states (error, loading, empty) and "load earlier". */
import { t } from '../../i18n/i18n.ts';
import { Button, Empty, ErrorText, Loading } from '../../ui/ui.tsx';
import { AccountEventItem } from './account-event-item.tsx';
import type { Feed } from './use-account-feed.ts';

export function AccountFeedList(props: { feed: Feed }) {
  const { feed } = props;
  if (feed.error && !feed.events.length) return <ErrorText error={feed.error} testid="acct-error" />;
  if (!feed.loaded) return <Loading />;
  if (!feed.events.length) return <Empty text={t('acctEmpty')} testid="acct-empty" />;
  return (
    <>
      <ErrorText error={feed.error} testid="acct-error" />
      <ol class="acct-feed" data-testid="acct-feed" aria-live="polite">
        {feed.events.map((p) => (
          <AccountEventItem key={p.id} pub={p} />
        ))}
      </ol>
      {feed.nextBefore !== null ? (
        <Button testid="acct-more" onClick={() => void feed.more()}>
          {t('acctMore')}
        </Button>
      ) : null}
    </>
  );
}
