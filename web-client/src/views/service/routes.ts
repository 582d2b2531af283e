/** The service views (issue 11, docs/service.md): 服务质量 for managers, admin and compliance; 我的服务 for brokers. */
import type { RouteDef } from '../../app/route-def.ts';
import { QualityView } from './quality-view.tsx';

export const ROUTES: readonly RouteDef[] = [
  { path: '/service', roles: ['manager', 'admin', 'compliance'], view: QualityView, nav: { label: 'sq_nav', testid: 'nav-service' } },
  { path: '/service', roles: ['broker'], view: QualityView, nav: { label: 'sq_navMine', testid: 'nav-service' } },
];
