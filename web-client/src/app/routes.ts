/**
 * Every view of the web client, in navigation order, and each role's home. `HOME` is a Record over
 * the roles, so a new role without a home does not compile.
 */
import type { Role } from '../api/api.ts';
import { ACCOUNT_SECURITY, ROUTES as ACCOUNT } from '../views/account/routes.ts';
import { ROUTES as ADMIN } from '../views/admin/routes.ts';
import { ROUTES as CLIENT } from '../views/client/routes.ts';
import { ROUTES as COMMON } from '../views/common/routes.ts';
import { ROUTES as OVERSIGHT } from '../views/oversight/routes.ts';
import { ROUTES as STAFF } from '../views/staff/routes.ts';
import { ROUTES as SERVICE } from '../views/service/routes.ts';
import { ROUTES as REMINDERS } from '../views/reminders/routes.ts';
import { ROUTES as FOLLOWUPS } from '../views/followups/routes.ts';
import { ROUTES as COMPLAINTS } from '../views/complaints/routes.ts';
import { ROUTES as ACCOUNT_EVENTS } from '../views/account-events/routes.ts';
import type { RouteDef } from './route-def.ts';
import { match, type Params } from './router.tsx';

export { ACCOUNT_SECURITY };

export const ROUTES: readonly RouteDef[] = [...CLIENT, ...ACCOUNT_EVENTS, ...STAFF, ...SERVICE, ...REMINDERS, ...FOLLOWUPS, ...COMPLAINTS, ...OVERSIGHT, ...ADMIN, ...ACCOUNT, ...COMMON];

export const HOME: Record<Role, string> = {
  client: '/inbox',
  broker: '/conversations',
  manager: '/team',
  research: '/research/compose',
  compliance: '/compliance/approvals',
  admin: '/admin/broadcast',
};

export function resolve(p: string, role: Role, onlyAccount = false): { route: RouteDef; params: Params } | null {
  for (const route of ROUTES) {
    if (!route.roles.includes(role) || (onlyAccount && route.path !== ACCOUNT_SECURITY)) continue;
    const params = match(route.path, p);
    if (params) return { route, params };
  }
  return null;
}

/** Entries every role has (settings, channels) come after the role's own work. */
const SHARED_LAST = new Set(['/settings/notifications', '/channels', ACCOUNT_SECURITY]);

/** `onlyAccount`: a role that must enrol TOTP first is offered account security alone. */
export function navFor(role: Role, onlyAccount = false): RouteDef[] {
  const mine = ROUTES.filter((r) => r.nav && r.roles.includes(role) && (!onlyAccount || r.path === ACCOUNT_SECURITY));
  return [...mine.filter((r) => !SHARED_LAST.has(navHref(r))), ...mine.filter((r) => SHARED_LAST.has(navHref(r)))];
}

/** Where a nav entry points: its own href, or the pattern's static prefix. */
export function navHref(r: RouteDef): string {
  return r.nav?.href ?? '/' + r.path.split('/').filter((s) => s && !s.startsWith(':')).join('/');
}
