/**
 * 投资建议 / Recommendations (`/recommendations/sent`): a broker sends recommendations through the
 * suitability gate and sees the ones sent with their outcome; compliance and admin see every broker's,
 * read-only.
 */
import { role } from '../../../app/session.ts';
import { t } from '../../../i18n/i18n.ts';
import { Page } from '../../../ui/ui.tsx';
import { SendForm } from './send-form.tsx';
import { SentList, useSent } from './sent-list.tsx';

export function RecommendationsView() {
  const broker = role.value === 'broker';
  const sent = useSent();
  return (
    <Page title={t('desk_recTitle')} hint={broker ? t('desk_recHint') : t('desk_recHintOversight')} testid="recommendations-view">
      {broker ? <SendForm onSent={sent.reload} /> : null}
      <SentList sent={sent} all={!broker} />
    </Page>
  );
}
