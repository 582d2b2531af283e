/**
 * Acting as a person in the web client: a real embedded app, real headless Chromium, a page logged in
 * through the login form. Every page records console errors, page errors and dialogs, so a suite can
 * assert there were none; `expectAccessible` runs axe-core on what the page shows and fails on any
 * serious or critical violation.
 *
 * axe-core is evaluated through the DevTools protocol, which the page's CSP (script-src 'self') does
 * not apply to, so the page under test keeps its production CSP.
 *
 * `webSuite` is the usual frame of a browser suite: called inside its `describe`, it starts the app and
 * Chromium before the tests and closes the pages it opened, Chromium and the app after them.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, expect } from 'vitest';
import { buildApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config/config.ts';
import { DEMO_PASSWORD } from '../../src/store/seed.ts';
import { launchChromium } from './browser.ts';

export { DEMO_PASSWORD };

/** Date and time as the web client shows them: Asia/Shanghai, zh-CN, 24-hour, with seconds. */
export const SHANGHAI = new Intl.DateTimeFormat('zh-CN', {
  timeZone: 'Asia/Shanghai',
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  hour12: false,
});

export interface WebApp {
  app: FastifyInstance;
  base: string;
  /** A token for REST calls made by the test itself (acting as another user or a system). */
  token(login: string): Promise<string>;
  /** A REST call as `login`; returns status and parsed body. */
  rest(login: string | null, method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; body: any }>;
  close(): Promise<void>;
}

export async function startWebApp(env: Record<string, string> = {}, opts: { outboxDir?: string } = {}): Promise<WebApp> {
  // Every page of a suite logs in from 127.0.0.1: the per-address throttles are lifted unless a suite sets them.
  const config = loadConfig({
    NODE_ENV: 'test',
    QIAO_LOG_LEVEL: 'warn',
    HOST: '127.0.0.1',
    PORT: '0',
    QIAO_HTTP_RATE_LIMIT_MAX: '1000000',
    QIAO_LOGIN_RATE_MAX: '1000000',
    QIAO_LOGIN_MAX_FAILURES_PER_ADDRESS: '1000000',
    // Pages log in as admin and compliance with the password only; the account-security suite turns the requirement on.
    QIAO_TOTP_REQUIRED_ROLES: '',
    // Service sweeps run when a test calls app.qiao.sweeper.runOnce(now), never on a timer mid-test.
    QIAO_SERVICE_SWEEP_MS: '0',
    ...env,
  });
  const app = await buildApp(config, { inMemoryDb: true, logger: false, ...(opts.outboxDir ? { outboxDir: opts.outboxDir } : {}) });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const addr = app.server.address();
  if (!addr || typeof addr === 'string') throw new Error('no port');
  const base = `http://127.0.0.1:${addr.port}`;
  const tokens = new Map<string, string>();
  const token = async (login: string) => {
    let t = tokens.get(login);
    if (!t) {
      const r = await fetch(`${base}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ login, password: DEMO_PASSWORD }) });
      if (r.status !== 200) throw new Error(`login ${login}: ${r.status}`);
      t = ((await r.json()) as { token: string }).token;
      tokens.set(login, t);
    }
    return t;
  };
  const rest: WebApp['rest'] = async (login, method, path, body, headers = {}) => {
    const h: Record<string, string> = { ...headers };
    if (login) h.authorization = `Bearer ${await token(login)}`;
    if (body !== undefined) h['content-type'] = 'application/json';
    const r = await fetch(base + path, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await r.text();
    let parsed: unknown = undefined;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = text;
    }
    return { status: r.status, body: parsed };
  };
  return { app, base, token, rest, close: () => app.close() };
}

export interface UserPage {
  page: Page;
  ctx: BrowserContext;
  /** Console errors, uncaught page errors and dialogs seen so far. */
  problems: string[];
  close(): Promise<void>;
}

/** A fresh browser context, with the clock of a browser far from Shanghai (times must still be Shanghai's). */
export async function openPage(browser: Browser, base: string, path = '/', lang: 'zh-CN' | 'en' = 'zh-CN'): Promise<UserPage> {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 860 }, locale: lang, timezoneId: 'Europe/London' });
  if (lang === 'en') await ctx.addInitScript(() => localStorage.setItem('qiao.lang', 'en'));
  const page = await ctx.newPage();
  const problems: string[] = [];
  page.on('console', (m) => {
    // A refused REST call is logged by Chromium itself ("Failed to load resource"); the app shows it.
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) problems.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('dialog', (d) => {
    problems.push(`dialog: ${d.message()}`);
    void d.dismiss();
  });
  await page.goto(base + path);
  return { page, ctx, problems, close: () => ctx.close() };
}

/** Opens `path` (default: the role's home) logged in as `login` through the login form. */
export async function openAs(browser: Browser, base: string, login: string, path = '/', lang: 'zh-CN' | 'en' = 'zh-CN'): Promise<UserPage> {
  const up = await openPage(browser, base, path, lang);
  const { page } = up;
  await page.fill('[data-testid="login-input"]', login);
  await page.fill('[data-testid="password-input"]', DEMO_PASSWORD);
  await page.click('[data-testid="login-submit"]');
  await page.waitForSelector('[data-testid="conn-state"][data-state="connected"]');
  return up;
}

export interface WebSuite {
  /** The embedded app (available from the suite's own beforeAll hooks on). */
  readonly web: WebApp;
  readonly browser: Browser;
  /** The temporary outbox the app's email transport writes .eml files into (`{ outbox: true }` only). */
  readonly outbox: string;
  /** `openAs` on the suite's app and browser; the page is closed after the suite. */
  open(login: string, path?: string, lang?: 'zh-CN' | 'en'): Promise<UserPage>;
  /** `openPage` (logged out) on the suite's app and browser; the page is closed after the suite. */
  openPage(path?: string, lang?: 'zh-CN' | 'en'): Promise<UserPage>;
}

/**
 * Registers the suite's beforeAll (app from `startWebApp(env)`, then Chromium; 90 s) and afterAll (the
 * pages opened through it, Chromium, the app, the outbox; 30 s). Call it inside the `describe`; a suite
 * with setup of its own registers its beforeAll after this call, so the app is up when it runs.
 * `outbox: true` gives the app a fresh temporary outbox directory, removed after the app is closed.
 */
export function webSuite(env: Record<string, string> = {}, opts: { outbox?: boolean } = {}): WebSuite {
  let web: WebApp | undefined;
  let browser: Browser | undefined;
  let outbox: string | undefined;
  const pages: UserPage[] = [];

  beforeAll(async () => {
    if (opts.outbox) outbox = mkdtempSync(join(tmpdir(), 'qiao-web-outbox-'));
    web = await startWebApp(env, outbox ? { outboxDir: outbox } : {});
    browser = await launchChromium();
  }, 90_000);

  afterAll(async () => {
    for (const p of pages.splice(0)) await p.close().catch(() => {});
    await browser?.close();
    await web?.close();
    if (outbox) rmSync(outbox, { recursive: true, force: true });
  }, 30_000);

  const ready = <T>(v: T | undefined, what: string): T => {
    if (v === undefined) throw new Error(`webSuite: no ${what} (used before the suite's beforeAll ran, or it failed)`);
    return v;
  };
  const track = (up: UserPage): UserPage => {
    pages.push(up);
    return up;
  };
  return {
    get web() {
      return ready(web, 'app');
    },
    get browser() {
      return ready(browser, 'browser');
    },
    get outbox() {
      return ready(outbox, 'outbox (pass { outbox: true })');
    },
    open: async (login, path, lang) => track(await openAs(ready(browser, 'browser'), ready(web, 'app').base, login, path, lang)),
    openPage: async (path, lang) => track(await openPage(ready(browser, 'browser'), ready(web, 'app').base, path, lang)),
  };
}

const require = createRequire(import.meta.url);
let axeSource: string | null = null;

/** No serious or critical axe-core violation on the page as it is now. */
export async function expectAccessible(page: Page, what: string): Promise<void> {
  axeSource ??= readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
  await page.evaluate(axeSource);
  const violations = await page.evaluate(async () => {
    const axe = (globalThis as unknown as { axe: { run(ctx: unknown, opts: unknown): Promise<{ violations: Array<{ id: string; impact: string | null; help: string; nodes: Array<{ target: unknown }> }> }> } }).axe;
    const r = await axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, targets: v.nodes.slice(0, 3).map((n) => JSON.stringify(n.target)) }));
  });
  const bad = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  expect(bad, `${what}: accessibility violations`).toEqual([]);
}
