/**
 * Client-side routing with real URLs: the path is a signal fed by the History API, so a deep link
 * (`/inbox/<id>` from an email or a push, `/settings/notifications` from an email footer) opens that
 * view, and back/forward work. The server answers the page for every such path (src/routes/web.ts).
 *
 * Patterns are `/a/:param` with an optional last segment `:param?`.
 */
import { computed, signal } from '@preact/signals';
import type { ComponentChildren } from 'preact';

export const path = signal(location.pathname);
export const search = signal(location.search);
export const query = computed(() => new URLSearchParams(search.value));

export function navigate(to: string, opts: { replace?: boolean } = {}): void {
  const u = new URL(to, location.origin);
  if (u.origin !== location.origin) return;
  const target = u.pathname + u.search;
  if (target !== location.pathname + location.search) {
    if (opts.replace) history.replaceState(null, '', target);
    else history.pushState(null, '', target);
  }
  path.value = u.pathname;
  search.value = u.search;
}

addEventListener('popstate', () => {
  path.value = location.pathname;
  search.value = location.search;
});

export type Params = Record<string, string>;

/** The parameters of `pattern` in `p`, or null when it does not match. */
export function match(pattern: string, p: string): Params | null {
  const want = pattern.split('/').filter(Boolean);
  const got = p.split('/').filter(Boolean);
  const optional = want.length > 0 && want[want.length - 1].endsWith('?');
  if (got.length > want.length || got.length < want.length - (optional ? 1 : 0)) return null;
  const params: Params = {};
  for (let i = 0; i < want.length; i++) {
    const w = want[i];
    const g = got[i];
    if (w.startsWith(':')) {
      if (g === undefined) continue;
      try {
        params[w.replace(/^:|\?$/g, '')] = decodeURIComponent(g);
      } catch {
        return null;
      }
    } else if (w !== g) return null;
  }
  return params;
}

interface LinkProps {
  href: string;
  children?: ComponentChildren;
  class?: string;
  title?: string;
  'aria-label'?: string;
  'aria-current'?: 'page' | undefined;
  'data-testid'?: string;
  onClick?: (e: MouseEvent) => void;
}

/** An anchor that navigates in place (a plain left click) and is still a real link (new tab, copy). */
export function Link({ href, children, onClick, ...rest }: LinkProps) {
  return (
    <a
      href={href}
      {...rest}
      onClick={(e) => {
        onClick?.(e);
        if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
        e.preventDefault();
        navigate(href);
      }}
    >
      {children}
    </a>
  );
}
