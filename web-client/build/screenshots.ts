/**
 * `npm run screenshots`: the main view of each role, as that user sees it on the seeded demo firm, into
 * docs/screenshots/<role>.png (linked from the README). Starts an embedded app in memory on a free port,
 * logs in through the form in headless Chromium, opens the role's view and waits for it to settle.
 * Chinese text needs a CJK font on the machine (Debian: fonts-noto-cjk).
 */
import { mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { buildApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config/config.ts';
import { DEMO_PASSWORD } from '../../src/store/seed.ts';
import { buildWebClient } from './bundle.ts';

const OUT = fileURLToPath(new URL('../../docs/screenshots/', import.meta.url));

/** Role → the demo login and the view that shows its daily work. */
export const SHOTS = [
  { name: 'client', login: 'client1', path: '/inbox' },
  { name: 'broker', login: 'broker1', path: '/conversations' },
  { name: 'manager', login: 'manager1', path: '/team' },
  { name: 'research', login: 'research1', path: '/research/compose' },
  { name: 'compliance', login: 'compliance1', path: '/compliance/approvals' },
  { name: 'admin', login: 'admin', path: '/admin/deliveries' },
] as const;

async function main(): Promise<void> {
  await buildWebClient();
  await mkdir(OUT, { recursive: true });
  const config = loadConfig({ QIAO_LOG_LEVEL: 'warn', HOST: '127.0.0.1', PORT: '0' });
  const app = await buildApp(config, { inMemoryDb: true, logger: false });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const addr = app.server.address();
  if (!addr || typeof addr === 'string') throw new Error('no port');
  const base = `http://127.0.0.1:${addr.port}`;
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  try {
    for (const s of SHOTS) {
      const ctx = await browser.newContext({ viewport: { width: 1360, height: 860 }, locale: 'zh-CN', timezoneId: 'Asia/Shanghai' });
      const page = await ctx.newPage();
      await page.goto(base + s.path);
      await page.fill('[data-testid="login-input"]', s.login);
      await page.fill('[data-testid="password-input"]', DEMO_PASSWORD);
      await page.click('[data-testid="login-submit"]');
      await page.waitForSelector('[data-testid="conn-state"][data-state="connected"]');
      await page.waitForTimeout(1500);
      await page.screenshot({ path: `${OUT}${s.name}.png` });
      process.stdout.write(`docs/screenshots/${s.name}.png\n`);
      await ctx.close();
    }
  } finally {
    await browser.close();
    await app.close();
  }
}

await main();
process.exit(0);
