/**
 * The admin console's "done means" scenario in real headless Chromium against an embedded app:
 * the admin, in the browser, creates a branch (营业部), a team in it, a manager and a broker in that
 * team (the manager named the team's manager), three clients (C2) and assigns them to the broker on the
 * client page; the new broker logs in (second context) and chats with one of them (the client over
 * REST); the admin re-grades that client C2 → C4 and the broker's open recommendation form shows C4 without a
 * reload; the admin disables the broker and the broker's open page drops to the login form within
 * ~2 s; the team is renamed and moved to a second (renamed) branch. The archive has each step
 * (compliance1, REST). Every view passes the axe check; no console
 * errors.
 */
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { gateChromium } from '../helpers/browser.ts';
import { expectAccessible, webSuite, type UserPage } from '../helpers/web-page.ts';

const hasChromium = gateChromium('the admin console browser tests');

const PASSWORD = 'Lotus-Harbor-7731!';
const BRANCH = { code: 'SZFT', name: '深圳福田营业部' };
const TEAM = { code: 'SZFT-A', name: '福田财富一组' };

describe.skipIf(!hasChromium)('admin console in Chromium', () => {
  const suite = webSuite();

  /** Logs in through the form with a password of the test's own (not the demo one). */
  async function loginPage(login: string, password: string, path: string): Promise<UserPage> {
    const up = await suite.openPage(path);
    await up.page.fill('[data-testid="login-input"]', login);
    await up.page.fill('[data-testid="password-input"]', password);
    await up.page.click('[data-testid="login-submit"]');
    await up.page.waitForSelector('[data-testid="conn-state"][data-state="connected"]');
    return up;
  }

  async function tokenOf(login: string, password: string): Promise<string> {
    const r = await fetch(`${suite.web.base}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ login, password }) });
    expect(r.status).toBe(200);
    return ((await r.json()) as { token: string }).token;
  }

  async function asToken(token: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
    const r = await fetch(suite.web.base + path, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await r.text();
    return { status: r.status, body: text ? JSON.parse(text) : undefined };
  }

  async function createUser(page: Page, f: { login: string; name: string; role: string; teamId?: string; risk?: string }): Promise<string> {
    await page.fill('[data-testid="user-new-login"]', f.login);
    await page.fill('[data-testid="user-new-name"]', f.name);
    await page.selectOption('[data-testid="user-new-role"]', f.role);
    if (f.teamId) await page.selectOption('[data-testid="user-new-team"]', f.teamId);
    if (f.risk) {
      await page.selectOption('[data-testid="user-new-tier"]', 'general');
      await page.selectOption('[data-testid="user-new-risk"]', f.risk);
    }
    await page.fill('[data-testid="user-new-password"]', PASSWORD);
    await page.click('[data-testid="user-new-submit"]');
    // The list shows the new user once created.
    await page.fill('[data-testid="user-q"]', f.login);
    await page.click('[data-testid="user-search-submit"]');
    const row = page.locator(`[data-testid="user-row"][data-login="${f.login}"]`);
    await row.waitFor();
    return (await row.getAttribute('data-user-id'))!;
  }

  it('builds a branch, team, broker and clients; the broker chats, sees a re-grade, and is cut off when disabled', async () => {
    const admin = await suite.open('admin', '/admin/org');
    const { page } = admin;

    // 1. Branch and team.
    await page.waitForSelector('[data-testid="org-view"] [data-testid="branches"]');
    await expectAccessible(page, 'organisation');
    await page.fill('[data-testid="branch-new-code"]', BRANCH.code);
    await page.fill('[data-testid="branch-new-name"]', BRANCH.name);
    await page.click('[data-testid="branch-new-submit"]');
    const branch = page.locator('[data-testid="branch"]', { has: page.locator(`[data-testid="branch-body"][data-code="${BRANCH.code}"]`) });
    await branch.waitFor();
    await branch.locator('[data-testid="team-new-code"]').fill(TEAM.code);
    await branch.locator('[data-testid="team-new-name"]').fill(TEAM.name);
    await branch.locator('[data-testid="team-new-submit"]').click();
    const teamRow = branch.locator(`[data-testid="team-row"][data-code="${TEAM.code}"]`);
    await teamRow.waitFor();
    const teamId = (await teamRow.getAttribute('data-team-id'))!;
    await expectAccessible(page, 'organisation with a new branch and team');

    // 2. A manager and a broker in the team, three clients.
    await page.click('[data-testid="nav-admin-users"]');
    await page.waitForSelector('[data-testid="user-new-form"]');
    await page.waitForSelector('[data-testid="users-table"]');
    await expectAccessible(page, 'users');
    const managerId = await createUser(page, { login: 'ft.manager', name: '孙经理', role: 'manager', teamId });
    const brokerId = await createUser(page, { login: 'ft.broker', name: '钱经纪', role: 'broker', teamId });
    const clients: string[] = [];
    for (const [i, name] of ['郑先生', '冯女士', '陈先生'].entries()) clients.push(await createUser(page, { login: `ft.client${i + 1}`, name, role: 'client', risk: 'C2' }));

    // The manager becomes the team's manager.
    await page.click('[data-testid="nav-admin-org"]');
    const select = page.locator(`[data-testid="team-row"][data-team-id="${teamId}"] [data-testid="team-manager-select"]`);
    await select.waitFor();
    await page.waitForSelector(`[data-testid="team-manager-select"] option[value="${managerId}"]`, { state: 'attached' });
    await select.selectOption(managerId);
    await expect.poll(async () => (await suite.web.rest('admin', 'GET', '/api/admin/org')).body.branches.flatMap((b: any) => b.teams).find((t: any) => t.id === teamId)?.managerId).toBe(managerId);

    // 3. The clients get the broker as primary, on the client page.
    for (const c of clients) {
      await page.goto(`${suite.web.base}/admin/clients/${c}`);
      await page.waitForSelector('[data-testid="profile-form"]');
      await page.waitForSelector(`[data-testid="assign-broker"] option[value="${brokerId}"]`, { state: 'attached' });
      await page.selectOption('[data-testid="assign-broker"]', brokerId);
      await page.click('[data-testid="assign-submit"]');
      await page.waitForSelector(`[data-testid="client-broker"][data-broker-id="${brokerId}"][data-relation="primary"]`);
    }
    await expectAccessible(page, 'client profile with its broker');

    // The admin's client list, filtered by the new broker: the three.
    await page.click('[data-testid="nav-clients"]');
    await page.waitForSelector(`[data-testid="client-broker-filter"] option[value="${brokerId}"]`, { state: 'attached' });
    await page.selectOption('[data-testid="client-broker-filter"]', brokerId);
    await page.click('[data-testid="client-search-submit"]');
    await expect.poll(() => page.locator('[data-testid="client-row"]').count()).toBe(3);
    await expectAccessible(page, 'client list');

    // 4. The broker logs in and chats with the first client (client side over REST).
    const broker = await loginPage('ft.broker', PASSWORD, '/conversations');
    const clientToken = await tokenOf('ft.client1', PASSWORD);
    const opened = await asToken(clientToken, 'POST', '/api/conversations', { type: 'broker_client' });
    expect([200, 201]).toContain(opened.status);
    const convId = opened.body.conversation.id as string;
    expect((await asToken(clientToken, 'POST', `/api/conversations/${convId}/messages`, { kind: 'chat', payload: { text: '您好，我想了解一下基金定投。' } })).status).toBeLessThan(300);
    await broker.page.goto(`${suite.web.base}/conversations/${convId}`);
    await broker.page.locator('[data-testid="conv-msg-text"]', { hasText: '基金定投' }).waitFor();
    await broker.page.fill('[data-testid="conv-input"]', '您好郑先生，稍后给您发一份定投方案。');
    await broker.page.click('[data-testid="conv-send"]');
    await expect
      .poll(async () => (await asToken(clientToken, 'GET', `/api/conversations/${convId}/messages`)).body.publications?.map((m: any) => m.payload?.text) ?? [], { timeout: 10_000 })
      .toContain('您好郑先生，稍后给您发一份定投方案。');

    // 5. The broker's recommendation form lists the client at C2; the admin re-grades it to C4.
    await broker.page.goto(`${suite.web.base}/recommendations/sent`);
    const level = broker.page.locator(`label:has([data-testid="rec-client"][data-client-id="${clients[0]}"]) [data-testid="rec-client-level"]`);
    await expect.poll(() => level.textContent()).toBe('C2');

    await page.goto(`${suite.web.base}/admin/clients/${clients[0]}`);
    await page.waitForSelector('[data-testid="profile-form"]');
    await page.selectOption('[data-testid="profile-risk"]', 'C4');
    await page.click('[data-testid="profile-save"]');
    const change = page.locator('[data-testid="profile-change"][data-field="riskLevel"]');
    await change.waitFor();
    expect(await change.getAttribute('data-before')).toBe('C2');
    expect(await change.getAttribute('data-after')).toBe('C4');
    expect(await change.textContent()).toContain('C2 谨慎型');
    expect(await change.textContent()).toContain('C4 积极型');
    await expectAccessible(page, 'client profile after a re-grade');
    expect((await suite.web.rest('admin', 'GET', `/api/admin/clients/${clients[0]}/profile`)).body.riskLevel).toBe('C4');

    // The broker's form is still open: it shows the new level without a reload.
    await expect.poll(() => level.textContent(), { timeout: 15_000 }).toBe('C4');

    // 6. The admin disables the broker (confirmed in the page): the broker's page drops to the login form.
    await page.goto(`${suite.web.base}/admin/users/${brokerId}`);
    await page.click('[data-testid="user-disable"]');
    await page.waitForSelector('[data-testid="user-disable-confirm-box"]');
    await expectAccessible(page, 'user page asking to confirm');
    const t0 = Date.now();
    await page.click('[data-testid="user-disable-confirm"]');
    await page.waitForSelector('[data-testid="user-detail"][data-active="false"]');
    // The bar: the broker's page drops within a second of the disable taking effect.
    const disabledAt = Date.now();
    await broker.page.waitForSelector('[data-testid="login-input"]', { timeout: 3_000 });
    expect(Date.now() - disabledAt).toBeLessThan(1_000);
    expect(Date.now() - t0).toBeLessThan(2_500);
    expect((await asToken(await tokenOf('ft.client1', PASSWORD), 'GET', '/api/me')).status).toBe(200);
    const gone = await fetch(`${suite.web.base}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ login: 'ft.broker', password: PASSWORD }) });
    expect(gone.status).toBe(401);

    // The team is renamed and moved to a second branch (renamed too); its people move with it.
    await page.click('[data-testid="nav-admin-org"]');
    await page.fill('[data-testid="branch-new-code"]', 'SZNS');
    await page.fill('[data-testid="branch-new-name"]', '深圳南山营业部');
    await page.click('[data-testid="branch-new-submit"]');
    const second = page.locator('[data-testid="branch"]', { has: page.locator('[data-testid="branch-body"][data-code="SZNS"]') });
    await second.waitFor();
    const secondId = (await second.locator('[data-testid="branch-body"]').getAttribute('data-branch-id'))!;
    await second.locator('[data-testid="branch-rename"]').click();
    await second.locator('[data-testid="branch-rename-input"]').fill('深圳南山科技园营业部');
    await second.locator('[data-testid="branch-rename-save"]').click();
    await expect.poll(() => second.locator('.panel__title').textContent()).toContain('深圳南山科技园营业部');
    const row = page.locator(`[data-testid="team-row"][data-team-id="${teamId}"]`);
    await row.locator('[data-testid="team-rename"]').click();
    await row.locator('[data-testid="team-rename-input"]').fill('福田财富二组');
    await row.locator('[data-testid="team-rename-save"]').click();
    await expect.poll(() => row.locator('[data-testid="team-name"]').textContent()).toBe('福田财富二组');
    await row.locator('[data-testid="team-move"]').selectOption(secondId);
    await second.locator(`[data-testid="team-row"][data-team-id="${teamId}"]`).waitFor();
    expect((await suite.web.rest('admin', 'GET', `/api/admin/users/${managerId}`)).body.branchId).toBe(secondId);
    await expectAccessible(page, 'organisation after a move');

    // 7. The archive has every step.
    const kinds = async (person: string) => {
      const r = await suite.web.rest('compliance1', 'GET', `/api/compliance/archive?person=${encodeURIComponent(person)}&limit=200`);
      expect(r.status).toBe(200);
      return new Set<string>(r.body.records.map((x: { kind: string }) => x.kind));
    };
    const ofBroker = await kinds(brokerId);
    for (const k of ['user.create', 'assignment.assign', 'user.disable']) expect(ofBroker, k).toContain(k);
    const ofClient = await kinds(clients[0]);
    for (const k of ['user.create', 'assignment.assign', 'client.profile']) expect(ofClient, k).toContain(k);
    const all = await suite.web.rest('compliance1', 'GET', '/api/compliance/archive?limit=200');
    const allKinds = new Set<string>(all.body.records.map((x: { kind: string }) => x.kind));
    for (const k of ['org.branch.create', 'org.branch.rename', 'org.team.create', 'org.team.manager', 'org.team.move']) expect(allKinds, k).toContain(k);
    const profileRec = all.body.records.find((x: { kind: string; subjects: string[] }) => x.kind === 'client.profile' && x.subjects.includes(clients[0]));
    expect(JSON.stringify(profileRec.body)).toContain('C4');

    expect(admin.problems).toEqual([]);
    expect(broker.problems).toEqual([]);
  }, 180_000);
});
