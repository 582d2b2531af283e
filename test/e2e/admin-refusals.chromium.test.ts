/**
 * The admin console's refusals and scopes in real headless Chromium against an embedded app:
 * - bad input is answered by its code in the page: a login in use (case-insensitive), a weak initial
 *   password (with its reasons), closing a team or a branch that still has people (QIAO_ORG_NOT_EMPTY);
 * - a broker opening /clients sees only its own clients; /admin/users is not offered (not-found view)
 *   and the server refuses it too;
 * - compliance reads the organisation, users and a client profile without the controls that change them;
 * - a manager’s client list;
 * - user paging (English), and a user page: profile, role change, password reset, sign-out, disable, enable.
 * Each view passes the axe check; no console errors.
 */
import { describe, expect, it } from 'vitest';
import { gateChromium } from '../helpers/browser.ts';
import { expectAccessible, webSuite } from '../helpers/web-page.ts';

const hasChromium = gateChromium('the admin console refusal browser tests');

describe.skipIf(!hasChromium)('admin console refusals and scopes in Chromium', () => {
  const suite = webSuite();

  it('shows a login in use, a weak password and a non-empty team or branch by code', async () => {
    const up = await suite.open('admin', '/admin/users');
    const { page } = up;
    await page.waitForSelector('[data-testid="users-table"]');
    const broker1 = (await suite.web.rest('broker1', 'GET', '/api/me')).body;

    // A login in use, in other letters.
    await page.fill('[data-testid="user-new-login"]', 'BROKER1');
    await page.fill('[data-testid="user-new-name"]', '重复');
    await page.selectOption('[data-testid="user-new-role"]', 'research');
    await page.fill('[data-testid="user-new-password"]', 'Lotus-Harbor-7731!');
    await page.click('[data-testid="user-new-submit"]');
    const err = page.locator('[data-testid="user-new-error"]');
    await expect.poll(() => err.getAttribute('data-code')).toBe('QIAO_LOGIN_TAKEN');
    expect(await err.textContent()).toBe('该登录名已被使用');

    // Weak passwords, with their reasons.
    await page.fill('[data-testid="user-new-login"]', 'new.research');
    await page.fill('[data-testid="user-new-password"]', 'Password1234!');
    await page.click('[data-testid="user-new-submit"]');
    await expect.poll(() => err.getAttribute('data-code')).toBe('QIAO_PASSWORD_WEAK');
    const reasons = page.locator('[data-testid="user-new-error-reasons"] li');
    await expect.poll(() => reasons.evaluateAll((els) => els.map((e) => e.getAttribute('data-reason')))).toContain('common');
    await page.fill('[data-testid="user-new-password"]', 'new.research');
    await page.click('[data-testid="user-new-submit"]');
    await expect.poll(() => reasons.evaluateAll((els) => els.map((e) => e.getAttribute('data-reason')))).toEqual(expect.arrayContaining(['contains_login']));
    await page.fill('[data-testid="user-new-password"]', 'abc');
    await page.click('[data-testid="user-new-submit"]');
    await expect.poll(() => reasons.evaluateAll((els) => els.map((e) => e.getAttribute('data-reason')))).toContain('too_short');
    expect(await page.locator('[data-testid="user-new-error-reasons"]').textContent()).toContain('少于 10 个字符');
    await expectAccessible(page, 'users with a refused password');
    expect((await suite.web.rest('admin', 'GET', '/api/admin/users?q=new.research')).body.users).toEqual([]);

    // A broker needs a team: the browser asks for it before anything is sent.
    await page.selectOption('[data-testid="user-new-role"]', 'broker');
    expect(await page.locator('[data-testid="user-new-team"]').evaluate((el: HTMLSelectElement) => el.required && !el.validity.valid)).toBe(true);

    // Closing broker1's team, then its branch: not empty.
    await page.click('[data-testid="nav-admin-org"]');
    const team = page.locator(`[data-testid="team-row"][data-team-id="${broker1.teamId}"]`);
    await team.waitFor();
    await team.locator('[data-testid="team-close"]').click();
    await team.locator('[data-testid="team-close-confirm-box"]').waitFor();
    await expectAccessible(page, 'organisation asking to confirm');
    await team.locator('[data-testid="team-close-cancel"]').click();
    expect(await team.locator('[data-testid="team-close-confirm-box"]').count()).toBe(0);
    await team.locator('[data-testid="team-close"]').click();
    await team.locator('[data-testid="team-close-confirm"]').click();
    await expect.poll(() => team.locator('[data-testid="team-error"]').getAttribute('data-code')).toBe('QIAO_ORG_NOT_EMPTY');
    expect(await team.getAttribute('data-closed')).toBe('false');

    const branch = page.locator('[data-testid="branch"]', { has: page.locator(`[data-testid="branch-body"][data-branch-id="${broker1.branchId}"]`) });
    await branch.locator('[data-testid="branch-close"]').click();
    await branch.locator('[data-testid="branch-close-confirm"]').click();
    await expect.poll(() => branch.locator('[data-testid="branch-error"]').getAttribute('data-code')).toBe('QIAO_ORG_NOT_EMPTY');
    await expectAccessible(page, 'organisation with refusals');

    // A duplicate branch code.
    const code = (await suite.web.rest('admin', 'GET', '/api/admin/org')).body.branches[0].code as string;
    await page.fill('[data-testid="branch-new-code"]', code);
    await page.fill('[data-testid="branch-new-name"]', '重复营业部');
    await page.click('[data-testid="branch-new-submit"]');
    await expect.poll(() => page.locator('[data-testid="branch-new-error"]').getAttribute('data-code')).toBe('QIAO_CODE_TAKEN');

    // Nothing was closed.
    const org = (await suite.web.rest('admin', 'GET', '/api/admin/org')).body;
    expect(org.branches.find((b: { id: string }) => b.id === broker1.branchId).closedAt).toBeNull();
    expect(up.problems).toEqual([]);
  }, 120_000);

  it('a broker sees only its clients and is not offered the admin pages', async () => {
    const up = await suite.open('broker1', '/clients');
    const { page } = up;
    await page.waitForSelector('[data-testid="clients-table"]');
    await expectAccessible(page, 'broker client list');
    const mine = (await suite.web.rest('broker1', 'GET', '/api/clients?limit=200')).body.clients.map((c: { id: string }) => c.id).sort();
    const all = (await suite.web.rest('admin', 'GET', '/api/clients?limit=200')).body.clients.map((c: { id: string }) => c.id);
    expect(mine.length).toBeGreaterThan(0);
    expect(mine.length).toBeLessThan(all.length);
    const shown = (await page.locator('[data-testid="client-row"]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-client-id')))).sort();
    expect(shown).toEqual(mine);
    // No broker or branch filter for a broker, no profile links.
    expect(await page.locator('[data-testid="client-broker-filter"]').count()).toBe(0);
    expect(await page.locator('[data-testid="client-link"]').count()).toBe(0);

    // Search and a risk filter narrow the list.
    const client2 = (await suite.web.rest('client2', 'GET', '/api/me')).body;
    await page.selectOption('[data-testid="client-risk-filter"]', 'C4');
    await page.click('[data-testid="client-search-submit"]');
    // Wait for the filtered answer itself: every row shown is C4, and there is at least one.
    await expect
      .poll(() => page.locator('[data-testid="client-row"]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-risk'))))
      .toSatisfy((risks: (string | null)[]) => risks.length > 0 && risks.every((r) => r === 'C4'));
    expect(await page.locator('[data-testid="client-row"]:not([data-risk="C4"])').count()).toBe(0);
    await page.selectOption('[data-testid="client-risk-filter"]', '');
    await page.fill('[data-testid="client-q"]', client2.displayName);
    await page.click('[data-testid="client-search-submit"]');
    await expect.poll(() => page.locator('[data-testid="client-row"]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-client-id')))).toEqual([client2.id]);
    await page.fill('[data-testid="client-q"]', 'nobody-like-this');
    await page.click('[data-testid="client-search-submit"]');
    await page.waitForSelector('[data-testid="clients-empty"]');

    // The admin pages: not in the navigation, the not-found view, refused by the server.
    expect(await page.locator('[data-testid="nav-admin-users"]').count()).toBe(0);
    await page.goto(`${suite.web.base}/admin/users`);
    await page.waitForSelector('[data-testid="not-found"]');
    await expectAccessible(page, 'not found for a broker');
    const r = await suite.web.rest('broker1', 'GET', '/api/admin/users');
    expect(r.status).toBe(403);
    expect(r.body.error.code).toBe('QIAO_FORBIDDEN');
    expect(up.problems).toEqual([]);
  }, 90_000);

  it('compliance reads the organisation, users and a client profile; a manager lists its teams’ clients', async () => {
    const client1 = (await suite.web.rest('client1', 'GET', '/api/me')).body;
    const up = await suite.open('compliance1', '/admin/org');
    const { page } = up;
    await page.waitForSelector('[data-testid="team-row"]');
    expect(await page.locator('[data-testid="branch-new"]').count()).toBe(0);
    expect(await page.locator('[data-testid="team-close"]').count()).toBe(0);
    await expectAccessible(page, 'organisation, read only');

    await page.click('[data-testid="nav-admin-users"]');
    await page.waitForSelector('[data-testid="users-table"]');
    expect(await page.locator('[data-testid="user-new"]').count()).toBe(0);
    await page.selectOption('[data-testid="user-role-filter"]', 'client');
    await page.click('[data-testid="user-search-submit"]');
    await expect.poll(() => page.locator('[data-testid="user-role"]').evaluateAll((els) => [...new Set(els.map((e) => e.textContent))])).toEqual(['客户']);
    await page.click(`[data-testid="user-row"][data-user-id="${client1.id}"] [data-testid="user-link"]`);
    await page.waitForSelector('[data-testid="user-detail"]');
    expect(await page.locator('[data-testid="user-account"]').count()).toBe(0);
    await expectAccessible(page, 'user page, read only');

    await page.click('[data-testid="user-client-profile"]');
    await page.waitForSelector('[data-testid="profile-form"]');
    expect(await page.inputValue('[data-testid="profile-risk"]')).toBe('C3');
    expect(await page.locator('[data-testid="profile-risk"]').isDisabled()).toBe(true);
    expect(await page.locator('[data-testid="profile-save"]').count()).toBe(0);
    expect(await page.locator('[data-testid="assign-form"]').count()).toBe(0);
    await page.waitForSelector('[data-testid="client-broker"][data-relation="primary"]');
    await expectAccessible(page, 'client profile, read only');

    await page.click('[data-testid="nav-clients"]');
    await page.waitForSelector('[data-testid="clients-table"]');
    await page.fill('[data-testid="client-expiring"]', '0');
    await page.click('[data-testid="client-search-submit"]');
    await page.waitForSelector('[data-testid="clients-table"], [data-testid="clients-empty"]');
    expect(up.problems).toEqual([]);

    const mgr = await suite.open('manager1', '/clients');
    await mgr.page.waitForSelector('[data-testid="clients-table"]');
    const expected = (await suite.web.rest('manager1', 'GET', '/api/clients?limit=200')).body.clients.map((c: { id: string }) => c.id).sort();
    const shown = (await mgr.page.locator('[data-testid="client-row"]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-client-id')))).sort();
    expect(shown).toEqual(expected);
    await expectAccessible(mgr.page, 'manager client list');
    expect(mgr.problems).toEqual([]);
  }, 90_000);
  it('pages users, and on a user page edits the profile and role, resets the password, signs out, disables and re-enables', async () => {
    const PW = 'Lotus-Harbor-7731!';
    for (let i = 1; i <= 26; i++) {
      const r = await suite.web.rest('admin', 'POST', '/api/admin/users', { login: `pg.r${String(i).padStart(2, '0')}`, password: PW, displayName: `研究员${i}`, role: 'research' });
      expect(r.status).toBe(201);
    }
    const login = async (l: string, pw: string) => {
      const r = await fetch(`${suite.web.base}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ login: l, password: pw }) });
      return r.status === 200 ? ((await r.json()) as { token: string }).token : null;
    };
    const me = async (token: string) => {
      const r = await fetch(`${suite.web.base}/api/me`, { headers: { authorization: `Bearer ${token}` } });
      return { status: r.status, code: r.status === 200 ? null : ((await r.json()) as { error: { code: string } }).error.code };
    };

    const up = await suite.open('admin', '/admin/users', 'en');
    const { page } = up;
    await page.waitForSelector('[data-testid="users-table"]');
    expect(await page.locator('#page-title').textContent()).toBe('Users');
    await page.fill('[data-testid="user-q"]', 'pg.r');
    await page.click('[data-testid="user-search-submit"]');
    await expect.poll(() => page.locator('[data-testid="user-row"]').count()).toBe(25);
    await page.click('[data-testid="users-pager-next"]');
    await expect.poll(() => page.locator('[data-testid="user-row"]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-login')))).toEqual(['pg.r26']);
    expect(await page.textContent('[data-testid="users-pager-page"]')).toBe('Page 2');
    expect(await page.locator('[data-testid="users-pager-next"]').isDisabled()).toBe(true);
    await page.click('[data-testid="users-pager-prev"]');
    await expect.poll(() => page.locator('[data-testid="user-row"]').count()).toBe(25);
    await expectAccessible(page, 'users, English, paged');

    await page.click('[data-testid="user-row"][data-login="pg.r01"] [data-testid="user-link"]');
    await page.waitForSelector('[data-testid="user-detail"]');
    const id = (await page.getAttribute('[data-testid="user-detail"]', 'data-user-id'))!;
    await expectAccessible(page, 'user page, English');

    // Profile.
    await page.fill('[data-testid="user-edit-name"]', '林研究员');
    await page.fill('[data-testid="user-edit-phone"]', '+86 138 0000 0000');
    await page.click('[data-testid="user-profile-save"]');
    await expect.poll(async () => (await suite.web.rest('admin', 'GET', `/api/admin/users/${id}`)).body.displayName).toBe('林研究员');
    expect((await suite.web.rest('admin', 'GET', `/api/admin/users/${id}`)).body.phone).toBe('+8613800000000'); // stored normalised (src/domain/phone.ts)

    // Role change: the user's sessions end.
    let token = (await login('pg.r01', PW))!;
    await page.selectOption('[data-testid="user-edit-role"]', 'compliance');
    await page.click('[data-testid="user-role-save"]');
    await page.waitForSelector('[data-testid="user-detail"][data-role="compliance"]');
    expect(await me(token)).toEqual({ status: 401, code: 'QIAO_SESSION_REVOKED' });

    // A new password: a weak one refused with its reasons, then a good one.
    await page.fill('[data-testid="user-password"]', 'pg.r01-pass');
    await page.click('[data-testid="user-password-save"]');
    await expect.poll(() => page.locator('[data-testid="user-password-error"]').getAttribute('data-code')).toBe('QIAO_PASSWORD_WEAK');
    expect(await page.locator('[data-testid="user-password-error-reasons"] li').evaluateAll((els) => els.map((e) => e.getAttribute('data-reason')))).toContain('contains_login');
    expect(await page.locator('[data-testid="user-password-error-reasons"]').textContent()).toContain('Contains the login');
    await page.fill('[data-testid="user-password"]', 'Granite-Willow-5520?');
    await page.click('[data-testid="user-password-save"]');
    await expect.poll(() => login('pg.r01', 'Granite-Willow-5520?').then((x) => x !== null)).toBe(true);
    expect(await page.locator('[data-testid="user-password-error"]').count()).toBe(0);

    // Sign out everywhere (confirmed in the page).
    token = (await login('pg.r01', 'Granite-Willow-5520?'))!;
    await page.click('[data-testid="user-sign-out"]');
    await page.click('[data-testid="user-sign-out-confirm"]');
    await expect.poll(() => me(token)).toEqual({ status: 401, code: 'QIAO_SESSION_REVOKED' });

    // Disable and re-enable.
    await page.click('[data-testid="user-disable"]');
    await page.click('[data-testid="user-disable-confirm"]');
    await page.waitForSelector('[data-testid="user-detail"][data-active="false"]');
    expect(await login('pg.r01', 'Granite-Willow-5520?')).toBeNull();
    await page.click('[data-testid="user-enable"]');
    await page.click('[data-testid="user-enable-confirm"]');
    await page.waitForSelector('[data-testid="user-detail"][data-active="true"]');
    expect(await login('pg.r01', 'Granite-Willow-5520?')).not.toBeNull();
    await expectAccessible(page, 'user page after the changes');

    // The admin cannot disable itself: the button is not offered.
    const adminId = (await suite.web.rest('admin', 'GET', '/api/me')).body.id;
    await page.goto(`${suite.web.base}/admin/users/${adminId}`);
    await page.waitForSelector('[data-testid="user-detail"]');
    expect(await page.locator('[data-testid="user-disable"]').isDisabled()).toBe(true);
    expect(up.problems).toEqual([]);
  }, 120_000);
});
