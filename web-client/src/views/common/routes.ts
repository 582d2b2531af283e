import { ALL_ROLES, type RouteDef } from '../../app/route-def.ts';
import { ChannelsView } from './channels.tsx';

export const ROUTES: readonly RouteDef[] = [{ path: '/channels', roles: ALL_ROLES, view: ChannelsView, nav: { label: 'channels', testid: 'nav-channels' } }];
