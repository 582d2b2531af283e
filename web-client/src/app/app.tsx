/**
 * The page: top bar (brand, navigation of the user's role, connection, language, logout), the notice
 * banner, and the view the URL names. Signed out, every URL shows the login form and keeps the URL, so
 * a deep link opened while signed out leads to its item after login.
 */
import { useEffect } from 'preact/hooks';
import { lang, setLang, t, tOr } from '../i18n/i18n.ts';
import { LoginView } from '../views/common/login.tsx';
import { CountBadge } from '../ui/ui.tsx';
import { ACCOUNT_SECURITY, HOME, navFor, navHref, resolve } from './routes.ts';
import { Link, navigate, path, query } from './router.tsx';
import { conn, dismiss, logout, needsTotp, node, notices, user } from './session.ts';

function ConnPill() {
  const s = conn.value;
  const key = s === 'connected' ? 'connected' : s === 'reconnecting' ? 'reconnecting' : s === 'connecting' || s === 'idle' ? 'connecting' : 'offline';
  const n = s === 'connected' ? node.value : null;
  return (
    <span class={`conn conn--${key}`} data-testid="conn-state" data-state={s} role="status" data-node={n?.name} title={n ? `${n.name} · ${n.url}` : undefined}>
      <span class="conn__dot" aria-hidden="true" />
      {t(key)}
    </span>
  );
}

function Banner() {
  const list = notices.value;
  return (
    <div class="banners" aria-live="assertive">
      {list.map((n) => (
        <div key={n.id} class={`banner banner--${n.kind}`} data-testid={n.kind === 'error' ? 'error-banner' : 'info-banner'} data-code={n.code} role={n.kind === 'error' ? 'alert' : 'status'}>
          <span class="banner__text" data-testid={n.kind === 'error' ? 'error-text' : 'info-text'}>
            {typeof n.text === 'function' ? n.text() : n.text}
          </span>
          <button type="button" class="banner__close" aria-label={t('dismiss')} onClick={() => dismiss(n.id)}>
            ×
          </button>
        </div>
      ))}
    </div>
  );
}

function TopBar() {
  const u = user.value;
  const nav = u ? navFor(u.role, needsTotp.value) : [];
  const here = path.value;
  return (
    <header class="topbar">
      <Link href="/" class="brand">
        <span class="brand__mark" aria-hidden="true">
          桥
        </span>
        <span class="brand__text">
          <span class="brand__name" data-testid="app-name">
            {t('appName')}
          </span>
          <span class="brand__tagline">{t('appTagline')}</span>
        </span>
      </Link>
      {u ? (
        <nav class="nav" aria-label={t('navLabel')} data-testid="nav">
          {nav.map((r) => {
            const href = navHref(r);
            const current = here === href || here.startsWith(href + '/');
            return (
              <Link key={r.path} href={href} class={`nav__link${current ? ' nav__link--on' : ''}`} data-testid={r.nav!.testid} aria-current={current ? 'page' : undefined}>
                {t(r.nav!.label)}
                <CountBadge n={r.nav!.badge?.()} testid={`${r.nav!.testid}-count`} />
              </Link>
            );
          })}
        </nav>
      ) : null}
      <div class="topbar__right">
        {u && !needsTotp.value ? <ConnPill /> : null}
        {u ? (
          <div class="user" data-testid="user">
            <span class="user__name" data-testid="user-name">
              {u.displayName}
            </span>
            <span class="user__role">{[tOr(`role_${u.role}`, u.role), u.tier ? tOr(`tier_${u.tier}`, u.tier) : null, u.riskLevel].filter(Boolean).join(' · ')}</span>
          </div>
        ) : null}
        <button type="button" class="btn btn--ghost" data-testid="lang-toggle" lang={lang.value === 'en' ? 'zh-CN' : 'en'} onClick={() => setLang(lang.value === 'en' ? 'zh-CN' : 'en')}>
          {t('switchLang')}
        </button>
        {u ? (
          <button type="button" class="btn btn--ghost" data-testid="logout" onClick={() => void logout()}>
            {t('logout')}
          </button>
        ) : null}
      </div>
    </header>
  );
}

function NotFound() {
  return (
    <section class="page" data-testid="not-found">
      <h1 class="page__title">{t('notFoundTitle')}</h1>
      <p>
        <Link href="/">{t('backHome')}</Link>
      </p>
    </section>
  );
}

function Outlet() {
  const u = user.value!;
  const p = path.value;
  const q = query.value;
  const blocked = needsTotp.value;
  useEffect(() => {
    // A role that must enrol TOTP sees account security only, until it has enrolled.
    if (blocked && p !== ACCOUNT_SECURITY) navigate(ACCOUNT_SECURITY, { replace: true });
    // Links of older emails: /?channel=<c>&message=<id> → the item in the inbox.
    else if (p === '/' && q.get('message')) navigate(`/inbox/${encodeURIComponent(q.get('message')!)}`, { replace: true });
    else if (p === '/') navigate(HOME[u.role], { replace: true });
  }, [p, q, u.role, blocked]);
  if (p === '/' || (blocked && p !== ACCOUNT_SECURITY)) return null;
  const r = resolve(p, u.role, blocked);
  if (!r) return <NotFound />;
  const View = r.route.view;
  return <View params={r.params} />;
}

export function App() {
  // Reading lang here re-renders the whole tree when the language changes.
  document.documentElement.lang = lang.value;
  document.title = t('appName');
  return (
    <>
      <a class="skip" href="#main">
        {t('skipToContent')}
      </a>
      <TopBar />
      <Banner />
      <main id="main" class="main" tabIndex={-1}>
        {user.value ? <Outlet /> : <LoginView />}
      </main>
    </>
  );
}
