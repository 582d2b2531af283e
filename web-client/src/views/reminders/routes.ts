/** The reminders views (issue 11, docs/service.md). */
import type { RouteDef } from '../../app/route-def.ts';
import { RemindersView } from './reminders.tsx';
import { REMINDER_ROLES, firedCount } from './reminders-store.ts';

export const ROUTES: readonly RouteDef[] = [
  { path: '/reminders', roles: REMINDER_ROLES, view: RemindersView, nav: { label: 'rem_nav', testid: 'nav-reminders', badge: () => firedCount.value } },
];
