/**
 * Routes of the admin console: organisation and users (admin; compliance reads), a client's profile
 * (admin edits, compliance reads), and the client list of everyone who serves or oversees clients.
 * The server authorises every call; `roles` only decides what is offered.
 */
import type { RouteDef } from '../../app/route-def.ts';
import { ClientProfileView } from './client-profile.tsx';
import { ClientsView } from './clients.tsx';
import { ImportView } from './import.tsx';
import { OrgView } from './org.tsx';
import { UserDetailView } from './user-detail.tsx';
import { UsersView } from './users.tsx';

export const ROUTES: readonly RouteDef[] = [
  { path: '/clients', roles: ['broker', 'manager', 'admin', 'compliance'], view: ClientsView, nav: { label: 'adm_navClients', testid: 'nav-clients' } },
  { path: '/admin/org', roles: ['admin', 'compliance'], view: OrgView, nav: { label: 'adm_navOrg', testid: 'nav-admin-org' } },
  { path: '/admin/users', roles: ['admin', 'compliance'], view: UsersView, nav: { label: 'adm_navUsers', testid: 'nav-admin-users' } },
  { path: '/admin/users/:id', roles: ['admin', 'compliance'], view: UserDetailView },
  { path: '/admin/clients/:id', roles: ['admin', 'compliance'], view: ClientProfileView },
  { path: '/admin/import', roles: ['admin'], view: ImportView, nav: { label: 'imp_navImport', testid: 'nav-admin-import' } },
];
