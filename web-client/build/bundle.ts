/**
 * Builds the web client ahead of time into `web-client/dist/`:
 *
 * - `assets/main-<hash>.js` and `assets/styles-<hash>.css`: content-hashed, so the server sends them
 *   with a year-long immutable cache and a new build is a new URL;
 * - `index.html`: the page, pointing at those names (served with `no-cache`, so a deploy is picked up);
 * - `sw.js`: the push service worker, unhashed because its URL is its identity (scope `/`).
 *
 * esbuild compiles the JSX (Preact's automatic runtime, from tsconfig) with no plugin. The build is
 * skipped when `dist/build.json` records the same inputs (sizes and mtimes of every source file), so
 * `npm start` and the test run pay for it once. `--force` rebuilds; `--dev` keeps names readable and
 * adds source maps.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const DIST = join(ROOT, 'dist');
const INPUT_DIRS = [join(ROOT, 'src'), join(ROOT, 'styles'), join(ROOT, '../src'), join(ROOT, '../channels')];
const INPUT_FILES = [join(ROOT, 'index.html'), join(ROOT, 'styles.css'), join(ROOT, 'sw.js'), join(ROOT, '../package-lock.json')];

export interface BuildResult {
  built: boolean;
  js: string;
  css: string;
  ms: number;
}

async function walk(dir: string, out: string[]): Promise<void> {
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) await walk(p, out);
    else out.push(p);
  }
}

/** A fingerprint of every input: changes when any source file does. */
async function inputsKey(dev: boolean): Promise<string> {
  const files = [...INPUT_FILES];
  for (const d of INPUT_DIRS) await walk(d, files);
  files.sort();
  const h = createHash('sha256').update(dev ? 'dev' : 'prod');
  for (const f of files) {
    const s = await stat(f);
    h.update(`${relative(ROOT, f)}:${s.size}:${s.mtimeMs}\n`);
  }
  return h.digest('hex');
}

export async function buildWebClient(opts: { dev?: boolean; force?: boolean } = {}): Promise<BuildResult> {
  const t0 = performance.now();
  const dev = opts.dev === true;
  const key = await inputsKey(dev);
  const stampFile = join(DIST, 'build.json');
  if (!opts.force) {
    const prev = await readFile(stampFile, 'utf8').then((t) => JSON.parse(t) as { key: string; js: string; css: string }).catch(() => null);
    if (prev?.key === key) return { built: false, js: prev.js, css: prev.css, ms: performance.now() - t0 };
  }
  const { build } = await import('esbuild');
  await rm(DIST, { recursive: true, force: true });
  await mkdir(join(DIST, 'assets'), { recursive: true });
  const r = await build({
    entryPoints: { main: join(ROOT, 'src/main.tsx'), styles: join(ROOT, 'styles.css') },
    outdir: join(DIST, 'assets'),
    entryNames: '[name]-[hash]',
    bundle: true,
    format: 'esm',
    target: 'es2022',
    platform: 'browser',
    minify: !dev,
    sourcemap: dev ? 'inline' : false,
    legalComments: 'none',
    charset: 'utf8',
    logLevel: 'warning',
    metafile: true,
    define: { 'process.env.NODE_ENV': dev ? '"development"' : '"production"' },
  });
  const outputs = Object.keys(r.metafile.outputs).map((p) => '/assets/' + p.split('/').pop());
  const js = outputs.find((p) => p.endsWith('.js'));
  const css = outputs.find((p) => p.endsWith('.css'));
  if (!js || !css) throw new Error(`web client build produced no ${js ? 'css' : 'js'}`);
  const html = (await readFile(join(ROOT, 'index.html'), 'utf8')).replace('/styles.css', css).replace('/app.js', js);
  if (!html.includes(js) || !html.includes(css)) throw new Error('web-client/index.html must reference /styles.css and /app.js');
  await writeFile(join(DIST, 'index.html'), html);
  await writeFile(join(DIST, 'sw.js'), await readFile(join(ROOT, 'sw.js')));
  await writeFile(stampFile, JSON.stringify({ key, js, css, builtAt: new Date().toISOString() }, null, 2));
  return { built: true, js, css, ms: performance.now() - t0 };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const r = await buildWebClient({ dev: process.argv.includes('--dev'), force: process.argv.includes('--force') });
  process.stdout.write(`web client ${r.built ? 'built' : 'up to date'}: ${r.js} ${r.css} (${Math.round(r.ms)} ms)\n`);
}
