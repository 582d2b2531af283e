import type { RouteDef } from '../../app/route-def.ts';
import { DESK_ROUTES } from './routes-desk.ts';
import { CONVERSATION_ROUTES } from './routes-conversations.ts';

export const ROUTES: readonly RouteDef[] = [
  ...DESK_ROUTES,
  ...CONVERSATION_ROUTES,
];
