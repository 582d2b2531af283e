/**
 * The advisory panel under the feed: tabs by role — broker: 推荐 Recommendations and 任务 Tasks;
 * manager/admin: 任务 Tasks (send and follow); compliance: 审批 Approvals. main.ts mounts it with
 * `advisoryPanel(ctx)` in its main view and calls `advisoryReset()` on logout; everything else is here.
 */
import type { QiaoClient } from '../../src/client/qiao-client.ts';
import type { User } from './api.ts';
import { at, h, type AdvKey } from './advisory-ui.ts';
import { approvalsView, recommendView, resetRecommendations } from './recommendations.ts';
import { resetTasks, tasksView } from './tasks.ts';

export interface AdvisoryContext {
  user: User;
  token: () => string | null;
  /** The app's live socket client (null before the session started). */
  client: () => QiaoClient | null;
  /** Re-renders the panel from this module's state. */
  rerender: () => void;
}

type Tab = 'recommend' | 'tasks' | 'approvals';
const TAB_LABEL: Record<Tab, AdvKey> = { recommend: 'tabRecommend', tasks: 'tabTasks', approvals: 'tabApprovals' };

let tab: Tab | null = null;
let container: HTMLElement | null = null;
let mounted: { user: User; token: () => string | null; client: () => QiaoClient | null } | null = null;

function tabsFor(role: string): Tab[] {
  if (role === 'broker') return ['recommend', 'tasks'];
  if (role === 'manager' || role === 'admin') return ['tasks'];
  if (role === 'compliance') return ['approvals'];
  return [];
}

/** The panel for this user, or null when the role has none (clients, research). */
export function advisoryPanel(ctx: Omit<AdvisoryContext, 'rerender'>): HTMLElement | null {
  const tabs = tabsFor(ctx.user.role);
  if (!tabs.length) return null;
  if (mounted?.user.id !== ctx.user.id) {
    advisoryReset();
    tab = tabs[0];
  }
  mounted = ctx;
  container = h('section', { class: 'panel advisory', testid: 'advisory', attrs: { 'aria-label': at(TAB_LABEL[tab ?? tabs[0]]) } });
  fill();
  return container;
}

function fill(): void {
  if (!container || !mounted) return;
  const tabs = tabsFor(mounted.user.role);
  const current = tab && tabs.includes(tab) ? tab : tabs[0];
  const ctx: AdvisoryContext = { ...mounted, rerender: () => fill() };
  const bar = h(
    'div',
    { class: 'panel__head panel__head--row adv-tabs', attrs: { role: 'tablist' } },
    ...tabs.map((x) =>
      h('button', {
        class: `adv-tab${x === current ? ' adv-tab--on' : ''}`,
        testid: `adv-tab-${x}`,
        text: at(TAB_LABEL[x]),
        attrs: { type: 'button', role: 'tab', 'aria-selected': String(x === current) },
        on: {
          click: () => {
            tab = x;
            fill();
          },
        },
      }),
    ),
  );
  const body = current === 'recommend' ? recommendView(ctx) : current === 'tasks' ? tasksView(ctx) : approvalsView(ctx);
  // Keep focus where the user was typing when a live update re-renders the panel.
  const active = document.activeElement as HTMLElement | null;
  const focusId = active && container.contains(active) ? active.dataset.testid : undefined;
  container.replaceChildren(bar, h('div', { class: 'adv-body' }, body));
  if (focusId) container.querySelector<HTMLElement>(`[data-testid="${focusId}"]`)?.focus();
}

/** Logout: forget everything of the previous user. */
export function advisoryReset(): void {
  resetRecommendations();
  resetTasks();
  tab = null;
  mounted = null;
  container = null;
}

/** Called by main.ts once the live client exists, so the task feed can subscribe. */
export function advisoryRefresh(): void {
  fill();
}
