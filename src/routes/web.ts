/**
 * Serves the web client: `/` (index.html), `/app.js` (web-client/src/main.ts bundled by esbuild, with
 * socket.io-client inside), `/styles.css` and `/sw.js` (push service worker), each with a strict CSP.
 *
 * The bundle is built once, on the first request for it, and kept in memory (esbuild is loaded only
 * then, so apps that never serve the page do not pay for it). With `devBundle` it is rebuilt and the
 * static files are re-read on every request, with an inline source map.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

export interface WebRoutesOptions {
  /** Rebuild the bundle and re-read files on every request (development). */
  devBundle?: boolean;
}

export const WEB_CSP = "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:";

const WEB_ROOT = fileURLToPath(new URL('../../web-client/', import.meta.url));
const ENTRY = fileURLToPath(new URL('../../web-client/src/main.ts', import.meta.url));

interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

const STATIC: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/styles.css': { file: 'styles.css', type: 'text/css; charset=utf-8' },
  '/sw.js': { file: 'sw.js', type: 'text/javascript; charset=utf-8' },
};

function asset(body: Buffer, type: string): Asset {
  return { body, type, etag: `"${createHash('sha1').update(body).digest('base64url')}"` };
}

/** Bundles the web client for the browser. */
export async function bundleWebClient(dev = false): Promise<Buffer> {
  const { build } = await import('esbuild');
  const r = await build({
    entryPoints: [ENTRY],
    bundle: true,
    format: 'esm',
    target: 'es2022',
    platform: 'browser',
    write: false,
    minify: !dev,
    sourcemap: dev ? 'inline' : false,
    legalComments: 'none',
    charset: 'utf8',
    logLevel: 'silent',
    define: { 'process.env.NODE_ENV': dev ? '"development"' : '"production"' },
  });
  return Buffer.from(r.outputFiles[0].contents);
}

export default async function webRoutes(app: FastifyInstance, opts: WebRoutesOptions = {}): Promise<void> {
  const dev = opts.devBundle === true;
  const cache = new Map<string, Promise<Asset>>();

  const load = (key: string, make: () => Promise<Asset>): Promise<Asset> => {
    if (dev) return make();
    let p = cache.get(key);
    if (!p) {
      p = make();
      cache.set(key, p);
      // A failed build is not cached: the next request tries again.
      p.catch(() => cache.delete(key));
    }
    return p;
  };

  const send = (req: FastifyRequest, reply: FastifyReply, a: Asset) => {
    reply
      .header('content-security-policy', WEB_CSP)
      .header('x-content-type-options', 'nosniff')
      .header('x-frame-options', 'DENY')
      .header('referrer-policy', 'same-origin')
      .header('cache-control', 'no-cache')
      .header('etag', a.etag)
      .type(a.type);
    if (req.headers['if-none-match'] === a.etag) return reply.code(304).send();
    return reply.send(a.body);
  };

  for (const [path, { file, type }] of Object.entries(STATIC)) {
    app.get(path, { schema: { hide: true } as never }, async (req, reply) => {
      const a = await load(path, async () => asset(await readFile(WEB_ROOT + file), type));
      return send(req, reply, a);
    });
  }

  app.get('/app.js', { schema: { hide: true } as never }, async (req, reply) => {
    let a: Asset;
    try {
      a = await load('/app.js', async () => asset(await bundleWebClient(dev), 'text/javascript; charset=utf-8'));
    } catch (err) {
      req.log.error({ err }, 'bundling the web client failed');
      throw err;
    }
    return send(req, reply, a);
  });
}
