/**
 * The signed-in session: token and user as signals, the live connection, and notices shown in the
 * banner. Every view reads these; nothing else keeps session state.
 *
 * The token lives in sessionStorage (this tab only). Logging out — by the user, or because the server
 * said the token is no longer good on REST or on the socket — clears it, closes the socket and returns
 * to the login page, keeping the current URL so signing in again lands where the user was.
 *
 * Live data goes through one QiaoClient over socket.io. `live.listen(channel, fn)` lets several views
 * share a channel: the first listener subscribes (recovering from `since`), the last one to leave
 * unsubscribes.
 */
import { computed, signal } from '@preact/signals';
import { io } from 'socket.io-client';
import { QiaoClient, type ClientState, type MsgPush } from '../../../src/client/qiao-client.ts';
import { errorCloseScope } from '../../../src/errors/close-codes.ts';
import { ApiError, api, call, setApiHooks, type User } from '../api/api.ts';
import { errorText } from '../i18n/i18n.ts';

const TOKEN_KEY = 'qiao.token';
const USER_KEY = 'qiao.user';

function stored<T>(key: string, parse: (v: string) => T): T | null {
  try {
    const v = sessionStorage.getItem(key);
    return v === null ? null : parse(v);
  } catch {
    return null;
  }
}

export const token = signal<string | null>(stored(TOKEN_KEY, (v) => v));
export const user = signal<User | null>(stored(USER_KEY, (v) => JSON.parse(v) as User));
export const role = computed(() => user.value?.role ?? null);

// ---------------------------------------------------------------------------------------------------
// Notices (the banner)

export interface Notice {
  id: number;
  kind: 'error' | 'info';
  /** A function is read at each render, so the text follows a language switch. */
  text: string | (() => string);
  code?: string;
}
export const notices = signal<Notice[]>([]);
let noticeSeq = 0;

export function notify(text: Notice['text'], kind: Notice['kind'] = 'info', code?: string): void {
  const n = { id: ++noticeSeq, kind, text, code };
  notices.value = [...notices.value.slice(-3), n];
  setTimeout(() => dismiss(n.id), kind === 'error' ? 10_000 : 5_000);
}

export function dismiss(id: number): void {
  notices.value = notices.value.filter((n) => n.id !== id);
}

/** Shows an error from anything thrown, in the current language, keyed by its stable code. */
export function showError(e: unknown): void {
  const code = (e as { code?: unknown })?.code;
  const c = typeof code === 'string' ? code : undefined;
  const message = e instanceof Error ? e.message : String(e);
  notify(() => errorText(c, message), 'error', c);
}

// ---------------------------------------------------------------------------------------------------
// Live connection

export const conn = signal<ClientState>('idle');
/** Channels whose live subscription the server has confirmed on the current connection. */
export const liveChannels = signal<ReadonlySet<string>>(new Set());

function markLive(channel: string, on: boolean): void {
  const next = new Set(liveChannels.value);
  if (on) next.add(channel);
  else next.delete(channel);
  liveChannels.value = next;
}
export const node = signal<{ name: string; url: string } | null>(null);

type Listener = (m: MsgPush) => void;

class LiveChannels {
  private readonly listeners = new Map<string, Set<Listener>>();
  client: QiaoClient | null = null;

  /** Delivers the channel's publications after `since` (when given) to `fn` until the returned stop. */
  listen(channel: string, fn: Listener, since?: number): () => void {
    let set = this.listeners.get(channel);
    if (!set) {
      set = new Set();
      this.listeners.set(channel, set);
      this.subscribe(channel, since);
    }
    set.add(fn);
    return () => {
      const s = this.listeners.get(channel);
      if (!s) return;
      s.delete(fn);
      if (s.size === 0) {
        this.listeners.delete(channel);
        markLive(channel, false);
        void this.client?.unsubscribe(channel).catch(() => {});
      }
    };
  }

  private subscribe(channel: string, since?: number): void {
    const c = this.client;
    if (!c) return;
    c.subscribe(channel, (m) => this.listeners.get(channel)?.forEach((fn) => fn(m)), since === undefined ? {} : { since }).then(
      () => {
        if (this.client === c && this.listeners.has(channel)) markLive(channel, true);
      },
      (e: { code?: string }) => {
      // QIAO_UNAVAILABLE: the connection dropped, and the library resubscribes on reconnect.
        if (e.code !== 'QIAO_UNAVAILABLE' && e.code !== 'QIAO_NOT_SUBSCRIBED') showError(e);
      },
    );
  }

  /** After a reconnect the library resubscribes by itself; a ping answered after that means it is done. */
  async remark(c: QiaoClient): Promise<void> {
    try {
      await c.ping();
    } catch {
      return;
    }
    if (this.client !== c) return;
    liveChannels.value = new Set([...this.listeners.keys()].filter((ch) => c.channelNames.includes(ch)));
  }

  start(c: QiaoClient): void {
    this.client = c;
    for (const ch of this.listeners.keys()) this.subscribe(ch);
  }

  stop(): void {
    this.client = null;
    this.listeners.clear();
    liveChannels.value = new Set();
  }
}

export const live = new LiveChannels();

function startLive(): void {
  const client = new QiaoClient({ urls: [location.origin], token: () => token.value ?? '', transport: 'socketio', io });
  live.start(client);
  client.on('state', (s) => {
    if (live.client !== client) return;
    conn.value = s;
    if (s !== 'connected') liveChannels.value = new Set();
  });
  client.on('connected', () => void live.remark(client));
  client.on('node', (n) => {
    if (live.client === client) node.value = { name: n.node, url: n.url };
  });
  client.on('gap', () => showError({ code: 'QIAO_RECOVERY_GAP' }));
  client.on('unsubscribed', (u) => {
    markLive(u.channel, false);
    unsubscribedSeq.value++;
    showError(u.error);
  });
  client.on('error', (e) => {
    if (live.client !== client || client.state !== 'closed') return;
    // A revoked session may be this tab's own doing (a password change or TOTP enrolment ends every
    // session before its answer brings the new token): look again once the answer had time to land.
    if (e.code === 'QIAO_SESSION_REVOKED') void recheckSession(client, e);
    // Credentials refused (the 46xx close range, src/errors/close-codes.ts): log in again.
    else if (errorCloseScope(e.code) === 'auth') void logout(e);
  });
  void client.connect().catch(() => {
    // Reported through the 'error' event.
  });
}

const RECHECK_AFTER_MS = 1000;

async function recheckSession(client: QiaoClient, e: unknown): Promise<void> {
  await new Promise((r) => setTimeout(r, RECHECK_AFTER_MS));
  // replaceToken() has started a new connection already.
  if (live.client !== client) return;
  try {
    // With the old token this is a 401, and call() logs out (onAuthLost).
    await call(api.GET('/api/me'));
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 401)) void logout(e);
    return;
  }
  if (live.client !== client) return;
  live.client = null;
  startLive();
}

/** Bumped when the server ends a subscription (entitlement or assignment changed), so views reload. */
export const unsubscribedSeq = signal(0);

// ---------------------------------------------------------------------------------------------------
// Login and logout

setApiHooks({ token: () => token.value, onAuthLost: (e) => void logout(e) });

function persist(): void {
  try {
    if (token.value && user.value) {
      sessionStorage.setItem(TOKEN_KEY, token.value);
      sessionStorage.setItem(USER_KEY, JSON.stringify(user.value));
    } else {
      sessionStorage.removeItem(TOKEN_KEY);
      sessionStorage.removeItem(USER_KEY);
    }
  } catch {
    // Storage disabled: the session lasts for this page only.
  }
}

/**
 * A role that must enrol TOTP and has not: the server answers only account endpoints, so the app shows
 * only /account/security and opens no live connection until the enrolment is confirmed.
 */
export const needsTotp = computed(() => Boolean(user.value?.totpRequired && !user.value.totpEnrolled));

function signedIn(r: { token: string; user: User }): void {
  token.value = r.token;
  user.value = r.user;
  persist();
  if (!needsTotp.value) startLive();
}

/**
 * The password step. Users with an authenticator get no token yet: the answer is a challenge for
 * `loginTotp` (the login form then asks for a code).
 */
export async function login(loginName: string, password: string): Promise<{ challenge: string } | null> {
  const r = await call(api.POST('/api/auth/login', { body: { login: loginName, password } }));
  if ('challenge' in r) return { challenge: r.challenge };
  signedIn(r);
  return null;
}

/** The second step: an authenticator code, or one of the recovery codes. */
export async function loginTotp(challenge: string, factor: { code: string } | { recoveryCode: string }): Promise<void> {
  signedIn(await call(api.POST('/api/auth/login/totp', { body: { challenge, ...factor } })));
}

/**
 * After a change that ends every other session (password change, TOTP enrolment or removal): the
 * answer's new token replaces the old one, and the live connection reconnects with it (its channels
 * are kept). `patch` updates the user (e.g. `totpEnrolled`).
 */
export function replaceToken(newToken: string, patch: Partial<User> = {}): void {
  const wasBlocked = needsTotp.value;
  token.value = newToken;
  if (user.value) user.value = { ...user.value, ...patch };
  persist();
  if (needsTotp.value) return;
  const old = live.client;
  if (old || wasBlocked) {
    live.client = null;
    if (old) void old.close();
    startLive();
  }
}

export async function logout(reason?: unknown): Promise<void> {
  const c = live.client;
  const t = token.value;
  live.stop();
  token.value = null;
  user.value = null;
  conn.value = 'idle';
  node.value = null;
  persist();
  for (const fn of logoutHooks) fn(t);
  if (reason) showError(reason);
  if (c) await c.close();
}

const logoutHooks: Array<(token: string | null) => void> = [];
/** Work to do on logout (e.g. forget this browser's push subscription) while the old token is known. */
export function onLogout(fn: (token: string | null) => void): void {
  logoutHooks.push(fn);
}

/** On page load: a stored token is checked with the server before the app trusts it. */
export async function resume(): Promise<void> {
  if (!token.value) {
    user.value = null;
    return;
  }
  try {
    user.value = await call(api.GET('/api/me'));
    persist();
    if (!needsTotp.value) startLive();
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return void logout(e);
    // Keep the stored session (the server may be back shortly) and say why nothing loads.
    showError(e);
    startLive();
  }
}
