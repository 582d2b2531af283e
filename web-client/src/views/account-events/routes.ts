/** Account events: the client's own 账户动态, and a client's feed for the staff who look after them. */
import type { RouteDef } from '../../app/route-def.ts';
import { ClientAccountView } from './client-account-view.tsx';
import { MyAccountView } from './my-account-view.tsx';

export const ROUTES: readonly RouteDef[] = [
  { path: '/account-events', roles: ['client'], view: MyAccountView, nav: { label: 'acctNav', testid: 'nav-account-events' } },
  { path: '/clients/:id/account-events', roles: ['broker', 'manager', 'compliance'], view: ClientAccountView },
];
