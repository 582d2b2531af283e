/**
 * Browser notifications (web push) for this browser: registers the service worker (/sw.js),
 * subscribes with the server's VAPID key and stores the subscription (POST /api/push/subscriptions).
 * Turning it off unsubscribes the browser and deletes it on the server; so does logging out, so a
 * shared computer does not keep showing the previous user's notifications.
 *
 * The state is a signal here, so the settings view can come and go without asking the browser again.
 */
import { signal } from '@preact/signals';
import { api, call } from '../../api/api.ts';
import { onLogout } from '../../app/session.ts';

export type PushStatus = 'unknown' | 'unsupported' | 'off' | 'on' | 'busy' | 'blocked' | 'error';

export const pushStatus = signal<PushStatus>('unknown');
export const pushError = signal<unknown>(null);
let checked = false;

function supported(): boolean {
  return 'serviceWorker' in navigator && 'PushManager' in window && 'Notification' in window;
}

/** base64url → bytes (the applicationServerKey). */
function keyBytes(b64url: string): Uint8Array<ArrayBuffer> {
  const b64 = b64url.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (b64url.length % 4)) % 4);
  const raw = atob(b64);
  const out = new Uint8Array(new ArrayBuffer(raw.length));
  for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
  return out;
}

function subscriptionBody(sub: PushSubscription) {
  const j = sub.toJSON();
  return { endpoint: j.endpoint ?? sub.endpoint, keys: { p256dh: j.keys?.p256dh ?? '', auth: j.keys?.auth ?? '' }, userAgent: navigator.userAgent.slice(0, 200) };
}

async function current(): Promise<PushSubscription | null> {
  const reg = await navigator.serviceWorker.getRegistration('/');
  return reg ? reg.pushManager.getSubscription() : null;
}

/** Looks at what this browser already has (once per sign-in) and re-sends it for this user. */
export async function checkPush(): Promise<void> {
  if (checked) return;
  checked = true;
  try {
    if (!supported()) return void (pushStatus.value = 'unsupported');
    if (Notification.permission === 'denied') return void (pushStatus.value = 'blocked');
    const sub = await current();
    if (sub && Notification.permission === 'granted') {
      // The same browser may have been subscribed by another user before: the server moves it to us.
      await call(api.POST('/api/push/subscriptions', { body: subscriptionBody(sub) })).catch(() => undefined);
      pushStatus.value = 'on';
    } else pushStatus.value = 'off';
  } catch {
    pushStatus.value = 'off';
  }
}

export async function enablePush(): Promise<void> {
  pushStatus.value = 'busy';
  pushError.value = null;
  try {
    const permission = await Notification.requestPermission();
    if (permission !== 'granted') return void (pushStatus.value = permission === 'denied' ? 'blocked' : 'off');
    await navigator.serviceWorker.register('/sw.js', { scope: '/' });
    const reg = await navigator.serviceWorker.ready;
    const { publicKey } = await call(api.GET('/api/push/vapid-public-key'));
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
    await call(api.POST('/api/push/subscriptions', { body: subscriptionBody(sub) }));
    pushStatus.value = 'on';
  } catch (e) {
    pushError.value = e;
    pushStatus.value = 'error';
  }
}

export async function disablePush(): Promise<void> {
  pushStatus.value = 'busy';
  pushError.value = null;
  try {
    const sub = await current();
    if (sub) {
      await call(api.DELETE('/api/push/subscriptions', { body: { endpoint: sub.endpoint } })).catch(() => undefined);
      await sub.unsubscribe();
    }
    pushStatus.value = 'off';
  } catch (e) {
    pushError.value = e;
    pushStatus.value = 'error';
  }
}

// On logout: forget this browser's subscription with the old token (best effort; it may be invalid
// already — then the push service's 410 makes the server drop it at the next send).
onLogout((old) => {
  checked = false;
  pushStatus.value = 'unknown';
  pushError.value = null;
  if (!supported()) return;
  void (async () => {
    try {
      const sub = await current();
      if (!sub) return;
      if (old) {
        // Not through call(): a refused old token must not end the (already ended) session again.
        await api.DELETE('/api/push/subscriptions', { body: { endpoint: sub.endpoint }, headers: { authorization: `Bearer ${old}` } }).catch(() => undefined);
      }
      await sub.unsubscribe();
    } catch {
      // Nothing more to do.
    }
  })();
});
