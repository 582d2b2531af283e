/**
 * The Qiao web client (first cut): login, the channel list with subscribe switches, and the live feed.
 * Plain DOM, no framework; bundled by esbuild (src/routes/web.ts).
 *
 * Safety rule: every string that comes from the server (titles, summaries, bodies, names) goes into the
 * page through textContent / attributes only. This file never uses innerHTML.
 *
 * Live delivery uses the typed client library over socket.io. On login the app loads the channel list
 * and the stored subscriptions, shows the recent history of each subscribed channel, then subscribes
 * live with `since` = the last offset it showed, so nothing published in between is missed.
 */
import { io } from 'socket.io-client';
import { QiaoClient, type ClientState, type MsgPush } from '../../src/client/qiao-client.ts';
import type { PublicationFrame } from '../../src/gateway/protocol.ts';
import { Api, ApiError, type Channel, type User } from './api.ts';
import { h } from './dom.ts';
import { errorText, formatTime, lang, loadLang, setLang, t, titleOf, tOr, type MsgKey } from './i18n.ts';
import { pushLogout, pushToggle } from './push.ts';
import { complianceReset, complianceToggle } from './compliance.ts';
import { advisoryPanel, advisoryRefresh, advisoryReset } from './advisory.ts';
import { conversationsPanel, conversationsReset, conversationsStart } from './conversations.ts';

const TOKEN_KEY = 'qiao.token';
const USER_KEY = 'qiao.user';
const MAX_FEED = 300;
const HISTORY_LIMIT = 50;

// ---------------------------------------------------------------------------------------------------
// State

interface FeedItem {
  pub: PublicationFrame;
  live: boolean;
}

const state = {
  token: null as string | null,
  user: null as User | null,
  channels: [] as Channel[],
  subscribed: new Set<string>(),
  /** Channels whose live subscription is active on the socket. */
  live: new Set<string>(),
  busy: new Set<string>(),
  feed: [] as FeedItem[],
  feedIds: new Set<string>(),
  conn: 'idle' as ClientState,
  /** The hub node the socket is on (name from the welcome, and its base URL). */
  node: null as { name: string; url: string } | null,
  client: null as QiaoClient | null,
};

const api = new Api(() => state.token);
const root = document.getElementById('app') ?? document.body;
let bannerTimer: ReturnType<typeof setTimeout> | undefined;

// ---------------------------------------------------------------------------------------------------
// Layout

function header(): HTMLElement {
  const right = h('div', { class: 'topbar__right' });
  if (state.user) {
    right.append(
      connPill(),
      h(
        'div',
        { class: 'user', testid: 'user' },
        h('span', { class: 'user__name', testid: 'user-name', text: state.user.displayName }),
        h('span', { class: 'user__role', text: userLine(state.user) }),
      ),
    );
  }
  right.append(
    h('button', {
      class: 'btn btn--ghost',
      testid: 'lang-toggle',
      text: t('switchLang'),
      attrs: { type: 'button', lang: lang() === 'en' ? 'zh-CN' : 'en' },
      on: { click: () => switchLang() },
    }),
  );
  if (state.user) right.append(pushToggle(() => state.token));
  if (state.user?.role === 'compliance') right.append(complianceToggle(() => state.token));
  if (state.user) {
    right.append(h('button', { class: 'btn btn--ghost', testid: 'logout', text: t('logout'), attrs: { type: 'button' }, on: { click: () => void logout() } }));
  }
  return h(
    'header',
    { class: 'topbar' },
    h(
      'div',
      { class: 'brand' },
      h('span', { class: 'brand__mark', text: '桥', attrs: { 'aria-hidden': 'true' } }),
      h('div', { class: 'brand__text' }, h('span', { class: 'brand__name', testid: 'app-name', text: t('appName') }), h('span', { class: 'brand__tagline', text: t('appTagline') })),
    ),
    right,
  );
}

function userLine(u: User): string {
  const parts = [tOr(`role_${u.role}`, u.role)];
  if (u.tier) parts.push(tOr(`tier_${u.tier}`, u.tier));
  if (u.riskLevel) parts.push(u.riskLevel);
  return parts.join(' · ');
}

function connPill(): HTMLElement {
  const key: MsgKey =
    state.conn === 'connected' ? 'connected' : state.conn === 'reconnecting' ? 'reconnecting' : state.conn === 'connecting' || state.conn === 'idle' ? 'connecting' : 'offline';
  const node: Record<string, string> = state.conn === 'connected' && state.node ? { 'data-node': state.node.name, title: `${state.node.name} · ${state.node.url}` } : {};
  return h('span', { class: `conn conn--${key}`, testid: 'conn-state', attrs: { 'data-state': state.conn, role: 'status', ...node } }, h('span', { class: 'conn__dot' }), t(key));
}

function banner(): HTMLElement {
  return h('div', { class: 'banner', testid: 'error-banner', attrs: { role: 'alert', hidden: '' } });
}

function showError(e: unknown): void {
  const code = (e as { code?: unknown })?.code;
  const msg = errorText(typeof code === 'string' ? code : undefined, e instanceof Error ? e.message : String(e));
  const el = root.querySelector<HTMLElement>('[data-testid="error-banner"]');
  if (!el) return;
  el.replaceChildren(
    h('span', { class: 'banner__text', testid: 'error-text', text: msg }),
    h('button', { class: 'banner__close', text: '×', attrs: { type: 'button', 'aria-label': t('dismiss') }, on: { click: () => (el.hidden = true) } }),
  );
  if (typeof code === 'string') el.dataset.code = code;
  el.hidden = false;
  if (bannerTimer) clearTimeout(bannerTimer);
  bannerTimer = setTimeout(() => (el.hidden = true), 8000);
}

function render(): void {
  document.documentElement.lang = lang();
  document.title = t('appName');
  root.replaceChildren(header(), banner(), state.user ? mainView() : loginView());
}

// ---------------------------------------------------------------------------------------------------
// Login

function loginView(): HTMLElement {
  const loginInput = h('input', { testid: 'login-input', attrs: { id: 'login', name: 'login', autocomplete: 'username', required: '', autocapitalize: 'off', spellcheck: 'false' } });
  const passwordInput = h('input', { testid: 'password-input', attrs: { id: 'password', name: 'password', type: 'password', autocomplete: 'current-password', required: '' } });
  const error = h('p', { class: 'form__error', testid: 'login-error', attrs: { role: 'alert', hidden: '' } });
  const submit = h('button', { class: 'btn btn--primary btn--block', testid: 'login-submit', text: t('loginSubmit'), attrs: { type: 'submit' } });
  const form = h(
    'form',
    {
      class: 'card login',
      testid: 'login-form',
      on: {
        submit: (ev) => {
          ev.preventDefault();
          void doLogin(loginInput.value.trim(), passwordInput.value, submit, error);
        },
      },
    },
    h('h1', { class: 'login__title', text: t('loginTitle') }),
    h('label', { class: 'field' }, h('span', { class: 'field__label', text: t('loginLabel') }), loginInput),
    h('label', { class: 'field' }, h('span', { class: 'field__label', text: t('passwordLabel') }), passwordInput),
    error,
    submit,
    h('p', { class: 'login__hint', text: t('demoHint') }),
  );
  return h('main', { class: 'login-page' }, form);
}

async function doLogin(login: string, password: string, submit: HTMLButtonElement, error: HTMLElement): Promise<void> {
  if (!login || !password) return;
  submit.disabled = true;
  submit.textContent = t('loggingIn');
  error.hidden = true;
  try {
    const r = await api.login(login, password);
    state.token = r.token;
    state.user = r.user;
    try {
      sessionStorage.setItem(TOKEN_KEY, r.token);
      sessionStorage.setItem(USER_KEY, JSON.stringify(r.user));
    } catch {
      // Storage disabled: the session lasts for this page only.
    }
    await startSession();
  } catch (e) {
    if (state.token) {
      // Logged in, but loading the channels failed: start over from the login page, with the reason.
      await logout(e);
      return;
    }
    error.textContent = errorText((e as ApiError).code, (e as Error).message);
    error.dataset.code = (e as ApiError).code ?? '';
    error.hidden = false;
    submit.disabled = false;
    submit.textContent = t('loginSubmit');
  }
}

async function logout(message?: unknown): Promise<void> {
  const c = state.client;
  if (state.token) void pushLogout(state.token);
  complianceReset();
  advisoryReset();
  conversationsReset();
  state.client = null;
  state.token = null;
  state.user = null;
  state.channels = [];
  state.subscribed.clear();
  state.live.clear();
  state.busy.clear();
  state.feed = [];
  state.feedIds.clear();
  state.conn = 'idle';
  state.node = null;
  try {
    sessionStorage.removeItem(TOKEN_KEY);
    sessionStorage.removeItem(USER_KEY);
  } catch {
    // ignore
  }
  render();
  if (message) showError(message);
  if (c) await c.close();
}

// ---------------------------------------------------------------------------------------------------
// Main view: channels + feed

function mainView(): HTMLElement {
  return h(
    'main',
    { class: 'layout' },
    h(
      'aside',
      { class: 'panel channels' },
      h('div', { class: 'panel__head' }, h('h2', { class: 'panel__title', testid: 'channels-title', text: t('channels') }), h('p', { class: 'panel__hint', text: t('channelsHint') })),
      h('div', { class: 'channels__list', testid: 'channel-list' }, ...channelGroups()),
    ),
    // Clients, brokers and managers: 会话 conversations and the broker workstation (web-client/src/conversations.ts).
    state.user ? conversationsPanel({ user: state.user, token: () => state.token, client: () => state.client }) : null,
    // Brokers, managers and compliance: recommendations, tasks, approvals (web-client/src/advisory.ts).
    state.user ? advisoryPanel({ user: state.user, token: () => state.token, client: () => state.client }) : null,
    h(
      'section',
      { class: 'panel feed' },
      h(
        'div',
        { class: 'panel__head panel__head--row' },
        h('h2', { class: 'panel__title', testid: 'feed-title-heading', text: t('feed') }),
        h('span', { class: 'panel__hint', text: `${t('timeZoneNote')} (UTC+8)` }),
      ),
      feedList(),
    ),
  );
}

function channelGroups(): HTMLElement[] {
  const byFamily = new Map<string, Channel[]>();
  for (const c of state.channels) {
    const list = byFamily.get(c.family) ?? [];
    list.push(c);
    byFamily.set(c.family, list);
  }
  return [...byFamily].map(([family, list]) =>
    h(
      'section',
      { class: 'group', attrs: { 'data-family': family } },
      h('h3', { class: 'group__title', text: tOr(`family_${family}`, family) }),
      h('ul', { class: 'group__list' }, ...list.map(channelRow)),
    ),
  );
}

function channelRow(c: Channel): HTMLElement {
  const on = state.subscribed.has(c.name);
  const locked = !c.entitled && !on;
  const input = h('input', {
    class: 'switch__input',
    testid: `sub-toggle-${c.name}`,
    attrs: { type: 'checkbox', role: 'switch', 'aria-label': `${t('subscribe')} ${titleOf(c.title, c.name)}` },
  });
  input.checked = on;
  input.disabled = locked || state.busy.has(c.name);
  input.addEventListener('change', () => void toggle(c.name, input.checked));
  return h(
    'li',
    {
      class: `channel${on ? ' channel--on' : ''}${locked ? ' channel--locked' : ''}`,
      testid: 'channel-row',
      attrs: { 'data-channel': c.name, 'data-subscribed': String(on), 'data-live': String(state.live.has(c.name)) },
    },
    h(
      'div',
      { class: 'channel__text' },
      h('span', { class: 'channel__title', testid: 'channel-title', text: titleOf(c.title, c.name) }),
      h('span', { class: 'channel__name', text: c.name }),
      locked ? h('span', { class: 'channel__lock', testid: 'channel-locked', text: t('notEntitled') }) : null,
    ),
    h('label', { class: 'switch' }, input, h('span', { class: 'switch__track', attrs: { 'aria-hidden': 'true' } })),
  );
}

function refreshChannels(): void {
  const list = root.querySelector('[data-testid="channel-list"]');
  if (list) list.replaceChildren(...channelGroups());
}

function refreshConn(): void {
  root.querySelector('[data-testid="conn-state"]')?.replaceWith(connPill());
}

function feedList(): HTMLElement {
  const list = h('div', { class: 'feed__list', testid: 'feed', attrs: { 'aria-live': 'polite' } });
  if (state.feed.length === 0) list.append(h('p', { class: 'feed__empty', testid: 'feed-empty', text: t('feedEmpty') }));
  for (const item of state.feed) list.append(feedItem(item));
  return list;
}

function channelTitle(name: string): string {
  const c = state.channels.find((x) => x.name === name);
  return c ? titleOf(c.title, name) : name;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

function feedItem(item: FeedItem): HTMLElement {
  const p = item.pub;
  const pl: Obj = isObj(p.payload) ? p.payload : {};
  const title = str(pl.title) ?? str(pl.text) ?? tOr(`kind_${p.kind}`, p.kind);
  const summary = str(pl.summary) ?? (p.kind !== 'note' ? str(pl.body) : undefined);
  const body = p.kind === 'note' ? str(pl.body) : undefined;
  const tickers = Array.isArray(pl.tickers) ? pl.tickers.filter((x): x is string => typeof x === 'string') : [];
  const symbol = str(pl.symbol);
  if (symbol && !tickers.includes(symbol)) tickers.unshift(symbol);
  const risk = typeof pl.riskLevel === 'string' && /^R[1-5]$/.test(pl.riskLevel) ? pl.riskLevel : undefined;
  const severity = pl.severity === 'info' || pl.severity === 'warning' || pl.severity === 'critical' ? pl.severity : undefined;

  const meta = h(
    'div',
    { class: 'msg__meta' },
    h('span', { class: 'chip chip--channel', testid: 'feed-channel', text: channelTitle(p.channel) }),
    h('span', { class: 'badge badge--kind', testid: 'feed-kind', text: tOr(`kind_${p.kind}`, p.kind) }),
    risk ? h('span', { class: `badge badge--risk risk-${risk}`, testid: 'feed-risk', attrs: { title: t('riskLevel') }, text: tOr(`risk_${risk}`, risk) }) : null,
    severity ? h('span', { class: `badge badge--sev sev-${severity}`, testid: 'feed-severity', text: tOr(`severity_${severity}`, severity) }) : null,
    item.live ? h('span', { class: 'badge badge--new', text: t('newMessage') }) : null,
    h('time', { class: 'msg__time', testid: 'feed-time', attrs: { datetime: p.time }, text: formatTime(p.time) }),
  );
  return h(
    'article',
    {
      class: `msg msg--${p.kind === 'alert' ? 'alert' : 'note'}${item.live ? ' msg--live' : ''}${severity ? ` msg--${severity}` : ''}`,
      testid: 'feed-item',
      attrs: { 'data-channel': p.channel, 'data-id': p.id, 'data-offset': String(p.offset) },
    },
    meta,
    h('h3', { class: 'msg__title', testid: 'feed-title', text: title }),
    summary ? h('p', { class: 'msg__summary', testid: 'feed-summary', text: summary }) : null,
    tickers.length
      ? h('div', { class: 'msg__tickers', testid: 'feed-tickers', attrs: { 'aria-label': t('tickers') } }, ...tickers.slice(0, 20).map((x) => h('span', { class: 'ticker', text: x })))
      : null,
    body ? h('details', { class: 'msg__body' }, h('summary', { text: t('readMore') }), h('div', { class: 'msg__body-text', testid: 'feed-body', text: body })) : null,
  );
}

/** Newest first: by time, then offset. */
function newer(a: PublicationFrame, b: PublicationFrame): boolean {
  if (a.time !== b.time) return a.time > b.time;
  return a.offset > b.offset;
}

function addToFeed(pub: PublicationFrame, live: boolean): void {
  if (state.feedIds.has(pub.id)) return;
  state.feedIds.add(pub.id);
  const item: FeedItem = { pub, live };
  let i = 0;
  while (i < state.feed.length && newer(state.feed[i].pub, pub)) i++;
  state.feed.splice(i, 0, item);
  const list = root.querySelector('[data-testid="feed"]');
  if (list) {
    list.querySelector('[data-testid="feed-empty"]')?.remove();
    const node = feedItem(item);
    const nodes = list.querySelectorAll('[data-testid="feed-item"]');
    list.insertBefore(node, nodes[i] ?? null);
  }
  while (state.feed.length > MAX_FEED) {
    const old = state.feed.pop()!;
    state.feedIds.delete(old.pub.id);
    list?.querySelector(`[data-testid="feed-item"]:last-of-type`)?.remove();
  }
}

// ---------------------------------------------------------------------------------------------------
// Session

async function startSession(): Promise<void> {
  const [channels, subs] = await Promise.all([api.channels(), api.subscriptions()]);
  state.channels = channels;
  state.subscribed = new Set(subs.map((s) => s.channel));
  for (const c of channels) if (c.subscribed) state.subscribed.add(c.name);
  render();

  // Failover list: this page's own node first; the library adds the nodes the server advertises in its
  // welcome (QIAO_PUBLIC_NODES) and moves between them by itself (docs/protocol.md, "Client library: several nodes").
  const client = new QiaoClient({
    urls: [location.origin],
    token: () => state.token ?? '',
    transport: 'socketio',
    io,
  });
  state.client = client;
  advisoryRefresh();
  conversationsStart(client);
  client.on('state', (s) => {
    if (state.client !== client) return;
    state.conn = s;
    if (s !== 'connected') {
      state.live.clear();
      refreshChannels();
    }
    refreshConn();
  });
  client.on('node', (n) => {
    if (state.client !== client) return;
    state.node = { name: n.node, url: n.url };
    refreshConn();
  });
  client.on('gap', () => showError({ code: 'QIAO_RECOVERY_GAP' }));
  client.on('unsubscribed', (u) => {
    state.subscribed.delete(u.channel);
    state.live.delete(u.channel);
    refreshChannels();
    showError(u.error);
  });
  client.on('error', (e) => {
    if (state.client !== client) return;
    if (client.state === 'closed' && /^QIAO_(AUTH|TOKEN)_/.test(e.code)) void logout(e);
  });
  client.on('connected', () => {
    // Re-mark live channels once the client has resubscribed them.
    for (const name of client.channelNames) void whenLive(client, name);
  });
  void client.connect().catch(() => {
    // Reported through the 'error' event.
  });
  await Promise.all([...state.subscribed].map((name) => startChannel(name)));
}

/** Shows the channel's recent history, then subscribes live from its last offset. */
async function startChannel(name: string): Promise<void> {
  const client = state.client;
  if (!client) return;
  let since: number | undefined;
  try {
    const history = await api.history(name, HISTORY_LIMIT);
    for (const p of history) addToFeed(p, false);
    since = history.length ? history[history.length - 1].offset : 0;
  } catch (e) {
    showError(e);
  }
  if (state.client !== client || !state.subscribed.has(name)) return;
  const sub = client.subscribe(name, (m: MsgPush) => addToFeed(m, true), since === undefined ? {} : { since });
  await settleLive(client, name, sub);
}

async function whenLive(client: QiaoClient, name: string): Promise<void> {
  // The library resubscribes on (re)connect; a ping after it means the subscribe replies came first.
  try {
    await client.ping();
  } catch {
    return;
  }
  if (state.client === client && client.channelNames.includes(name)) {
    state.live.add(name);
    refreshChannels();
  }
}

async function settleLive(client: QiaoClient, name: string, sub: Promise<unknown>): Promise<void> {
  try {
    await sub;
    if (state.client === client && state.subscribed.has(name)) {
      state.live.add(name);
      refreshChannels();
    }
  } catch (e) {
    const code = (e as { code?: string }).code;
    // QIAO_UNAVAILABLE: the connection dropped; the library retries on reconnect.
    if (code !== 'QIAO_UNAVAILABLE' && code !== 'QIAO_NOT_SUBSCRIBED') showError(e);
  }
}

async function toggle(name: string, on: boolean): Promise<void> {
  state.busy.add(name);
  refreshChannels();
  try {
    if (on) {
      await api.subscribe(name);
      state.subscribed.add(name);
      refreshChannels();
      await startChannel(name);
    } else {
      try {
        await api.unsubscribe(name);
      } catch (e) {
        if ((e as ApiError).code !== 'QIAO_NOT_FOUND') throw e;
      }
      state.subscribed.delete(name);
      state.live.delete(name);
      await state.client?.unsubscribe(name);
    }
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return void logout(e);
    showError(e);
  } finally {
    state.busy.delete(name);
    refreshChannels();
  }
}

function switchLang(): void {
  setLang(lang() === 'en' ? 'zh-CN' : 'en');
  render();
}

async function boot(): Promise<void> {
  loadLang();
  try {
    state.token = sessionStorage.getItem(TOKEN_KEY);
    const u = sessionStorage.getItem(USER_KEY);
    state.user = u ? (JSON.parse(u) as User) : null;
  } catch {
    state.token = null;
  }
  if (!state.token) {
    state.user = null;
    render();
    return;
  }
  try {
    state.user = await api.me();
    await startSession();
  } catch (e) {
    if ((e as ApiError).status === 401) {
      await logout(e);
    } else {
      // Keep the stored session (the server may be back shortly); show the login page with the reason.
      await state.client?.close();
      state.client = null;
      state.user = null;
      render();
      showError(e);
    }
  }
}

void boot();
