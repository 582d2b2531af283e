import type { RouteDef } from '../../app/route-def.ts';
import { CONVERSATION_ROUTES } from './routes-conversations.ts';
import { DESK_ROUTES } from './routes-desk.ts';

/** Conversations first: they are the broker's and the manager's daily work. */
export const ROUTES: readonly RouteDef[] = [...CONVERSATION_ROUTES, ...DESK_ROUTES];
