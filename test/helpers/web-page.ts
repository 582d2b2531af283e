/**
 * Acting as a person in the web client: a real embedded app, real headless Chromium, a page logged in
 * through the login form. Every page records console errors, page errors and dialogs, so a suite can
 * assert there were none; `expectAccessible` runs axe-core on what the page shows and fails on any
 * serious or critical violation.
 *
 * axe-core is evaluated through the DevTools protocol, which the page's CSP (script-src 'self') does
 * not apply to, so the page under test keeps its production CSP.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { FastifyInstance } from 'fastify';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { expect } from 'vitest';
import { buildApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config/config.ts';
import { DEMO_PASSWORD } from '../../src/store/seed.ts';

export { DEMO_PASSWORD };

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
