/** 账户动态 (`/account-events`, clients): my own account events, live from `account.<me>`. */
import { user } from '../../app/session.ts';
import { t } from '../../i18n/i18n.ts';
import { Page } from '../../ui/ui.tsx';
import { AccountFeedList } from './account-feed-list.tsx';
import { useAccountFeed } from './use-account-feed.ts';

export function MyAccountView() {
  const me = user.value?.id ?? '';
  const feed = useAccountFeed(me, 'own');
  return (
    <Page title={t('acctTitle')} hint={t('acctHint')} testid="acct-view">
      <AccountFeedList feed={feed} />
    </Page>
  );
}
