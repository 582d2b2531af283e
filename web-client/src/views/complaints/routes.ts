/** The complaints views (issue 11, docs/service.md): the client's 我要投诉 / 我的投诉, the staff queue, the compliance view with the yearly report. */
import type { RouteDef } from '../../app/route-def.ts';
import { FileComplaintView, MyComplaintsView } from './client.tsx';
import { ComplaintQueueView } from './queue.tsx';

export const ROUTES: readonly RouteDef[] = [
  { path: '/complaints/new', roles: ['client'], view: FileComplaintView, nav: { label: 'cmp_navFile', testid: 'nav-complaint-new' } },
  { path: '/complaints/mine/:id?', roles: ['client'], view: MyComplaintsView, nav: { label: 'cmp_navMine', testid: 'nav-complaints-mine' } },
  // Brokers see only what is assigned to them; service desk, branch heads and managers their branch's.
  { path: '/complaints/queue/:id?', roles: ['broker', 'manager'], view: ComplaintQueueView, nav: { label: 'cmp_navQueue', testid: 'nav-complaints' } },
  { path: '/complaints/all/:id?', roles: ['compliance', 'admin'], view: ComplaintQueueView, nav: { label: 'complaintsTitle', testid: 'nav-complaints' } },
];
