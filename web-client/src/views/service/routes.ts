/** The service views (issue 11, docs/service.md). */
import type { RouteDef } from '../../app/route-def.ts';

export const ROUTES: readonly RouteDef[] = [];
