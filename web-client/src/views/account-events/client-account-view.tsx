/**
 * A client's account events for staff (`/clients/:id/account-events`: their brokers, the primary
 * broker's team manager, compliance — the server decides). A broker who opens it has seen what it
 * shows: the newest offset is marked seen (POST …/seen), which clears the workstation badge here
 * and on the broker's other connections; new events while it is open are marked seen as they load.
 */
import { api, call } from '../../api/api.ts';
import { Link } from '../../app/router.tsx';
import type { Params } from '../../app/router.tsx';
import { user } from '../../app/session.ts';
import { t } from '../../i18n/i18n.ts';
import { Page } from '../../ui/ui.tsx';
import { useLoad } from '../../ui/use-load.ts';
import { AccountFeedList } from './account-feed-list.tsx';
import { applyUnseen, unseenByClient } from './unseen-store.ts';
import { useAccountFeed } from './use-account-feed.ts';

async function markSeen(clientId: string, top: number): Promise<void> {
  const cur = unseenByClient.value.get(clientId);
  if (cur && cur.seenOffset >= top && cur.unseen === 0) return;
  try {
    applyUnseen(await call(api.POST('/api/clients/{id}/account-events/seen', { params: { path: { id: clientId } }, body: { offset: top } })));
  } catch {
    // The badge stays; the feed itself is shown.
  }
}

export function ClientAccountView({ params }: { params: Params }) {
  const clientId = params.id ?? '';
  const broker = user.value?.role === 'broker';
  const feed = useAccountFeed(clientId, 'staff', broker ? (top) => void markSeen(clientId, top) : undefined);
  // The client's name, from the broker's own client list.
  const ws = useLoad(async () => (broker ? ((await call(api.GET('/api/workstation/clients'))).clients ?? []) : []), [broker]);
  const name = ws.data?.find((w) => w.client?.id === clientId)?.client?.displayName;
  return (
    <Page
      title={name ? t('acctClientTitle', { name }) : t('acctTitle')}
      hint={t('acctStaffHint')}
      testid="acct-client-view"
      actions={broker ? <Link href="/conversations">{t('acctBack')}</Link> : undefined}
    >
      <AccountFeedList feed={feed} />
    </Page>
  );
}
