/**
 * Conversations and the team views: 会话 (clients, brokers, managers; the total unread count in the
 * navigation), 团队 (managers' home, and admin) and its team notices.
 */
import type { RouteDef } from '../../app/route-def.ts';
import { totalUnread } from './conversations/conversations-store.ts';
import { ConversationsView } from './conversations/conversations-view.tsx';
import { TeamNoticesView } from './team/team-notices-view.tsx';
import { TeamView } from './team/team-view.tsx';

export const CONVERSATION_ROUTES: readonly RouteDef[] = [
  {
    path: '/conversations/:id?',
    roles: ['client', 'broker', 'manager'],
    view: ConversationsView,
    nav: { label: 'conv_nav', testid: 'nav-conversations', badge: () => totalUnread.value },
  },
  { path: '/team', roles: ['manager', 'admin'], view: TeamView, nav: { label: 'team_nav', testid: 'nav-team' } },
  { path: '/team/notices', roles: ['manager', 'admin'], view: TeamNoticesView },
];
