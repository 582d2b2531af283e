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

/** Role → the demo login and the view that shows its daily work (`{broadcast}`: an approved broadcast's id). */
export const SHOTS = [
  { name: 'client', login: 'client1', path: '/inbox' },
  { name: 'broker', login: 'broker1', path: '/conversations' },
  { name: 'manager', login: 'manager1', path: '/team' },
  { name: 'research', login: 'research1', path: '/research/notes' },
  { name: 'compliance', login: 'compliance1', path: '/compliance/approvals' },
  { name: 'admin', login: 'admin', path: '/admin/users' },
  { name: 'admin-deliveries', login: 'admin', path: '/admin/deliveries?messageId={broadcast}' },
] as const;

type Rest = (who: string, method: string, path: string, body?: unknown) => Promise<any>;

/** A morning at the firm, so each view has something to show: a note, a notice, a recommendation, broadcasts. */
async function stage(rest: Rest): Promise<{ broadcast: string }> {
  const client1 = await rest('client1', 'GET', '/api/me');
  await rest('client1', 'PUT', '/api/subscriptions/research.macro', {});
  const note = await rest('research1', 'POST', '/api/channels/research.macro/publications', {
    kind: 'note',
    payload: {
      title: '宏观周报：社融超预期，消费复苏延续',
      summary: '11 月社融增量高于市场预期，居民中长期贷款回暖；维持对消费板块的“增持”判断。',
      body: '一、社融结构改善……\n二、消费数据……\n三、风险提示：政策落地不及预期。',
      tickers: ['600519.SH', '000858.SZ'],
      riskLevel: 'R3',
      category: 'macro',
    },
  });
  await rest('broker1', 'POST', `/api/channels/inbox.${client1.id}/publications`, {
    kind: 'notice',
    payload: { title: '您的风险测评将于 30 天内到期', body: '请在到期前完成新的风险承受能力测评，以免影响产品购买。', severity: 'warning' },
  });
  await rest('broker1', 'POST', '/api/recommendations', {
    clientIds: [client1.id],
    security: '600519.SH',
    productName: '贵州茅台',
    productRisk: 'R3',
    rationale: '三季度业绩稳健，估值回到历史中枢，适合中长期配置。',
    researchMessageId: note.id,
  });
  const approved = await rest('admin', 'POST', '/api/channels/firm.broadcast/publications', {
    kind: 'notice',
    payload: { title: '系统升级通知', body: '本周六 22:00–24:00 交易系统升级，期间暂停委托。' },
  });
  await rest('compliance1', 'POST', `/api/approvals/${approved.approvalId}/approve`, { note: '内容合规，同意发布' });
  await rest('admin', 'POST', '/api/channels/firm.broadcast/publications', {
    kind: 'notice',
    payload: { title: '关于防范电信诈骗的提示', body: '公司员工不会以任何理由索要您的交易密码。' },
  });
  const done = await rest('admin', 'GET', `/api/approvals/${approved.approvalId}`);
  return { broadcast: done.messageId ?? '' };
}

async function main(): Promise<void> {
  await buildWebClient();
  await mkdir(OUT, { recursive: true });
  const config = loadConfig({ QIAO_LOG_LEVEL: 'warn', HOST: '127.0.0.1', PORT: '0', QIAO_TOTP_REQUIRED_ROLES: '' });
  const app = await buildApp(config, { inMemoryDb: true, logger: false });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const addr = app.server.address();
  if (!addr || typeof addr === 'string') throw new Error('no port');
  const base = `http://127.0.0.1:${addr.port}`;
  const tokens = new Map<string, string>();
  const rest: Rest = async (who, method, path, body) => {
    if (!tokens.has(who)) {
      const r = await fetch(`${base}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ login: who, password: DEMO_PASSWORD }) });
      tokens.set(who, ((await r.json()) as { token: string }).token);
    }
    const headers: Record<string, string> = { authorization: `Bearer ${tokens.get(who)}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const r = await fetch(base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    if (!r.ok) throw new Error(`${who} ${method} ${path}: ${r.status} ${await r.text()}`);
    return r.status === 204 ? null : r.json();
  };
  const staged = await stage(rest);
  // Let the embedded workers fan out (inbox rows, deliveries) before the pictures.
  await new Promise((r) => setTimeout(r, 2000));
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  try {
    for (const s of SHOTS) {
      const ctx = await browser.newContext({ viewport: { width: 1360, height: 860 }, locale: 'zh-CN', timezoneId: 'Asia/Shanghai' });
      const page = await ctx.newPage();
      await page.goto(base + s.path.replace('{broadcast}', staged.broadcast));
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
