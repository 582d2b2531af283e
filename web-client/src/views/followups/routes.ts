/** The follow-up views (客户回访, issue 11, docs/service.md). Surveys are answered from the inbox item (views/client/inbox-entry.tsx). */
import type { RouteDef } from '../../app/route-def.ts';
import { FollowupsView } from './followups-view.tsx';

export const ROUTES: readonly RouteDef[] = [
  { path: '/followups', roles: ['broker', 'manager', 'compliance', 'admin'], view: FollowupsView, nav: { label: 'fu_nav', testid: 'nav-followups' } },
];
