/*
 * Qiao push service worker. A push carries JSON { title, body, url }; it is shown as a notification,
 * and a click focuses an open Qiao tab on that URL (or opens one). Only same-origin URLs are opened.
 * Notification text is plain text by definition (the Notifications API does not render HTML).
 */
/* eslint-env serviceworker */
'use strict';

const DEFAULT_TITLE = '桥 · 新消息';

function safeUrl(raw) {
  try {
    const u = new URL(typeof raw === 'string' && raw ? raw : '/', self.location.origin);
    return u.origin === self.location.origin ? u.href : new URL('/', self.location.origin).href;
  } catch {
    return new URL('/', self.location.origin).href;
  }
}

function parsePayload(event) {
  if (!event.data) return {};
  try {
    const v = event.data.json();
    return v && typeof v === 'object' ? v : {};
  } catch {
    return { body: event.data.text() };
  }
}

self.addEventListener('install', () => {
  self.skipWaiting();
});

self.addEventListener('activate', (event) => {
  event.waitUntil(self.clients.claim());
});

self.addEventListener('push', (event) => {
  const data = parsePayload(event);
  const title = typeof data.title === 'string' && data.title ? data.title.slice(0, 200) : DEFAULT_TITLE;
  const body = typeof data.body === 'string' ? data.body.slice(0, 1000) : '';
  const url = safeUrl(data.url);
  event.waitUntil(
    self.registration.showNotification(title, {
      body,
      data: { url },
      tag: typeof data.tag === 'string' ? data.tag : undefined,
      lang: 'zh-CN',
    }),
  );
});

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const url = safeUrl(event.notification.data && event.notification.data.url);
  event.waitUntil(
    (async () => {
      const windows = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
      for (const client of windows) {
        if (client.url === url && 'focus' in client) return client.focus();
      }
      for (const client of windows) {
        if (new URL(client.url).origin === self.location.origin && 'navigate' in client) {
          await client.focus();
          return client.navigate(url);
        }
      }
      return self.clients.openWindow(url);
    })(),
  );
});
