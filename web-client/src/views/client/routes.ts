/** The client's views: inbox (home), recommendations received, watchlist, price alerts; and the notification settings every role has. */
import { ALL_ROLES, type RouteDef } from '../../app/route-def.ts';
import { AlertsView } from './alerts.tsx';
import { InboxView } from './inbox.tsx';
import { unread } from './inbox-store.ts';
import { RecommendationsView } from './recommendations.tsx';
import { NotificationSettingsView } from './settings.tsx';
import { WatchlistView } from './watchlist.tsx';

export const ROUTES: readonly RouteDef[] = [
  { path: '/inbox/:id?', roles: ['client'], view: InboxView, nav: { label: 'inboxTitle', testid: 'nav-inbox', badge: () => unread.value } },
  { path: '/recommendations/:id?', roles: ['client'], view: RecommendationsView, nav: { label: 'recsTitle', testid: 'nav-recommendations' } },
  { path: '/watchlist', roles: ['client'], view: WatchlistView, nav: { label: 'watchTitle', testid: 'nav-watchlist' } },
  { path: '/alerts', roles: ['client'], view: AlertsView, nav: { label: 'priceAlerts', testid: 'nav-alerts' } },
  { path: '/settings/notifications', roles: ALL_ROLES, view: NotificationSettingsView, nav: { label: 'notificationSettings', testid: 'nav-settings' } },
];
