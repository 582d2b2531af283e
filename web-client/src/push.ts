/**
 * "开启浏览器通知 / Enable notifications": registers the service worker (/sw.js), subscribes to web push
 * with the server's VAPID key, and stores the subscription (POST /api/push/subscriptions). Turning it
 * off unsubscribes the browser and deletes the subscription on the server; so does logging out, so a
 * shared computer does not keep showing the previous user's notifications.
 *
 * The control is a button that main.ts puts in the top bar (`pushToggle(() => state.token)`); its state
 * lives here, so re-rendering the page keeps it. Text only (textContent), never HTML.
 */
import { lang } from './i18n.ts';

type Status = 'unknown' | 'unsupported' | 'off' | 'on' | 'busy' | 'blocked' | 'error';

const TEXT: Record<'zh-CN' | 'en', Record<Status, string>> = {
  'zh-CN': {
    unknown: '开启浏览器通知',
    off: '开启浏览器通知',
    on: '关闭浏览器通知',
    busy: '请稍候…',
    blocked: '浏览器已禁止通知',
    unsupported: '此浏览器不支持通知',
    error: '开启通知失败，重试',
  },
  en: {
    unknown: 'Enable notifications',
    off: 'Enable notifications',
    on: 'Disable notifications',
    busy: 'Please wait…',
    blocked: 'Notifications blocked by the browser',
    unsupported: 'Notifications not supported',
    error: 'Could not enable notifications — retry',
  },
};

let status: Status = 'unknown';
let checked = false;

function supported(): boolean {
  return typeof navigator !== 'undefined' && 'serviceWorker' in navigator && typeof window !== 'undefined' && 'PushManager' in window && 'Notification' in window;
}

/** base64url → bytes (the applicationServerKey). */
function keyBytes(b64url: string): Uint8Array<ArrayBuffer> {
  const b64 = b64url.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (b64url.length % 4)) % 4);
  const raw = atob(b64);
  const out = new Uint8Array(new ArrayBuffer(raw.length));
  for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
  return out;
}

async function call(method: string, path: string, token: string | null, body?: unknown): Promise<Response> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (!res.ok && res.status !== 404) throw new Error(`${method} ${path}: HTTP ${res.status}`);
  return res;
}

function paint(): void {
  for (const el of document.querySelectorAll<HTMLButtonElement>('[data-testid="push-toggle"]')) {
    el.textContent = TEXT[lang()][status];
    el.disabled = status === 'busy' || status === 'unsupported' || status === 'blocked';
    el.setAttribute('aria-pressed', status === 'on' ? 'true' : 'false');
    el.dataset.state = status;
  }
}

function set(s: Status): void {
  status = s;
  paint();
}

async function registration(): Promise<ServiceWorkerRegistration> {
  await navigator.serviceWorker.register('/sw.js', { scope: '/' });
  return navigator.serviceWorker.ready;
}

/** Looks at what this browser already has (once per page load) and re-sends it for this user. */
async function check(token: () => string | null): Promise<void> {
  if (!supported()) return set('unsupported');
  if (Notification.permission === 'denied') return set('blocked');
  const reg = await navigator.serviceWorker.getRegistration('/');
  const sub = reg ? await reg.pushManager.getSubscription() : null;
  if (sub && Notification.permission === 'granted') {
    // The same browser may have been subscribed by another user before: the server moves it to us.
    await call('POST', '/api/push/subscriptions', token(), { ...sub.toJSON(), userAgent: navigator.userAgent.slice(0, 200) }).catch(() => undefined);
    set('on');
  } else set('off');
}

async function enable(token: () => string | null): Promise<void> {
  set('busy');
  try {
    const permission = await Notification.requestPermission();
    if (permission !== 'granted') return set(permission === 'denied' ? 'blocked' : 'off');
    const reg = await registration();
    const { publicKey } = (await (await call('GET', '/api/push/vapid-public-key', null)).json()) as { publicKey: string };
    const applicationServerKey = keyBytes(publicKey);
    let sub: PushSubscription;
    try {
      sub = await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey });
    } catch (e) {
      // Subscribed earlier with another server key: drop that subscription and subscribe again.
      const old = await reg.pushManager.getSubscription();
      if (!old) throw e;
      await old.unsubscribe();
      sub = await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey });
    }
    await call('POST', '/api/push/subscriptions', token(), { ...sub.toJSON(), userAgent: navigator.userAgent.slice(0, 200) });
    set('on');
  } catch {
    set('error');
  }
}

async function disable(token: () => string | null): Promise<void> {
  set('busy');
  try {
    const reg = await navigator.serviceWorker.getRegistration('/');
    const sub = reg ? await reg.pushManager.getSubscription() : null;
    if (sub) {
      await call('DELETE', '/api/push/subscriptions', token(), { endpoint: sub.endpoint }).catch(() => undefined);
      await sub.unsubscribe();
    }
    set('off');
  } catch {
    set('error');
  }
}

/** The top-bar button. `token` reads the current session token. */
export function pushToggle(token: () => string | null): HTMLButtonElement {
  const el = document.createElement('button');
  el.type = 'button';
  el.className = 'btn btn--ghost';
  el.dataset.testid = 'push-toggle';
  el.textContent = TEXT[lang()][status];
  el.addEventListener('click', () => void (status === 'on' ? disable(token) : enable(token)));
  // Paint after the caller has put the button in the page.
  queueMicrotask(paint);
  if (!checked) {
    checked = true;
    void check(token).catch(() => set('off'));
  }
  return el;
}

/** On logout: forget this browser's subscription (best effort; the token may already be invalid). */
export async function pushLogout(token: string | null): Promise<void> {
  checked = false;
  status = 'unknown';
  if (!supported()) return;
  try {
    const reg = await navigator.serviceWorker.getRegistration('/');
    const sub = reg ? await reg.pushManager.getSubscription() : null;
    if (!sub) return;
    await call('DELETE', '/api/push/subscriptions', token, { endpoint: sub.endpoint }).catch(() => undefined);
    await sub.unsubscribe();
  } catch {
    // Nothing more to do: an unsubscribed endpoint answers 410 and the server drops it then.
  }
}
