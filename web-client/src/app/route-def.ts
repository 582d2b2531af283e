/**
 * What a view declares to be reachable: its URL pattern, the roles that may open it, and its entry in
 * the navigation. Areas list their routes in `views/<area>/routes.ts`; app/routes.ts joins them.
 * The server authorises every call a view makes; `roles` only decides what the UI offers.
 */
import type { ComponentType } from 'preact';
import type { Role } from '../api/api.ts';
import type { MsgKey } from '../i18n/i18n.ts';
import type { Params } from './router.tsx';

export const ALL_ROLES: readonly Role[] = ['client', 'broker', 'manager', 'research', 'compliance', 'admin'];

export interface RouteDef {
  /** e.g. `/inbox/:id?` */
  readonly path: string;
  readonly roles: readonly Role[];
  readonly view: ComponentType<{ params: Params }>;
  /** Shown in the navigation (at the pattern's static prefix) when present. */
  readonly nav?: {
    readonly label: MsgKey;
    readonly href?: string;
    readonly testid: string;
    /** A count shown beside the label (e.g. unread items); read from signals, so the nav follows it. */
    readonly badge?: () => number | undefined;
  };
}
