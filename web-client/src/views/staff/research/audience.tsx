/**
 * Who a note on a research channel will reach, shown before publishing (GET /api/research/audience):
 * the client tiers entitled to the channel, subscribers now, how many the note would be delivered to,
 * and the breakdown by role and tier.
 */
import { api, call, type Answer } from '../../../api/api.ts';
import { t, tOr } from '../../../i18n/i18n.ts';
import { ErrorText, Loading, Panel } from '../../../ui/ui.tsx';
import type { Loaded } from '../../../ui/use-load.ts';
import { useLoad } from '../../../ui/use-load.ts';

export type Audience = Answer<'/api/research/audience', 'get'>;

export function useAudience(channel: string): Loaded<Audience | null> {
  return useLoad(async () => (channel ? call(api.GET('/api/research/audience', { params: { query: { channel } } })) : null), [channel]);
}

export function AudiencePanel(props: { audience: Loaded<Audience | null> }) {
  const { data, error, loading } = props.audience;
  return (
    <Panel title={t('desk_audienceTitle')} testid="note-audience" class="desk-audience">
      <div class="desk-pad" aria-live="polite">
        {error ? <ErrorText error={error} testid="audience-error" /> : null}
        {loading && !data ? <Loading /> : null}
        {!data && !loading && !error ? <p class="desk-muted">{t('desk_audiencePick')}</p> : null}
        {data ? (
          <>
            <p class="desk-audience__tiers" data-testid="audience-tiers">
              <span class="desk-label">{t('desk_audienceTiers')}</span>
              {data.entitledTiers.map((tier) => (
                <span key={tier} class="chip" data-testid="audience-tier" data-tier={tier}>
                  {tOr(`tier_${tier}`, tier)}
                </span>
              ))}
            </p>
            <p class="desk-audience__counts">
              <span data-testid="audience-would-receive" data-n={String(data.wouldReceive)}>
                {t('desk_audienceWouldReceive', { n: data.wouldReceive })}
              </span>
              <span class="desk-muted" data-testid="audience-subscribers" data-n={String(data.subscribers)}>
                {t('desk_audienceSubscribers', { n: data.subscribers })}
              </span>
            </p>
            {data.breakdown.length ? (
              <table class="table desk-table" data-testid="audience-breakdown">
                <caption class="sr-only">{t('desk_audienceBreakdown')}</caption>
                <thead>
                  <tr>
                    <th scope="col">{t('desk_colRole')}</th>
                    <th scope="col">{t('desk_colTier')}</th>
                    <th scope="col">{t('desk_colSubscribers')}</th>
                    <th scope="col">{t('desk_colReceives')}</th>
                  </tr>
                </thead>
                <tbody>
                  {data.breakdown.map((b) => (
                    <tr key={`${b.role}:${b.tier ?? ''}`} data-testid="audience-row" data-role={b.role} data-tier={b.tier ?? ''} data-entitled={String(b.entitled)}>
                      <td>{tOr(`role_${b.role}`, b.role)}</td>
                      <td>{b.tier ? tOr(`tier_${b.tier}`, b.tier) : '—'}</td>
                      <td>{b.subscribers}</td>
                      <td>{b.entitled ? t('desk_yes') : t('desk_noEntitlement')}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            ) : (
              <p class="desk-muted" data-testid="audience-none">
                {t('desk_audienceNone')}
              </p>
            )}
          </>
        ) : null}
      </div>
    </Panel>
  );
}
