/**
 * Routes of the oversight views. Compliance: approvals (home), archive and the conversation viewer,
 * legal holds, DLP dictionary. Admin: firm broadcast (home), approvals (read), deliveries, dead
 * letters, DLP dictionary. The server authorises every call; `roles` only decides what is offered.
 */
import type { RouteDef } from '../../app/route-def.ts';
import { ApprovalsView } from './approvals.tsx';
import { ArchiveView } from './archive.tsx';
import { BroadcastView } from './broadcast.tsx';
import { ConversationView } from './conversation.tsx';
import { DeadLettersView } from './dead-letters.tsx';
import { DeliveriesView } from './deliveries.tsx';
import { DlpView } from './dlp.tsx';
import { HoldsView } from './holds.tsx';

export const ROUTES: readonly RouteDef[] = [
  { path: '/admin/broadcast', roles: ['admin'], view: BroadcastView, nav: { label: 'ovNavBroadcast', testid: 'nav-broadcast' } },
  { path: '/compliance/approvals', roles: ['compliance', 'admin'], view: ApprovalsView, nav: { label: 'ovNavApprovals', testid: 'nav-approvals' } },
  { path: '/compliance/archive', roles: ['compliance'], view: ArchiveView, nav: { label: 'ovNavArchive', testid: 'nav-archive' } },
  { path: '/compliance/conversations/:id', roles: ['compliance'], view: ConversationView },
  { path: '/compliance/holds', roles: ['compliance'], view: HoldsView, nav: { label: 'ovNavHolds', testid: 'nav-holds' } },
  { path: '/compliance/dlp', roles: ['compliance', 'admin'], view: DlpView, nav: { label: 'ovNavDlp', testid: 'nav-dlp' } },
  { path: '/admin/deliveries', roles: ['admin'], view: DeliveriesView, nav: { label: 'ovNavDeliveries', testid: 'nav-deliveries' } },
  { path: '/admin/dead-letters', roles: ['admin'], view: DeadLettersView, nav: { label: 'ovNavDeadLetters', testid: 'nav-dead-letters' } },
];
