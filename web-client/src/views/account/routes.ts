/** The account views every role has: account security (two-step verification, password change). */
import { ALL_ROLES, type RouteDef } from '../../app/route-def.ts';
import { AccountSecurityView } from './security.tsx';

/** Where a role that must enrol TOTP is sent after login, and the only view it has until it enrols. */
export const ACCOUNT_SECURITY = '/account/security';

export const ROUTES: readonly RouteDef[] = [{ path: ACCOUNT_SECURITY, roles: ALL_ROLES, view: AccountSecurityView, nav: { label: 'accountSecurity', testid: 'nav-account-security' } }];
