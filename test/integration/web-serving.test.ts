/**
 * Serving the prebuilt web client: hashed assets cached as immutable, the page (no-cache, CSP) for every
 * client route so deep links work, 404 JSON for unknown server paths, and a clear 503 code when the
 * client has not been built.
 */
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QiaoError } from '../../src/errors/codes.ts';
import webRoutes, { WEB_CSP } from '../../src/routes/web.ts';
import { buildWebClient } from '../../web-client/build/bundle.ts';
import { startEmbeddedApp, type TestApp } from '../helpers/app.ts';

describe('web client serving', () => {
  let t: TestApp;
  let assets: { js: string; css: string };

  beforeAll(async () => {
    const b = await buildWebClient();
    assets = { js: b.js, css: b.css };
    t = await startEmbeddedApp();
  }, 60_000);
  afterAll(async () => t?.close());

  it('serves hashed assets as immutable and the page without caching', async () => {
    expect(assets.js).toMatch(/^\/assets\/main-[A-Z0-9]+\.js$/);
    const js = await t.request('GET', assets.js);
    expect(js.status).toBe(200);
    expect(js.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(js.headers.get('content-type')).toContain('text/javascript');
    const css = await t.request('GET', assets.css);
    expect(css.status).toBe(200);
    expect(css.headers.get('content-type')).toContain('text/css');

    const page = await t.request('GET', '/');
    expect(page.status).toBe(200);
    expect(page.headers.get('cache-control')).toBe('no-cache');
    expect(page.headers.get('content-security-policy')).toBe(WEB_CSP);
    expect(page.text).toContain(`src="${assets.js}"`);
    expect(page.text).toContain(`href="${assets.css}"`);

    const again = await t.request('GET', '/', { headers: { 'if-none-match': page.headers.get('etag')! } });
    expect(again.status).toBe(304);
  });

  it('answers the page for client routes (deep links) and JSON 404 for server paths', async () => {
    for (const p of ['/inbox/0190b5a2-7d3e-7000-8000-000000000001', '/settings/notifications', '/compliance/holds?x=1']) {
      const r = await t.request('GET', p);
      expect(r.status, p).toBe(200);
      expect(r.headers.get('content-type')).toContain('text/html');
    }
    for (const p of ['/api/nope', '/assets/main-NOPE.js', '/health/nope']) {
      const r = await t.request('GET', p);
      expect(r.status, p).toBe(404);
      expect(r.body.error.code).toBe('QIAO_NOT_FOUND');
    }
    const sw = await t.request('GET', '/sw.js');
    expect(sw.status).toBe(200);
    expect(sw.headers.get('cache-control')).toBe('no-cache');
  });

  it('says QIAO_WEB_NOT_BUILT when the build is missing', async () => {
    const app = Fastify();
    app.setErrorHandler(async (err, _req, reply) => {
      const e = err instanceof QiaoError ? err : new QiaoError('QIAO_INTERNAL');
      return reply.code(e.status).send({ error: { code: e.code } });
    });
    await app.register(webRoutes, { distDir: '/nonexistent/qiao-dist/' });
    const r = await app.inject({ method: 'GET', url: '/inbox' });
    expect(r.statusCode).toBe(503);
    expect(r.json().error.code).toBe('QIAO_WEB_NOT_BUILT');
    await app.close();
  });
});
