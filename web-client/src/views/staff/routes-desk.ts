/**
 * Routes of the research desk, broker recommendations and tasks (views/staff/research,
 * recommendations, tasks), joined into the staff routes by views/staff/routes.ts.
 */
import type { RouteDef } from '../../app/route-def.ts';
import { RecommendationsView } from './recommendations/sent.tsx';
import { ComposeView } from './research/compose.tsx';
import { NotesView } from './research/notes.tsx';
import { TasksView } from './tasks/tasks.tsx';

export const DESK_ROUTES: readonly RouteDef[] = [
  { path: '/research/compose', roles: ['research'], view: ComposeView, nav: { label: 'desk_navCompose', testid: 'nav-research-compose' } },
  { path: '/research/notes', roles: ['research'], view: NotesView, nav: { label: 'desk_navNotes', testid: 'nav-research-notes' } },
  { path: '/recommendations/sent', roles: ['broker', 'compliance', 'admin'], view: RecommendationsView, nav: { label: 'desk_navRecommendations', testid: 'nav-recommendations' } },
  { path: '/tasks', roles: ['broker', 'manager', 'admin'], view: TasksView, nav: { label: 'desk_navTasks', testid: 'nav-tasks' } },
];
