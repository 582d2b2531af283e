/**
 * Serves the web client built ahead by `npm run build:web` (web-client/build/bundle.ts) from
 * `web-client/dist/`; nothing is bundled at request time.
 *
 * - `/assets/<name>-<hash>.{js,css}`: content-hashed, so cached for a year as immutable.
 * - `/sw.js`: the push service worker (its URL is its identity), revalidated on every load.
 * - Every other GET outside the server's own prefixes answers the page (`index.html`, `no-cache`), so
 *   the client's routes are real URLs: a deep link from an email (`/inbox/<id>`,
 *   `/settings/notifications`) opens the right view.
 *
 * Files are read once per node and kept in memory; when the build is missing the page answers
 * QIAO_WEB_NOT_BUILT (503) rather than a blank page, and is looked for again on the next request.
 */
import { createHash } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { QiaoError } from '../errors/codes.ts';

export const WEB_CSP = "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:";
export const WEB_DIST = fileURLToPath(new URL('../../web-client/dist/', import.meta.url));

/** Paths the server owns: an unknown GET under these is a 404, never the page. */
const SERVER_PREFIXES = ['/api/', '/assets/', '/docs', '/health/', '/metrics', '/ws', '/socket.io/'];
const IMMUTABLE = 'public, max-age=31536000, immutable';
const TYPES: Record<string, string> = {
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  html: 'text/html; charset=utf-8',
  map: 'application/json; charset=utf-8',
};

interface Asset {
  body: Buffer;
  type: string;
  etag: string;
  cache: string;
}

function asset(body: Buffer, name: string, cache: string): Asset {
  const ext = name.slice(name.lastIndexOf('.') + 1);
  return { body, type: TYPES[ext] ?? 'application/octet-stream', etag: `"${createHash('sha1').update(body).digest('base64url')}"`, cache };
}

async function loadDist(dir: string): Promise<Map<string, Asset>> {
  const files = new Map<string, Asset>();
  files.set('/index.html', asset(await readFile(dir + 'index.html'), 'index.html', 'no-cache'));
  files.set('/sw.js', asset(await readFile(dir + 'sw.js'), 'sw.js', 'no-cache'));
  for (const name of await readdir(dir + 'assets')) {
    files.set(`/assets/${name}`, asset(await readFile(`${dir}assets/${name}`), name, IMMUTABLE));
  }
  return files;
}

export interface WebRoutesOptions {
  /** The built client (default web-client/dist/), with a trailing slash. */
  distDir?: string;
}

export default async function webRoutes(app: FastifyInstance, opts: WebRoutesOptions = {}): Promise<void> {
  const dir = opts.distDir ?? WEB_DIST;
  let dist: Promise<Map<string, Asset>> | null = null;
  const files = (): Promise<Map<string, Asset>> => {
    if (!dist) {
      dist = loadDist(dir);
      // A missing build is not remembered: the next request looks again (e.g. after `npm run build:web`).
      dist.catch(() => (dist = null));
    }
    return dist;
  };
  const get = async (key: string): Promise<Asset | undefined> => {
    try {
      return (await files()).get(key);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new QiaoError('QIAO_WEB_NOT_BUILT');
      throw err;
    }
  };

  const send = (req: FastifyRequest, reply: FastifyReply, a: Asset) => {
    reply
      .header('content-security-policy', WEB_CSP)
      .header('x-content-type-options', 'nosniff')
      .header('x-frame-options', 'DENY')
      .header('referrer-policy', 'same-origin')
      .header('cache-control', a.cache)
      .header('etag', a.etag)
      .type(a.type);
    if (req.headers['if-none-match'] === a.etag) return reply.code(304).send();
    return reply.send(a.body);
  };

  const hide = { schema: { hide: true } as never };
  app.get<{ Params: { file: string } }>('/assets/:file', hide, async (req, reply) => {
    const a = await get(`/assets/${req.params.file}`);
    if (!a) throw new QiaoError('QIAO_NOT_FOUND');
    return send(req, reply, a);
  });
  app.get('/sw.js', hide, async (req, reply) => send(req, reply, (await get('/sw.js'))!));
  app.get('/*', hide, async (req, reply) => {
    const path = req.url.split('?')[0];
    if (SERVER_PREFIXES.some((p) => path.startsWith(p))) throw new QiaoError('QIAO_NOT_FOUND');
    return send(req, reply, (await get('/index.html'))!);
  });
}
