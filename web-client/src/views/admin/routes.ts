import type { RouteDef } from '../../app/route-def.ts';

export const ROUTES: readonly RouteDef[] = [];
