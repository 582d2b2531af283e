/**
 * Builds the server (src/, workers/, channels/) into one plain-JS ES module, `dist/main.js`, so
 * production runs `node dist/main.js start|worker|…` without tsx. `npm run build` also builds the web
 * client (web-client/build/bundle.ts).
 *
 * esbuild bundles our own code (it understands the `.ts` import specifiers and top-level await) and
 * leaves every package in node_modules external: they are loaded by Node as in development, so native
 * or self-locating packages (pg, PGlite's wasm, socket.io, swagger-ui's assets) behave the same.
 *
 * Files read at run time are found from `import.meta.url` (drizzle/migrations from src/store/db.ts,
 * web-client/dist from src/routes/web.ts). In a bundle every module would share dist/main.js's URL, so
 * each module's `import.meta.url` is rewritten to the URL of its source file, computed from the
 * bundle's own location: relative paths resolve exactly as under tsx. The build therefore runs from,
 * and the bundle beside, a checkout (dist/, drizzle/, web-client/dist/, node_modules/).
 *
 * Skipped when dist/build.json records the same inputs (sizes and mtimes), as the web build does, so
 * `npm start` pays for it once. `--force` rebuilds.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, readdir, rename, stat, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Plugin } from 'esbuild';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const SERVER_DIST = join(ROOT, 'dist');
const INPUT_DIRS = ['src', 'workers', 'channels'].map((d) => join(ROOT, d));
const INPUT_FILES = [join(ROOT, 'package-lock.json'), fileURLToPath(import.meta.url)];

async function walk(dir: string, out: string[]): Promise<void> {
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) await walk(p, out);
    else if (/\.(ts|tsx|json)$/.test(e.name)) out.push(p);
  }
}

async function inputsKey(): Promise<string> {
  const files = [...INPUT_FILES];
  for (const d of INPUT_DIRS) await walk(d, files);
  files.sort();
  const h = createHash('sha256');
  for (const f of files) {
    const s = await stat(f);
    h.update(`${relative(ROOT, f)}:${s.size}:${s.mtimeMs}\n`);
  }
  return h.digest('hex');
}

/** Each module's `import.meta.url` → its source file's URL, relative to the bundle (see above). */
function sourceUrls(outdir: string): Plugin {
  return {
    name: 'source-import-meta-url',
    setup(b) {
      b.onLoad({ filter: /\.tsx?$/ }, async (args) => {
        const text = await readFile(args.path, 'utf8');
        if (!text.includes('import.meta.url')) return undefined;
        const rel = relative(outdir, args.path).split('\\').join('/');
        return { contents: text.replaceAll('import.meta.url', `new URL(${JSON.stringify(rel)}, import.meta.url).href`), loader: args.path.endsWith('x') ? 'tsx' : 'ts', resolveDir: dirname(args.path) };
      });
    },
  };
}

export interface ServerBuildResult {
  built: boolean;
  ms: number;
}

export async function buildServer(opts: { force?: boolean } = {}): Promise<ServerBuildResult> {
  const t0 = performance.now();
  const key = await inputsKey();
  const stampFile = join(SERVER_DIST, 'build.json');
  if (!opts.force) {
    const prev = await readFile(stampFile, 'utf8').then((t) => JSON.parse(t) as { key: string }).catch(() => null);
    if (prev?.key === key) return { built: false, ms: performance.now() - t0 };
  }
  const { build } = await import('esbuild');
  await mkdir(SERVER_DIST, { recursive: true });
  const r = await build({
    entryPoints: { main: join(ROOT, 'src/main.ts') },
    outdir: SERVER_DIST,
    bundle: true,
    packages: 'external',
    platform: 'node',
    format: 'esm',
    target: 'node20',
    sourcemap: 'linked',
    // Stack traces name the .ts files (Node reads the linked map).
    banner: { js: 'import { setSourceMapsEnabled as __qiaoSourceMaps } from "node:process"; __qiaoSourceMaps(true);' },
    legalComments: 'none',
    charset: 'utf8',
    logLevel: 'warning',
    write: false,
    plugins: [sourceUrls(SERVER_DIST)],
  });
  // Each file replaced atomically (write, then rename): several `npm start` at once on one checkout (the
  // README's local cluster) each build, and none may start from a half-written dist/main.js.
  const put = async (path: string, contents: string | Uint8Array) => {
    const tmp = `${path}.${process.pid}.tmp`;
    await writeFile(tmp, contents);
    await rename(tmp, path);
  };
  for (const f of r.outputFiles) await put(f.path, f.contents);
  await put(join(SERVER_DIST, 'package.json'), JSON.stringify({ type: 'module' }) + '\n');
  await put(stampFile, JSON.stringify({ key, builtAt: new Date().toISOString() }, null, 2));
  return { built: true, ms: performance.now() - t0 };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { buildWebClient } = await import('../../web-client/build/bundle.ts');
  const force = process.argv.includes('--force');
  const s = await buildServer({ force });
  process.stdout.write(`server ${s.built ? 'built' : 'up to date'}: dist/main.js (${Math.round(s.ms)} ms)\n`);
  if (!process.argv.includes('--server-only')) {
    const w = await buildWebClient({ force });
    process.stdout.write(`web client ${w.built ? 'built' : 'up to date'}: ${w.js} ${w.css} (${Math.round(w.ms)} ms)\n`);
  }
}
